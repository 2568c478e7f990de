"""pyramid_tracing.otel: the OpenTelemetry tracer factory and its settings."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import opentracing
import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPForbidden
from webtest import TestApp

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from pyramid_tracing import ContextExecutor, Tracing, get_tracing, otel, traced
from tests.helpers.otel_globals import reset_otel_globals
from tests.helpers.receiver import Receiver, receiving

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def _otel_globals() -> Iterator[None]:
    reset_otel_globals()
    yield
    reset_otel_globals()


@pytest.fixture
def made() -> Iterator[list[opentracing.Tracer]]:
    """Tracers made by a test; their providers are shut down after it."""
    tracers: list[opentracing.Tracer] = []
    yield tracers
    for tracer in tracers:
        otel.tracer_provider(tracer).shutdown()


def make(made: list[opentracing.Tracer], **settings: Any) -> opentracing.Tracer:
    tracer = otel.tracer_from_settings(**settings)
    made.append(tracer)
    return tracer


def finished(tracer: opentracing.Tracer) -> dict[str, ReadableSpan]:
    spans = otel.memory_exporter(tracer).get_finished_spans()
    return {span.name: span for span in spans}


def parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def build(settings: dict[str, Any], view: Any) -> tuple[TestApp, opentracing.Tracer]:
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_settings({"tracing.instrument": ""})  # render spans: tests/integration
        config.add_route("work", "/work")
        config.add_view(view, route_name="work", renderer="json")
        app = config.make_wsgi_app()
    return TestApp(app), get_tracing(app.registry).tracer


MEMORY = {
    "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
    "tracing.otel.exporter": "memory",
    "tracing.otel.service_name": "shop",
    # These tests pin the OpenTracing tags (test_semconv.py covers the stable default).
    "tracing.semconv": "opentracing",
}


# -- spans in a Pyramid app -------------------------------------------------------------------


def test_native_otel_span_in_a_view_is_a_child_of_the_server_span() -> None:
    """A span started with the OpenTelemetry API in a view nests under the request's span."""
    seen: dict[str, object] = {}

    def view(request: Any) -> dict[str, str]:
        # OpenTelemetry's current span is the request's span, SDK attributes and all.
        seen["http.method"] = trace.get_current_span().attributes["http.method"]
        provider = otel.tracer_provider(request.tracing.tracer)
        native = trace.get_tracer("shop.db", tracer_provider=provider)
        with native.start_as_current_span("SELECT items"):
            pass
        return {}

    app, tracer = build(MEMORY, view)
    app.get("/work")
    spans = finished(tracer)
    assert seen == {"http.method": "GET"}
    assert set(spans) == {"work", "SELECT items"}
    assert parent_id(spans["SELECT items"]) == span_id(spans["work"])
    assert trace_id(spans["SELECT items"]) == trace_id(spans["work"])
    assert spans["work"].resource.attributes["service.name"] == "shop"
    # The span.kind tag becomes the OpenTelemetry span kind; native spans keep their own.
    assert spans["work"].kind is SpanKind.SERVER
    assert spans["SELECT items"].kind is SpanKind.INTERNAL


def test_shim_span_inside_a_native_span_is_its_child() -> None:
    """Inside a native OTel span, request.tracing sees it as active and nests new spans in it."""
    seen: dict[str, object] = {}

    def view(request: Any) -> dict[str, str]:
        native = trace.get_tracer(
            "shop.cache", tracer_provider=otel.tracer_provider(request.tracing.tracer)
        )
        with native.start_as_current_span("cache lookup") as native_span:
            active = request.tracing.active_span
            seen["active"] = active.unwrap() if active is not None else None
            seen["native"] = native_span
            with request.tracing.start_active_span("decode"):
                pass
            # A non-active span made with the OpenTracing API also takes the native parent.
            request.tracing.tracer.start_span("encode").finish()
        seen["after"] = request.tracing.active_span is request.tracing.span
        return {}

    app, tracer = build(MEMORY, view)
    app.get("/work")
    spans = finished(tracer)
    assert seen["active"] is seen["native"]
    assert seen["after"] is True
    assert parent_id(spans["cache lookup"]) == span_id(spans["work"])
    assert parent_id(spans["decode"]) == span_id(spans["cache lookup"])
    assert parent_id(spans["encode"]) == span_id(spans["cache lookup"])


