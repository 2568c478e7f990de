"""What the log says when spans cannot be exported: the collector's answer, once an outage."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import opentracing
import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from pyramid_tracing import otel
from tests.helpers.live import refused_url
from tests.helpers.otel_globals import reset_otel_globals
from tests.helpers.production import run_python
from tests.helpers.receiver import receiving

DROPPED = "; spans are dropped until it accepts them (no further warning until then)"


@pytest.fixture(autouse=True)
def _otel_globals() -> Iterator[None]:
    reset_otel_globals()
    yield
    reset_otel_globals()


def export_one(tracer: opentracing.Tracer, name: str) -> None:
    tracer.start_span(name).finish()
    otel.tracer_provider(tracer).force_flush(timeout_millis=5_000)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (404, "answered 404 Not Found"),
        (401, "answered 401 Unauthorized: check tracing.otel.headers"),
        (403, "answered 403 Forbidden: check tracing.otel.headers"),
        (500, "answered 500 Internal Server Error"),
    ],
)
def test_an_http_answer_is_reported_with_its_status_once_per_outage(
    caplog: pytest.LogCaptureFixture, status: int, answer: str
) -> None:
    """A collector that answers an error is named with the status, once, then once when back."""
    with receiving(status) as receiver:
        endpoint = f"http://127.0.0.1:{receiver.server_address[1]}/v1/trace"
        tracer = otel.tracer_from_settings(
            **{"tracing.otel.exporter": "otlp", "tracing.otel.endpoint": endpoint}
        )
        with caplog.at_level(logging.WARNING):
            export_one(tracer, "first")
            export_one(tracer, "second")
            receiver.status = 200
            export_one(tracer, "third")
        otel.tracer_provider(tracer).shutdown()
    assert [names for _, names in receiver.received] == [["first"], ["second"], ["third"]]
    assert warnings_of(caplog) == [
        ("pyramid_tracing", f"the collector at {endpoint} {answer}{DROPPED}"),
        ("pyramid_tracing", f"the collector at {endpoint} accepts spans again"),
    ]


def test_no_answer_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listening (connection refused, retried until the timeout): "is unreachable"."""
    endpoint = refused_url()
    tracer = otel.tracer_from_settings(
        **{
            "tracing.otel.exporter": "otlp",
            "tracing.otel.endpoint": endpoint,
            "tracing.otel.timeout": "0.5",
        }
    )
    with caplog.at_level(logging.WARNING):
        export_one(tracer, "lost")
        export_one(tracer, "lost too")
    otel.tracer_provider(tracer).shutdown()
    assert warnings_of(caplog) == [
        ("pyramid_tracing", f"the collector at {endpoint} is unreachable{DROPPED}")
    ]


@pytest.mark.parametrize(
    "name", ["opentelemetry.exporter.otlp.proto.http._common", "pyramid_tracing"]
)
def test_a_closed_stream_is_skipped_and_the_other_handlers_still_log(
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    name: str,
) -> None:
    """A record whose handler's stream is closed prints no error block, and reaches the others."""
    otel.tracer_from_settings(**{"tracing.otel.exporter": "otlp"})  # imports the exporter
    stream = (tmp_path / "log").open("w")
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)  # left behind on the root, as by a test runner
    try:
        stream.close()
        with caplog.at_level(logging.WARNING):
            logging.getLogger(name).warning("after the streams closed")
    finally:
        logging.getLogger().removeHandler(handler)
    assert capfd.readouterr().err == ""
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        (name, "after the streams closed")
    ]


APP_TESTS = """
import logging, sys
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

SETTINGS = {
    "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
    "tracing.otel.exporter": "otlp",
    "tracing.otel.endpoint": ENDPOINT,
    "tracing.otel.timeout": "0.5",
}

def make():
    with Configurator(settings=SETTINGS) as config:
        config.include("pyramid_tracing")
        config.add_route("home", "/")
        config.add_view(lambda request: Response("ok"), route_name="home")
        return TestApp(config.make_wsgi_app())

def test_served():
    make().get("/")

def test_served_with_logging_to_the_captured_stream():
    # As an app's logging setup in a test does: a handler on pytest's capture of stderr,
    # which pytest closes before the exporter's thread logs at exit.
    logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))
    make().get("/")
"""


def test_a_pytest_run_with_nothing_listening_prints_no_logging_error(tmp_path: Path) -> None:
    """pytest on an app exporting to a dead collector: the exit prints no logging error."""
    tests = tmp_path / "test_app.py"
    tests.write_text(APP_TESTS.replace("ENDPOINT", repr(refused_url())))
    result = run_python("-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests), timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2 passed" in result.stdout
    assert "--- Logging error ---" not in output
