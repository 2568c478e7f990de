"""examples/client_server: the app runs, and each client view gives one cross-service trace."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from opentracing.mocktracer import MockTracer

from pyramid_tracing import ScopeManager
from tests.helpers.serving import serve

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "client_server" / "app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("client_server_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Pyramid's Configurator looks its caller's module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> Iterator[tuple[str, MockTracer]]:
    tracer = MockTracer(scope_manager=ScopeManager())
    with serve(load_example().make_app(tracer), threads=8) as url:
        yield url, tracer


@pytest.fixture
def running(example: tuple[str, MockTracer]) -> tuple[str, MockTracer]:
    example[1].reset()
    return example


def by_name(tracer: MockTracer) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for span in tracer.finished_spans():
        found.setdefault(span.operation_name, []).append(span)
    return found


@pytest.mark.parametrize("name", ["simple", "log", "childspan"])
def test_client_view_calls_the_server_view_in_one_trace(
    running: tuple[str, MockTracer], name: str
) -> None:
    """/client/<name> → client span → /server/<name>, one trace, parents in order."""
    url, tracer = running
    body = requests.get(f"{url}/client/{name}", timeout=10).json()
    assert body["status"] == 200
    spans = by_name(tracer)
    [client_view] = spans[f"client_{name}"]
    [client] = spans["HTTP GET"]
    [server_view] = spans[f"server_{name}"]
    assert client.parent_id == client_view.context.span_id
    assert server_view.parent_id == client.context.span_id
    assert client.tags["http.url"] == f"{url}/server/{name}"
    assert {s.context.trace_id for s in tracer.finished_spans()} == {client_view.context.trace_id}
    if name == "log":
        assert server_view.logs[0].key_values["event"] == "server log"
    if name == "childspan":
        [child] = spans["server.child"]
        assert child.parent_id == server_view.context.span_id


def test_fanout_makes_three_concurrent_children(running: tuple[str, MockTracer]) -> None:
    """/client/fanout: three httpx client spans under the view, each parent of a server span."""
    url, tracer = running
    body = requests.get(f"{url}/client/fanout", timeout=10).json()
    assert body["statuses"] == [200, 200, 200]
    spans = by_name(tracer)
    [view] = spans["client_fanout"]
    clients = spans["HTTP GET"]
    assert len(clients) == 3
    assert {c.parent_id for c in clients} == {view.context.span_id}
    assert {c.tags["component"] for c in clients} == {"httpx"}
    assert {s.parent_id for s in spans["server_simple"]} == {c.context.span_id for c in clients}


def test_spans_view_groups_the_trace(running: tuple[str, MockTracer]) -> None:
    """/spans lists the recorded spans by trace, and is not traced itself."""
    url, _ = running
    requests.get(f"{url}/client/simple", timeout=10)
    traces = requests.get(f"{url}/spans", timeout=10).json()["traces"]
    [trace] = traces.values()
    assert sorted(span["operation"] for span in trace) == [
        "HTTP GET",
        "client_simple",
        "render json",
        "render json",
        "server_simple",
    ]


def test_running_the_script_serves_the_example() -> None:
    """`python examples/client_server/app.py --port 0` prints its URL and serves the views."""
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Listening on http://127.0.0.1:"), line
        base = line.split()[2]
        body = requests.get(f"{base}/client/simple", timeout=10).json()
        assert body["server"] == {"message": "This is a simple traced request."}
        [trace] = requests.get(f"{base}/spans", timeout=10).json()["traces"].values()
        assert len(trace) == 5
    finally:
        process.terminate()
        process.communicate(timeout=10)