def test_error_tag_sets_the_error_status(caplog: pytest.LogCaptureFixture) -> None:
    """A failed request's span has OpenTelemetry's ERROR status; a 4xx or a success does not."""

    def view(request: Any) -> dict[str, str]:
        if request.params.get("fail") == "boom":
            raise RuntimeError("boom")
        if request.params.get("fail") == "forbidden":
            raise HTTPForbidden()
        with request.tracing.start_active_span("tagged at start", tags={"error": True}):
            pass
        return {}

    app, tracer = build(MEMORY, view)
    app.get("/work")
    app.get("/work", {"fail": "forbidden"}, status=403)
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match=r"^boom$"):
        app.get("/work", {"fail": "boom"})
    # The error log's exception object is kept as text, without OpenTelemetry's warning.
    assert caplog.records == []
    spans = otel.memory_exporter(tracer).get_finished_spans()
    (event,) = spans[-1].events
    assert event.attributes is not None
    assert event.attributes["error.object"] == "boom"
    assert event.attributes["error.kind"] == "RuntimeError"
    statuses = [(span.name, span.status.status_code) for span in spans]
    assert statuses == [
        ("tagged at start", StatusCode.ERROR),
        ("work", StatusCode.UNSET),
        ("work", StatusCode.UNSET),
        ("work", StatusCode.ERROR),
    ]


def test_incoming_traceparent_is_continued() -> None:
    """The server span continues the trace of an incoming W3C traceparent header."""
    app, tracer = build(MEMORY, lambda request: {})
    app.get("/work", headers={"traceparent": TRACEPARENT})
    work = finished(tracer)["work"]
    assert f"{trace_id(work):032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert parent_id(work) == 0xB7AD6B7169203331
    assert work.parent is not None
    assert work.parent.is_remote


def test_concurrent_asyncio_tasks_and_copied_threads_nest_under_the_request() -> None:
    """@traced coroutines gathered in asyncio and a copied-context thread are request children."""

    @traced
    async def fetch(number: int) -> int:
        await asyncio.sleep(0.01)
        return number

    def view(request: Any) -> dict[str, Any]:
        async def fan_out() -> list[int]:
            return list(await asyncio.gather(fetch(1), fetch(2), fetch(3)))

        results = asyncio.run(fan_out())
        seen: dict[str, object] = {}

        def in_thread() -> None:
            seen["active"] = request.tracing.active_span is request.tracing.span

        thread = threading.Thread(target=contextvars.copy_context().run, args=(in_thread,))
        thread.start()
        thread.join()
        bare = threading.Thread(
            target=lambda: seen.setdefault("bare", request.tracing.active_span)
        )
        bare.start()
        bare.join()
        return {"results": results, "copied": seen["active"], "bare": seen["bare"] is None}

    app, tracer = build(MEMORY, view)
    body = app.get("/work").json
    assert body == {"results": [1, 2, 3], "copied": True, "bare": True}
    spans = otel.memory_exporter(tracer).get_finished_spans()
    work = next(span for span in spans if span.name == "work")
    fetches = [span for span in spans if span.name.endswith("fetch")]
    assert len(fetches) == 3
    assert {parent_id(span) for span in fetches} == {span_id(work)}
    assert len({span_id(span) for span in fetches}) == 3


def test_generators_stepped_from_other_tasks_and_pool_threads_nest_under_the_shim(
    made: list[opentracing.Tracer], caplog: pytest.LogCaptureFixture
) -> None:
    """An async generator stepped from several tasks and ContextExecutor work keep their parents.

    Every step attaches and detaches OpenTelemetry's context within one task, so OpenTelemetry
    logs no "Failed to detach context" error.
    """
    tracer = make(made, **{"tracing.otel.exporter": "memory"})
    tracing = Tracing(tracer)

    @traced(tracing=tracing)
    async def numbers() -> AsyncIterator[int]:
        for number in range(2):
            with tracer.start_active_span(f"step {number}"):
                await asyncio.sleep(0)
            yield number

    @traced(tracing=tracing)
    def pooled(number: int) -> bool:
        return tracer.active_span is not None

    async def main() -> list[bool]:
        with tracer.start_active_span("root"):
            generator = numbers()
            for _ in range(2):
                await asyncio.create_task(anext(generator))
            with pytest.raises(StopAsyncIteration):
                await asyncio.create_task(anext(generator))
            with ContextExecutor(max_workers=2) as pool:
                return list(pool.map(pooled, range(2)))

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(main()) == [True, True]
    assert caplog.records == []
    spans = otel.memory_exporter(tracer).get_finished_spans()
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name.rsplit(".", 1)[-1], []).append(span)
    (root,) = by_name["root"]
    (generator_span,) = by_name["numbers"]
    assert parent_id(generator_span) == span_id(root)
    assert [parent_id(span) for span in by_name["step 0"] + by_name["step 1"]] == [
        span_id(generator_span)
    ] * 2
    assert [parent_id(span) for span in by_name["pooled"]] == [span_id(root)] * 2


