"""Real server processes (pserve, gunicorn, plain Python) serving an INI-configured app.

The app (:func:`main`) gets tracing from its INI file alone; the processes run with the
repository on ``PYTHONPATH`` and are stopped by PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.response import Response

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def order_view(request: Any) -> Response:
    return Response(f"order {request.matchdict['id']}")


def slow_view(request: Any) -> Response:
    time.sleep(0.3)  # concurrent requests then need every worker of a pre-fork server
    return Response(f"slow {os.getpid()}")


def main(global_config: dict[str, str], **settings: str) -> Any:
    """The WSGI app of the INI files these tests write."""
    with Configurator(settings=settings) as config:
        config.add_route("order", "/orders/{id}")
        config.add_view(order_view, route_name="order")
        config.add_route("slow", "/slow")
        config.add_view(slow_view, route_name="slow")
        return config.make_wsgi_app()


def make_app() -> Any:
    """For ``waitress-serve --call``: the app of the INI file named by ``PRODUCTION_INI``."""
    from pyramid.paster import get_app

    return get_app(os.environ["PRODUCTION_INI"], "main")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_ini(path: Path, port: int, **otel: str) -> Path:
    """An INI file for :func:`main` served by waitress on ``port``, with ``tracing.otel.*``."""
    lines = [
        "[app:main]",
        "use = call:tests.helpers.production:main",
        "pyramid.includes = pyramid_tracing",
        "tracing.tracer = pyramid_tracing.otel:tracer_from_settings",
        "tracing.otel.service_name = production-test",
        *(f"tracing.otel.{key} = {value}" for key, value in otel.items()),
        "",
        "[server:main]",
        "use = egg:waitress#main",
        f"listen = 127.0.0.1:{port}",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def gunicorn_command(ini: Path, port: int, *extra: str) -> list[str]:
    """gunicorn serving ``ini`` on 127.0.0.1:``port`` with 2 workers (and ``extra`` options)."""
    return [
        str(BIN / "gunicorn"),
        "--paste",
        str(ini),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        *extra,
    ]


def uwsgi_command(ini: Path, port: int, *extra: str) -> list[str]:
    """uWSGI serving ``ini`` on 127.0.0.1:``port``: a master and 2 workers (the documented
    recipe), stopped by SIGTERM; skips the test where uWSGI is not installed."""
    if not (BIN / "uwsgi").exists():
        pytest.skip("uWSGI is not installed (it is in the dev dependency group)")
    return [
        str(BIN / "uwsgi"),
        "--paste",
        f"config:{ini}",
        "--http-socket",
        f"127.0.0.1:{port}",
        "--master",
        "--processes",
        "2",
        "--enable-threads",
        "--die-on-term",
        "--need-app",
        "--virtualenv",
        sys.prefix,
        *extra,
    ]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_python(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with ``args`` from the repository's root; its output as text."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=environment(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"the server did not listen on 127.0.0.1:{port} within 20 s: {log.read_text()}")


@contextmanager
def running(
    command: list[str], port: int, log: Path, cwd: Path, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait for ``port``; kill it by PID on every path."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**environment(), **env},
        )
    try:
        wait_for_port(process, port, log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
