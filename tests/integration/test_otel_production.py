"""Production export with real processes: SIGTERM flushes, a dead collector costs little.

Each test starts a real server (pserve, gunicorn) or a plain Python process with an
INI-configured app, a real collector (rotel-agent) where spans must arrive, and stops the
processes by PID. The batch delay is one minute, so a span only reaches the collector before
the test's deadline if the shutdown path exports it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from tests.helpers.collector import parse_spans
from tests.helpers.production import (
    BIN,
    environment,
    free_port,
    gunicorn_command,
    running,
    uwsgi_command,
    write_ini,
)

REQUESTS = 10


def received(log: Path, count: int, timeout: float = 10.0) -> list[str]:
    """The paths of the server spans rotel logged, once ``count`` arrived or at the deadline."""
    deadline = time.monotonic() + timeout
    urls: list[str] = []
    while time.monotonic() < deadline:
        spans = parse_spans(log.read_text(errors="replace"))
        urls = sorted(span["attributes"].get("url.path", "") for span in spans)
        if len(urls) >= count:
            break
        time.sleep(0.05)
    return urls


def send_requests(port: int) -> list[str]:
    urls = []
    for number in range(REQUESTS):
        url = f"http://127.0.0.1:{port}/orders/{number}"
        assert requests.get(url, timeout=5).text == f"order {number}"
        urls.append(f"Str(/orders/{number})")
    return sorted(urls)


def stop(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """SIGTERM ``process`` by PID; its exit code and how long it took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=20)
    return code, time.monotonic() - started


def test_sigterm_under_pserve_exports_every_finished_span(
    collector: tuple[str, Path], tmp_path: Path
) -> None:
    """pserve (waitress) stopped by SIGTERM exports all spans, then dies of the signal."""
    endpoint, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port, endpoint=endpoint, bsp_schedule_delay="60000")
    with running([str(BIN / "pserve"), str(ini)], port, tmp_path / "pserve.log", tmp_path) as app:
        expected = send_requests(port)
        code, elapsed = stop(app)
    assert code == -signal.SIGTERM, (tmp_path / "pserve.log").read_text()
    assert received(log, REQUESTS) == expected
    assert elapsed < 3, elapsed


def test_sigterm_under_waitress_serve_exports_every_finished_span(
    collector: tuple[str, Path], tmp_path: Path
) -> None:
    """waitress-serve --call (an app factory loading the INI file) flushes on SIGTERM too."""
    endpoint, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port, endpoint=endpoint, bsp_schedule_delay="60000")
    command = [
        str(BIN / "waitress-serve"),
        f"--listen=127.0.0.1:{port}",
        "--call",
        "tests.helpers.production:make_app",
    ]
    output = tmp_path / "waitress.log"
    with running(command, port, output, tmp_path, PRODUCTION_INI=str(ini)) as app:
        expected = send_requests(port)
        code, elapsed = stop(app)
    assert code == -signal.SIGTERM, output.read_text()
    assert received(log, REQUESTS) == expected
    assert elapsed < 3, elapsed


def test_sigterm_flush_can_be_turned_off(collector: tuple[str, Path], tmp_path: Path) -> None:
    """With tracing.otel.flush_on_sigterm = false, SIGTERM kills pserve as before: no span."""
    endpoint, log = collector
    port = free_port()
    ini = write_ini(
        tmp_path / "app.ini",
        port,
        endpoint=endpoint,
        bsp_schedule_delay="60000",
        flush_on_sigterm="false",
    )
    with running([str(BIN / "pserve"), str(ini)], port, tmp_path / "pserve.log", tmp_path) as app:
        send_requests(port)
        code, _ = stop(app)
    assert code == -signal.SIGTERM
    assert received(log, 1, timeout=1.0) == []


@pytest.mark.parametrize(
    "options",
    [["--worker-class", "sync"], ["--worker-class", "gthread", "--threads", "4"], ["--preload"]],
    ids=["sync", "gthread", "preload"],
)
def test_sigterm_under_gunicorn_exports_every_finished_span(
    collector: tuple[str, Path], tmp_path: Path, options: list[str]
) -> None:
    """gunicorn stopped by SIGTERM exports every span of its workers (also with --preload)."""
    endpoint, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port, endpoint=endpoint, bsp_schedule_delay="60000")
    command = gunicorn_command(ini, port, "--graceful-timeout", "10", *options)
    output = tmp_path / "gunicorn.log"
    with running(command, port, output, tmp_path) as app:
        expected = send_requests(port)
        code, _ = stop(app)
    assert code == 0, output.read_text()
    assert received(log, REQUESTS) == expected