def test_a_bad_exporter_in_the_app_settings_fails_at_startup() -> None:
    """A bad tracing.otel.exporter stops config.include itself, naming key and value."""
    settings = {**MEMORY, "tracing.otel.exporter": "jaegr"}
    with pytest.raises(ConfigurationError) as info, Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
    # Raised by the include, not by Pyramid's deferred action (which would wrap it).
    assert type(info.value) is ConfigurationError
    assert str(info.value) == (
        "Invalid value for setting 'tracing.otel.exporter': 'jaegr'. "
        "Expected one or more of console, memory, none, otlp, tree."
    )


def test_a_typo_in_the_otel_namespace_is_caught() -> None:
    """A misspelt tracing.otel.* key is rejected with a suggestion."""
    settings = {**MEMORY, "tracing.otel.endpoints": "http://127.0.0.1:4318"}
    with pytest.raises(ConfigurationError) as info, Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
    assert "Unknown setting 'tracing.otel.endpoints' (value 'http://127.0.0.1:4318'). " in str(
        info.value
    )
    assert "Did you mean 'tracing.otel.endpoint'?" in str(info.value)


# -- the factory -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"tracing.otel.exporter": "zipkin"},
            "Invalid value for setting 'tracing.otel.exporter': 'zipkin'. "
            "Expected one or more of console, memory, none, otlp, tree.",
        ),
        (
            {"tracing.otel.exporter": ""},
            "Invalid value for setting 'tracing.otel.exporter': ''. "
            "Expected one or more of console, memory, none, otlp, tree.",
        ),
        (
            {"tracing.otel.exporter": "none memory"},
            "Invalid value for setting 'tracing.otel.exporter': 'none memory'. "
            "'none' cannot be combined with another exporter.",
        ),
        (
            {"tracing.otel.exporter": "otlp", "tracing.otel.endpoint": "collector:4318"},
            "Invalid value for setting 'tracing.otel.endpoint': 'collector:4318'. Expected an "
            "http:// or https:// URL such as http://localhost:4318.",
        ),
        (
            {"tracing.otel.exporter": "memory", "tracing.otel.endpoint": "http://c:4318"},
            "Invalid value for setting 'tracing.otel.endpoint': 'http://c:4318'. It is only "
            "used by the otlp exporter; set 'tracing.otel.exporter' to otlp or remove it.",
        ),
        (
            {"tracing.otel.exporter": "memory", "tracing.otel.service_name": ""},
            "Invalid value for setting 'tracing.otel.service_name': ''. "
            "Expected a non-empty service name.",
        ),
        (
            {"tracing.otel.exporter": "memory", "tracing.otel.service_name": "  "},
            "Invalid value for setting 'tracing.otel.service_name': '  '. "
            "Expected a non-empty service name.",
        ),
    ],
)
def test_bad_settings_name_the_key_and_the_value(settings: dict[str, Any], message: str) -> None:
    """Each invalid tracing.otel.* value raises a ConfigurationError that names it."""
    with pytest.raises(ConfigurationError) as info:
        otel.tracer_from_settings(**settings)
    assert str(info.value) == message


def test_the_first_provider_becomes_the_global_one(made: list[opentracing.Tracer]) -> None:
    """The first factory call installs its provider globally; later ones leave it in place."""
    first = make(made, **{"tracing.otel.exporter": "memory"})
    second = make(made, **{"tracing.otel.exporter": "memory"})
    assert trace.get_tracer_provider() is otel.tracer_provider(first)
    assert otel.tracer_provider(second) is not otel.tracer_provider(first)
    with trace.get_tracer("lib").start_as_current_span("native"):
        pass
    assert [span.name for span in otel.memory_exporter(first).get_finished_spans()] == ["native"]


