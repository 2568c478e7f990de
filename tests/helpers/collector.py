"""rotel-agent, a real OpenTelemetry collector, run by the tests on free loopback ports."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FIELD = re.compile(r"^\s+(?P<key>[A-Z][A-Za-z ]*?)\s*:(?: (?P<value>.*))?$")
_ATTRIBUTE = re.compile(r"^\s*-> (?P<key>[^:]+): (?P<type>\w+)\((?P<value>.*)\)$")


def rotel_agent() -> Path:
    try:
        import rotel
    except ImportError:
        pytest.skip("rotel is not installed: it ships wheels for Linux x86_64 and macOS only")
    agent = Path(rotel.__file__).with_name("rotel-agent")
    if not agent.is_file():
        pytest.skip(f"the rotel package has no rotel-agent binary at {agent}")
    return agent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            if process.returncode in (126, 127) or "GLIBC" in output:
                pytest.skip(f"rotel-agent cannot run on this platform: {output.strip()}")
            pytest.fail(f"rotel-agent exited with {process.returncode}: {output}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"rotel-agent did not listen on 127.0.0.1:{port} within 15 s")


@contextmanager
def run_collector(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A rotel-agent on free loopback ports; yields its OTLP/HTTP URL and its log file.

    Skips the test where the binary cannot run; the process is stopped on every path.
    """
    with run_collector_urls(tmp_path) as (http_url, _, log):
        yield http_url, log


@contextmanager
def run_collector_urls(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """:func:`run_collector`, yielding its OTLP/HTTP URL, its OTLP/gRPC URL and its log."""
    agent = rotel_agent()
    http_port, grpc_port = _free_port(), _free_port()
    log = tmp_path / "rotel.log"
    command = [
        str(agent),
        "start",
        "--otlp-http-endpoint",
        f"127.0.0.1:{http_port}",
        # Its gRPC receiver defaults to localhost:4317: keep it off shared ports too.
        "--otlp-grpc-endpoint",
        f"127.0.0.1:{grpc_port}",
        "--exporter",
        "blackhole",
        "--debug-log",
        "traces",
        "--debug-log",
        "metrics",
        "--debug-log-verbosity",
        "detailed",
        "--pid-file",
        str(tmp_path / "rotel.pid"),
        "--log-file",
        str(tmp_path / "rotel-agent.log"),
    ]
    with log.open("wb") as output:
        try:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        except OSError as exc:
            pytest.skip(f"rotel-agent cannot run on this platform: {exc}")
    try:
        _wait_for_port(process, http_port, log)
        _wait_for_port(process, grpc_port, log)
        yield f"http://127.0.0.1:{http_port}", f"http://127.0.0.1:{grpc_port}", log
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


T = TypeVar("T")


def wait_for(
    log: Path, parse: Callable[[str], list[T]], count: int, timeout: float = 15.0
) -> list[T]:
    """What ``parse`` finds in rotel's log, once it finds ``count`` items or ``timeout``
    seconds passed (then the test's assertion on the count says what is missing)."""
    deadline = time.monotonic() + timeout
    found: list[T] = []
    while time.monotonic() < deadline:
        found = parse(log.read_text(errors="replace"))
        if len(found) >= count:
            break
        time.sleep(0.05)
    return found


def parse_spans(text: str) -> list[dict[str, Any]]:
    """The spans of rotel's detailed debug log, each with its resource's service name."""
    spans: list[dict[str, Any]] = []
    section = ""
    service = None
    resource: dict[str, str] = {}
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).rstrip()
        stripped = line.strip()
        if stripped == "Resource attributes:":
            section = "resource"
            resource = {}
        elif stripped.startswith("Span #"):
            section = "span"
            spans.append({"service": service, "attributes": {}, "resource": resource})
        elif stripped == "Attributes:":
            section = "attributes" if section in ("span", "attributes") else section
        elif stripped.startswith("ScopeSpans") or stripped.startswith("ResourceSpans"):
            section = ""
        elif match := _ATTRIBUTE.match(line):
            value = match["value"]
            if section == "resource":
                resource[match["key"]] = f"{match['type']}({value})"
                if match["key"] == "service.name":
                    service = value
            elif section == "attributes":
                spans[-1]["attributes"][match["key"]] = f"{match['type']}({value})"
        elif section == "span" and (field := _FIELD.match(line)):
            spans[-1][field["key"]] = (field["value"] or "").strip()
    return spans


def parse_metric_points(text: str) -> list[dict[str, Any]]:
    """The data points of rotel's detailed metrics log: name, attributes, resource, fields.

    Each point has its metric's ``name`` and ``unit``, its ``attributes`` and its resource's
    (``service.instance.id`` tells the processes apart), and the fields rotel prints
    (``Count``, ``Sum``, ``Value``); ``trace_ids`` are its exemplars'.
    """
    points: list[dict[str, Any]] = []
    section = ""
    resource: dict[str, str] = {}
    metric: dict[str, str] = {}
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).rstrip()
        stripped = line.strip()
        if stripped.startswith(("ResourceMetrics #", "ResourceSpans #")):
            section = "other"
        elif stripped == "Resource attributes:" and section == "other":
            section, resource = "resource", {}
        elif stripped.startswith("Metric #"):
            section, metric = "metric", {}
        elif stripped.startswith(("HistogramDataPoints #", "NumberDataPoints #")):
            section = "point"
            points.append({**metric, "attributes": {}, "resource": resource, "trace_ids": []})
        elif stripped == "Data point attributes:" and section == "point":
            section = "point-attributes"
        elif section == "resource" and (match := _ATTRIBUTE.match(line)):
            resource[match["key"]] = match["value"]
        elif section == "metric" and stripped.startswith("-> ") and ": " in stripped:
            key, _, value = stripped[3:].partition(": ")
            metric[key.lower()] = value
        elif section == "point-attributes" and (match := _ATTRIBUTE.match(line)):
            points[-1]["attributes"][match["key"]] = f"{match['type']}({match['value']})"
        elif section.startswith("point") and stripped.startswith("-> Trace ID: "):
            points[-1]["trace_ids"].append(stripped[len("-> Trace ID: ") :])
        elif section.startswith("point") and ": " in stripped and not stripped.startswith("->"):
            key, _, value = stripped.partition(": ")
            points[-1].setdefault(key, value)
    return points


def counted_once(points: list[dict[str, Any]]) -> int:
    """The measurements that histogram ``points`` hold, each export of a series counted once.

    Under cumulative temporality (the SDK's default) every periodic export repeats the series'
    running total with the same ``StartTimestamp``, so only the largest ``Count`` of a series
    (its process, attributes and start) is taken; delta points start anew at each export and
    are each counted.
    """
    latest: dict[tuple[str, tuple[tuple[str, str], ...], str], int] = {}
    for point in points:
        series = (
            point["resource"].get("service.instance.id", ""),
            tuple(sorted(point["attributes"].items())),
            point.get("StartTimestamp", ""),
        )
        latest[series] = max(latest.get(series, 0), int(point["Count"]))
    return sum(latest.values())
