"""The OpenTelemetry backend on its own: without the shim, on the global provider, per process.

These run in subprocesses: each needs a process of its own (no shim importable, a global
tracer provider set before the app, counts of exit hooks and providers).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from tests.helpers.collector import parse_spans, run_collector

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON document last."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**__import__("os").environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


WITHOUT_SHIM = """
import json, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer

# The shim is not installed: every import of it fails.
sys.modules["opentelemetry.shim"] = None
sys.modules["opentelemetry.shim.opentracing_shim"] = None

import requests
import sqlalchemy
import transaction
from pyramid.config import Configurator
from webtest import TestApp
from zope.sqlalchemy import register

from pyramid_tracing import traced, traced_requests_session

class Peer(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass

peer = HTTPServer(("127.0.0.1", 0), Peer)
threading.Thread(target=peer.serve_forever, daemon=True).start()
engine = sqlalchemy.create_engine("sqlite://")
session = traced_requests_session()

@traced
def compute():
    return 42

def view(request):
    seen = {}
    try:
        request.tracing.span
    except ImportError as exc:
        seen["error"] = str(exc)
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1"))
    session.get(f"http://127.0.0.1:{peer.server_port}/")
    seen["value"] = compute()
    return seen

settings = {
    "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
    "tracing.otel.service_name": "noshim",
    "tracing.otel.endpoint": sys.argv[1] if len(sys.argv) > 1 else "{endpoint}",
    "tracing.instrument": "render transaction sqlalchemy",
    "tm.manager_hook": "pyramid_tm.explicit_manager",
}
with Configurator(settings=settings) as config:
    config.include("pyramid_tm")
    config.include("pyramid_tracing")
    config.add_route("work", "/work")
    config.add_view(view, route_name="work", renderer="json")
    app = config.make_wsgi_app()
answer = TestApp(app).get("/work").json
peer.shutdown()
print(json.dumps(answer))
"""


def test_without_the_shim_every_span_kind_reaches_the_collector(tmp_path: Path) -> None:
    """With the shim unimportable, server, render, transaction, SQL, client and @traced spans
    reach a real collector; only the OpenTracing view raises, naming what to install.
    """
    with run_collector(tmp_path) as (url, log):
        answer = _run(WITHOUT_SHIM.replace("{endpoint}", url))
        deadline = time.monotonic() + 10
        spans: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            spans = list(parse_spans(log.read_text(errors="replace")))
            if len(spans) >= 6:
                break
            time.sleep(0.2)
    assert answer["value"] == 42
    error = str(answer["error"])
    assert "needs the OpenTracing shim" in error
    assert "pip install 'pyramid_tracing[otel]'" in error
    names = sorted(str(span["Name"]) for span in spans)
    assert names == sorted(
        ["GET /work", "render json", "transaction commit", "SELECT", "GET", "compute"]
    )
    assert {span["service"] for span in spans} == {"noshim"}


def test_the_global_provider_gets_the_spans() -> None:
    """tracing.otel.provider = global: the provider the process set up before the app gets
    every span, and pyramid_tracing builds no provider of its own.
    """
    answer = _run(
        """
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from pyramid.config import Configurator
        from webtest import TestApp

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        from pyramid_tracing import get_tracing
        from pyramid_tracing.otel import _provider, _shutdown

        settings = {
            "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
            "tracing.otel.provider": "global",
        }
        with Configurator(settings=settings) as config:
            config.include("pyramid_tracing")
            config.add_route("hello", "/hello")
            config.add_view(
                lambda request: {"current": trace.get_current_span().is_recording()},
                route_name="hello",
                renderer="json",
            )
            app = config.make_wsgi_app()
        answer = TestApp(app).get("/hello").json
        spans = exporter.get_finished_spans()
        print(json.dumps({
            "answer": answer,
            "names": [span.name for span in spans],
            "scope": spans[-1].instrumentation_scope.name,
            "same": get_tracing(app.registry).tracer.provider is provider,
            "built": len(_provider._shared) + len(_shutdown._shutdowns),
        }))
        """
    )
    assert answer == {
        "answer": {"current": True},
        "names": ["render json", "GET /hello"],
        "scope": "pyramid_tracing",
        "same": True,
        "built": 0,
    }


def test_a_global_provider_with_an_exporter_key_fails_at_startup() -> None:
    """tracing.otel.provider = global with a key only an own provider reads: both are named."""
    from pyramid.exceptions import ConfigurationError

    from pyramid_tracing import otel

    with pytest.raises(ConfigurationError) as raised:
        otel.tracer_from_settings(
            **{"tracing.otel.provider": "global", "tracing.otel.exporter": "memory"}
        )
    assert str(raised.value) == (
        "Invalid value for setting 'tracing.otel.exporter': 'memory'. With "
        "'tracing.otel.provider' = global the process's tracer and meter providers (set up by "
        "opentelemetry-instrument, a distro or the app) have their exporters, sampler and "
        "resource already: remove this key, or set 'tracing.otel.provider' = own for "
        "pyramid_tracing to build one from these keys."
    )


def test_three_hundred_apps_leave_one_hook_one_provider_and_no_dropped_memory() -> None:
    """300 apps with equal OTLP settings share one tracer provider and one meter provider (two
    shutdowns), one exit hook and one SIGTERM handler (the 299 after the first add no exit
    hook); a dropped memory app's tracer provider and metric reader are freed.
    """
    answer = _run(
        """
        import atexit, gc, json, signal, weakref
        from pyramid.config import Configurator
        from pyramid_tracing import get_tracing
        from pyramid_tracing.otel import _shutdown, metrics_reader

        def app(exporter):
            settings = {
                "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
                "tracing.otel.exporter": exporter,
                "tracing.otel.endpoint": "http://127.0.0.1:9",
            } if exporter == "otlp" else {
                "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
                "tracing.otel.exporter": exporter,
                "tracing.otel.metrics_exporter": exporter,
            }
            with Configurator(settings=settings) as config:
                config.include("pyramid_tracing")
                return config.make_wsgi_app()

        apps = [app("otlp")]
        hooks = atexit._ncallbacks()
        apps += [app("otlp") for _ in range(299)]
        providers = {id(get_tracing(each.registry).tracer.provider) for each in apps}
        memory = app("memory")
        dropped = weakref.ref(get_tracing(memory.registry).tracer.provider)
        dropped_reader = weakref.ref(metrics_reader(get_tracing(memory.registry).tracer))
        del memory
        gc.collect()
        print(json.dumps({
            "providers": len(providers),
            "hooks": atexit._ncallbacks() - hooks,
            "shutdowns": len([each for each in _shutdown._shutdowns if each.alive()]),
            "sigterm": signal.getsignal(signal.SIGTERM) is _shutdown._on_sigterm,
            "dropped_alive": dropped() is not None,
            "dropped_reader_alive": dropped_reader() is not None,
        }))
        """
    )
    assert answer == {
        "providers": 1,
        "hooks": 0,
        "shutdowns": 2,
        "sigterm": True,
        "dropped_alive": False,
        "dropped_reader_alive": False,
    }


def test_a_global_provider_reads_the_sigterm_keys() -> None:
    """flush_on_sigterm and shutdown_timeout are about what pyramid_tracing does at SIGTERM:
    read with provider = global too, validated the same way."""
    from pyramid.exceptions import ConfigurationError

    from pyramid_tracing._otel_config import OtelConfig

    keys = {"tracing.otel.provider": "global"}
    assert OtelConfig.from_settings(keys, {}).flush_on_sigterm is True
    config = OtelConfig.from_settings(
        {**keys, "tracing.otel.flush_on_sigterm": "false", "tracing.otel.shutdown_timeout": "5"},
        {},
    )
    assert (config.provider, config.flush_on_sigterm, config.shutdown_timeout) == (
        "global",
        False,
        5.0,
    )
    with pytest.raises(ConfigurationError) as raised:
        OtelConfig.from_settings({**keys, "tracing.otel.shutdown_timeout": "soon"}, {})
    assert "'tracing.otel.shutdown_timeout': 'soon'" in str(raised.value)