def test_service_name_defaults_to_the_environment(
    made: list[opentracing.Tracer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without tracing.otel.service_name, OTEL_SERVICE_NAME names the service."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    tracer = make(made, **{"tracing.otel.exporter": "memory"})
    tracer.start_span("x").finish()
    (span,) = otel.memory_exporter(tracer).get_finished_spans()
    assert span.resource.attributes["service.name"] == "from-env"


def test_none_exporter_still_propagates(made: list[opentracing.Tracer]) -> None:
    """With exporter none, spans carry a valid context to inject but are exported nowhere."""
    tracer = make(made, **{"tracing.otel.exporter": "none"})
    headers: dict[str, str] = {}
    with tracer.start_active_span("x") as scope:
        tracer.inject(scope.span.context, opentracing.Format.HTTP_HEADERS, headers)
    assert headers["traceparent"].startswith("00-")
    with pytest.raises(LookupError) as info:
        otel.memory_exporter(tracer)
    assert str(info.value) == (
        f"The tracer {tracer!r} was not created with tracing.otel.exporter = memory."
    )


def test_lookups_reject_a_foreign_tracer() -> None:
    """tracer_provider() of a tracer not made by the factory raises LookupError."""
    tracer = opentracing.Tracer()
    with pytest.raises(LookupError) as info:
        otel.tracer_provider(tracer)
    assert str(info.value) == (
        f"The tracer {tracer!r} was not created by pyramid_tracing.otel.tracer_from_settings."
    )


def test_console_spans_are_flushed_at_process_exit() -> None:
    """A batched span still in the queue is exported when the process exits normally."""
    code = (
        "from pyramid_tracing import otel\n"
        "settings = {'tracing.otel.exporter': 'console', 'tracing.otel.service_name': 'c'}\n"
        "tracer = otel.tracer_from_settings(**settings)\n"
        "tracer.start_span('printed', tags={'answer': 42}).finish()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    span = json.loads(result.stdout)
    assert span["name"] == "printed"
    assert span["attributes"] == {"answer": 42}
    assert span["resource"]["attributes"]["service.name"] == "c"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [
        ("http://127.0.0.1:{port}", "/v1/traces"),
        ("http://127.0.0.1:{port}/", "/v1/traces"),
        ("http://127.0.0.1:{port}/custom/traces", "/custom/traces"),
    ],
)
def test_otlp_endpoint_setting(
    made: list[opentracing.Tracer], receiver: Receiver, endpoint: str, path: str
) -> None:
    """A base URL gets /v1/traces appended; a URL with a path is used as it is."""
    url = endpoint.format(port=receiver.server_address[1])
    tracer = make(made, **{"tracing.otel.exporter": "otlp", "tracing.otel.endpoint": url})
    tracer.start_span("shipped").finish()
    assert otel.tracer_provider(tracer).force_flush()
    assert receiver.received == [(path, ["shipped"])]


def test_otlp_endpoint_defaults_to_the_standard_environment_variable(
    made: list[opentracing.Tracer], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without tracing.otel.endpoint, OTEL_EXPORTER_OTLP_ENDPOINT says where spans go."""
    port = receiver.server_address[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    tracer = make(made, **{"tracing.otel.exporter": "otlp memory"})
    tracer.start_span("shipped").finish()
    assert otel.tracer_provider(tracer).force_flush()
    assert receiver.received == [("/v1/traces", ["shipped"])]
    assert [s.name for s in otel.memory_exporter(tracer).get_finished_spans()] == ["shipped"]


def test_import_without_the_extra() -> None:
    """pyramid_tracing imports without OpenTelemetry; pyramid_tracing.otel names the extra."""
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "import pyramid_tracing\n"
        "try:\n"
        "    import pyramid_tracing.otel\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.startswith("pyramid_tracing.otel needs the 'otel' extra (")
    assert result.stdout.rstrip().endswith("pip install 'pyramid_tracing[otel]'")


def test_otlp_is_the_default_exporter(
    made: list[opentracing.Tracer], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without tracing.otel.exporter, spans are exported over OTLP/HTTP."""
    port = receiver.server_address[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{port}/traces")
    tracer = make(made)
    tracer.start_span("by default").finish()
    assert otel.tracer_provider(tracer).force_flush()
    assert receiver.received == [("/traces", ["by default"])]


def test_exporters_may_be_given_as_a_python_list(made: list[opentracing.Tracer]) -> None:
    """Settings made in Python may list the exporters; case and duplicates do not matter."""
    tracer = make(made, **{"tracing.otel.exporter": ["Memory", "memory"]})
    tracer.start_span("once").finish()
    assert [span.name for span in otel.memory_exporter(tracer).get_finished_spans()] == ["once"]


def test_otlp_without_its_exporter_package_names_the_extra() -> None:
    """Asking for otlp without the OTLP/HTTP exporter installed fails with the extra to install."""
    code = (
        "import sys\n"
        "sys.modules['opentelemetry.exporter.otlp.proto.http.trace_exporter'] = None\n"
        "from pyramid_tracing import otel\n"
        "try:\n"
        "    otel.tracer_from_settings(**{'tracing.otel.exporter': 'otlp'})\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.startswith(
        "ConfigurationError Invalid value for setting 'tracing.otel.exporter': 'otlp' needs the "
        "OTLP/HTTP exporter ("
    )
    assert result.stdout.rstrip().endswith("pip install 'pyramid_tracing[otel]'.")
