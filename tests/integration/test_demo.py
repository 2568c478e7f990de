"""`make demo`: the demo script runs end to end and prints each trace as a tree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

from tests.helpers.collector import parse_spans, run_collector

DEMO = Path(__file__).resolve().parents[2] / "demo" / "run.py"
_OTEL_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def run_demo(**extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run the demo with its trees (standard error) merged into its standard output."""
    env = {key: value for key, value in os.environ.items() if key not in _OTEL_VARIABLES}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, str(DEMO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        timeout=60,
    )


def block(output: str, heading: str) -> list[str]:
    """The lines printed under a numbered scenario heading, up to the next blank line."""
    lines = output.splitlines()
    start = lines.index(heading)
    end = lines.index("", start)
    return lines[start + 1 : end]


def shape(lines: list[str]) -> list[str]:
    """Tree lines without offsets, durations and ports: what must not change between runs."""
    return [
        re.sub(
            r"\s+\+\d+\.\d ms\s+\d+\.\d ms",
            " <+ms> <ms>",
            re.sub(r"127\.0\.0\.1:\d+", "HOST", line),
        ).rstrip()
        for line in lines[1:-1]
    ]


def test_demo_prints_each_trace_as_a_tree() -> None:
    """The demo exits 0 and the tree exporter prints the plain, fan-out and failing traces.

    The health check is untraced, and nothing but the demo's lines and the trees is printed
    (no warning).
    """
    result = run_demo()
    out = result.stdout
    assert result.returncode == 0, out

    plain = block(out, "1. a plain call: GET /checkout/42")
    # The backend's log line (TraceFormatter, from backend.ini) carries the trace id.
    log_line, header = plain[0], plain[1]
    assert re.fullmatch(r"trace [0-9a-f]{32}  frontend, backend  11 spans  \d+\.\d ms", header)
    trace = header.split()[1]
    assert re.fullmatch(
        rf"backend log \[trace={trace} span=[0-9a-f]{{16}}\] INFO demo.backend: "
        r"item 42 viewed 1 times",
        log_line,
    )
    tree = [re.sub(r"\s+", " ", line) for line in shape(plain[1:])]
    assert [line.split(" db.query.text=")[0] for line in tree] == [
        " frontend GET /checkout/{id} <+ms> <ms> OK "
        "http.request.header.user-agent=pyramid-tracing-demo http.response.status_code=200",
        " ├─ frontend GET <+ms> <ms> OK url.full=http://HOST/items/42 "
        "http.response.status_code=200",
        " │ └─ backend GET /items/{id} <+ms> <ms> OK http.response.status_code=200",
        " │ ├─ backend load_item <+ms> <ms> OK db.system=sqlite",
        " │ │ └─ backend SELECT <+ms> <ms> OK db.system.name=sqlite",
        " │ ├─ backend cache.set <+ms> <ms> OK cache.key=item:42",
        " │ ├─ backend render jinja2 <+ms> <ms> OK "
        "pyramid.renderer=jinja2 pyramid.template=templates/item.jinja2",
        " │ ├─ backend render json <+ms> <ms> OK pyramid.renderer=json",
        " │ └─ backend transaction commit <+ms> <ms> OK",
        " │ └─ backend UPDATE <+ms> <ms> OK db.system.name=sqlite",
        " └─ frontend render json <+ms> <ms> OK pyramid.renderer=json",
    ]
    assert plain[-3].endswith(" db.query.text='UPDATE items SET views=? WHERE items.id = ?'")
    assert plain[4].startswith("  │  └─ backend  GET /items/{id}")
    assert re.match(r"  frontend  GET /checkout/\{id\} +\+0\.0 ms ", plain[2])
    assert plain[-1] == "  -> 200; checked: one trace, 11 spans in 2 services"

    fan_out = block(out, "2. a concurrent fan-out with httpx in asyncio: GET /compare")
    assert re.fullmatch(r"trace [0-9a-f]{32}  frontend, backend  14 spans  \d+\.\d ms", fan_out[0])
    tree = shape(fan_out)
    assert tree[0].startswith("  frontend  GET /compare")
    clients = [line for line in tree if "frontend  GET <+ms>" in line]
    assert sorted(line.split(" http.response.")[0].rsplit("/", 1)[1] for line in clients) == [
        "apple",
        "pear",
        "plum",
    ]
    assert sum("backend  GET /prices/{fruit}" in line for line in tree) == 3

    failing = block(out, "3. a call that fails in the backend: POST /pay")
    tree = shape(failing)
    assert re.sub(r"\s+", " ", tree[0]).startswith(" frontend POST /pay <+ms> <ms> ERROR")
    assert tree[0].endswith(" error.kind=pyramid.httpexceptions.HTTPBadGateway")
    assert re.sub(r"\s+", " ", tree[1]) == (
        " └─ frontend POST <+ms> <ms> ERROR url.full=http://HOST/payments "
        "http.response.status_code=500"
    )
    assert "backend  POST /payments" in tree[2]
    assert tree[2].endswith(" error.kind=services.PaymentDeclined")

    assert block(out, "4. an excluded health check: GET /health") == [
        "  -> 200; no trace: tracing.exclude_paths excludes it"
    ]
    # No warning, except Pyramid's own about pkg_resources (setuptools >= 81).
    warned = [line for line in out.splitlines() if "Warning" in line]
    assert [line for line in warned if "pkg_resources is deprecated" not in line] == []
    assert out.rstrip().endswith("demo finished: all services stopped.")


def test_demo_also_exports_to_the_otlp_endpoint(tmp_path: Path) -> None:
    """With OTEL_EXPORTER_OTLP_ENDPOINT set, a real collector receives every demo span."""
    with run_collector(tmp_path) as (endpoint, log):
        result = run_demo(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
        assert result.returncode == 0, result.stdout
        assert f"The same spans were exported over OTLP/HTTP to {endpoint}." in result.stdout
        deadline = time.monotonic() + 10
        spans = parse_spans(log.read_text(errors="replace"))
        while len(spans) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
            spans = parse_spans(log.read_text(errors="replace"))
    assert len(spans) == 30
    assert {span["service"] for span in spans} == {"frontend", "backend"}
    names = sorted(span["Name"] for span in spans)
    assert names.count("GET") == 4
    assert {"GET /checkout/{id}", "GET /items/{id}", "cache.set", "POST /payments"} <= set(names)
    assert len({span["Trace ID"] for span in spans}) == 3
    kinds = {(span["Name"].split(" ")[0], span["Kind"]) for span in spans if " " in span["Name"]}
    assert {span["Kind"] for span in spans if span["Name"] in {"GET", "POST"}} == {
        "SPAN_KIND_CLIENT"
    }
    assert kinds == {
        ("GET", "SPAN_KIND_SERVER"),
        ("POST", "SPAN_KIND_SERVER"),
        ("render", "SPAN_KIND_INTERNAL"),
        ("transaction", "SPAN_KIND_INTERNAL"),
    }
    assert {"SELECT", "UPDATE", "transaction commit", "render jinja2"} <= set(names)