DEAD_COLLECTOR_SCRIPT = """
import logging, sys, time
from pyramid.paster import get_app
from webtest import TestApp
# What a test runner does: a handler on a stream that is closed before the process exits.
stream = open(sys.argv[2], "w")
logging.getLogger().addHandler(logging.StreamHandler(stream))
app = TestApp(get_app(sys.argv[1], "main"))
for number in range(50):
    app.get(f"/orders/{number}")
print("requests-done", flush=True)
time.sleep(0.5)  # the worker fails a first batch and starts retrying: the worst case at exit
if sys.argv[3] == "close":
    stream.close()
print("ready-to-exit", flush=True)
"""


@pytest.mark.parametrize(
    ("stream", "queue"),
    [("open", None), ("close", None), ("open", "8")],
    ids=["open", "close", "full-queue"],
)
def test_exit_with_a_dead_collector_is_quick_and_warns_once(
    tmp_path: Path, stream: str, queue: str | None
) -> None:
    """With nothing listening, exit takes under 3 s, with one warning and one loss report.

    When the log stream was closed before the exit (as test runners do), the report is
    dropped without a ``--- Logging error ---`` block. With a queue of 8 spans, most of the 50
    are dropped by the full queue, never handed to the exporter: counted all the same.
    """
    dead = f"http://127.0.0.1:{free_port()}"
    sizes = (
        {} if queue is None else {"bsp_max_queue_size": queue, "bsp_max_export_batch_size": queue}
    )
    # A short batch delay: the export fails while the process still runs, then at exit.
    ini = write_ini(
        tmp_path / "app.ini", free_port(), endpoint=dead, bsp_schedule_delay="50", **sizes
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DEAD_COLLECTOR_SCRIPT,
            str(ini),
            str(tmp_path / "captured.log"),
            stream,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
        cwd=tmp_path,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "requests-done"
    assert process.stdout.readline().strip() == "ready-to-exit"
    started = time.monotonic()
    process.stdout.close()
    stderr = process.stderr.read() if process.stderr else ""
    code = process.wait(timeout=30)
    elapsed = time.monotonic() - started
    assert code == 0, stderr
    assert elapsed <= 3.0, (elapsed, stderr)
    assert stderr == ""  # no "--- Logging error ---", no SDK retry line
    warnings = (tmp_path / "captured.log").read_text().splitlines()
    expected = [
        f"the collector at {dead}/v1/traces is unreachable; spans are dropped until it "
        "accepts them (no further warning until then)",
        f"50 span(s) were not exported to {dead}/v1/traces (the collector was unreachable, "
        "answered with an error, or was too slow at exit)",
    ]
    # With the stream closed, only the warning written before it was closed is there.
    assert warnings == (expected if stream == "open" else expected[:1])


@pytest.mark.parametrize("lazy_apps", [True, False], ids=["lazy-apps", "pre-fork"])
def test_sigterm_under_uwsgi_exports_every_finished_span(
    collector: tuple[str, Path], tmp_path: Path, lazy_apps: bool
) -> None:
    """uWSGI (master, 2 workers, docs/production.md's recipe) stopped by SIGTERM loses no span.

    With ``lazy-apps`` each worker loads the app; without it the app is loaded in the master
    and the workers are forked from it, as gunicorn's ``--preload`` does.
    """
    endpoint, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port, endpoint=endpoint, bsp_schedule_delay="60000")
    command = uwsgi_command(ini, port, *(["--lazy-apps"] if lazy_apps else []))
    output = tmp_path / "uwsgi.log"
    with running(command, port, output, tmp_path) as app:
        # The master binds the socket first: wait until every app is loaded (one per worker
        # with lazy-apps, one in the master otherwise), so that SIGTERM meets no worker still
        # loading the app.
        deadline = time.monotonic() + 20
        while output.read_text(errors="replace").count(") ready in ") < (2 if lazy_apps else 1):
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.05)
        expected = send_requests(port)
        code, _ = stop(app)
    assert code == 0, output.read_text()
    assert received(log, REQUESTS) == expected, output.read_text()
