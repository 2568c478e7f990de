"""A request the tracer does not sample: no tag is built, the trace context still propagates.

Each tracer whose sampling decision is known (jaeger-client, basictracer, the OpenTelemetry
SDK through the shim) is asked for a request whose caller's sampling flag is off, and for one
that its own sampler drops. The URL and redaction functions are counted, not timed: none may
run for a sampled-out request, and all run for a sampled one (so the count can fail).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import opentracing
import pytest
from opentracing import Format
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager
from pyramid_tracing._server import phases as _server_span
from pyramid_tracing._server import tags as _server_tags
from pyramid_tracing._tags import TagPolicy

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
OT_TRACE_ID = 0x1234567890ABCDEF


@dataclass
class Kit:
    """A tracer, the headers of a caller whose trace is not sampled, and readers."""

    tracer: opentracing.Tracer
    unsampled_headers: dict[str, str]
    sampled_headers: dict[str, str]
    #: (trace id, sampled) of an injected carrier.
    read: Callable[[dict[str, str]], tuple[int, bool]]
    #: Whether a span is recorded by the tracer.
    recorded: Callable[[Any], bool]
    #: The tags (attributes) of the finished spans.
    finished: Callable[[], list[dict[str, Any]]]


def _jaeger(sampled: bool = True) -> Kit:
    pytest.importorskip("jaeger_client")
    from jaeger_client import Tracer
    from jaeger_client.reporter import InMemoryReporter
    from jaeger_client.sampler import ConstSampler

    reporter = InMemoryReporter()
    tracer = Tracer(
        service_name="test",
        reporter=reporter,
        sampler=ConstSampler(sampled),
        scope_manager=ScopeManager(),
    )

    def read(carrier: dict[str, str]) -> tuple[int, bool]:
        trace, _, _, flags = carrier["uber-trace-id"].split(":")
        return int(trace, 16), bool(int(flags, 16) & 1)

    def finished() -> list[dict[str, Any]]:
        return [{tag.key: tag.vStr or tag.vLong for tag in s.tags} for s in reporter.get_spans()]

    return Kit(
        tracer,
        {"uber-trace-id": f"{OT_TRACE_ID:x}:{0xABC:x}:0:0"},
        {"uber-trace-id": f"{OT_TRACE_ID:x}:{0xABC:x}:0:1"},
        read,
        lambda span: bool(span.is_sampled()),
        finished,
    )


def _basic(sampled: bool = True) -> Kit:
    pytest.importorskip("basictracer")
    from basictracer import BasicTracer
    from basictracer.recorder import DefaultSampler, InMemoryRecorder, Sampler
    from basictracer.text_propagator import TextPropagator

    class Never(Sampler):  # type: ignore[misc]
        def sampled(self, trace_id: int) -> bool:
            return False

    recorder = InMemoryRecorder()
    tracer = BasicTracer(
        recorder=recorder,
        sampler=DefaultSampler(1) if sampled else Never(),
        scope_manager=ScopeManager(),
    )
    tracer.register_propagator(Format.HTTP_HEADERS, TextPropagator())

    def headers(flag: str) -> dict[str, str]:
        return {
            "ot-tracer-traceid": f"{OT_TRACE_ID:x}",
            "ot-tracer-spanid": "abc",
            "ot-tracer-sampled": flag,
        }

    def read(carrier: dict[str, str]) -> tuple[int, bool]:
        return int(carrier["ot-tracer-traceid"], 16), carrier["ot-tracer-sampled"] == "true"

    return Kit(
        tracer,
        headers("false"),
        headers("true"),
        read,
        lambda span: bool(span.context.sampled),
        # basictracer records every span; its recorders keep the sampled ones.
        lambda: [dict(s.tags) for s in recorder.get_spans() if s.context.sampled],
    )


def _otel(sampled: bool = True, sampler: Any = None) -> Kit:
    pytest.importorskip("opentelemetry.shim.opentracing_shim")
    from opentelemetry.sdk.trace import TracerProvider, sampling
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.shim.opentracing_shim import create_tracer

    exporter = InMemorySpanExporter()
    if sampler is None:
        sampler = sampling.DEFAULT_ON if sampled else sampling.ALWAYS_OFF
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = create_tracer(provider)

    def read(carrier: dict[str, str]) -> tuple[int, bool]:
        _, trace, _, flags = carrier["traceparent"].split("-")
        return int(trace, 16), bool(int(flags, 16) & 1)

    return Kit(
        tracer,
        {"traceparent": f"00-{TRACE_ID:032x}-b7ad6b7169203331-00"},
        {"traceparent": f"00-{TRACE_ID:032x}-b7ad6b7169203331-01"},
        read,
        lambda span: bool(span.unwrap().is_recording()),
        lambda: [dict(s.attributes or {}) for s in exporter.get_finished_spans()],
    )


KITS: dict[str, Callable[..., Kit]] = {"jaeger": _jaeger, "basic": _basic, "otel": _otel}


def _view(request: Any) -> Response:
    """Inject the active span's context and start a child, as an outbound call would."""
    tracer = request.tracing.tracer
    carrier: dict[str, str] = {}
    tracer.inject(tracer.active_span.context, Format.HTTP_HEADERS, carrier)
    with tracer.start_active_span("child") as scope:
        request.environ["test.child"] = scope.span
        child_carrier: dict[str, str] = {}
        tracer.inject(scope.span.context, Format.HTTP_HEADERS, child_carrier)
    request.environ["test.carriers"] = (carrier, child_carrier)
    return Response("ok")


def _app(kit: Kit, **settings: Any) -> TestApp:
    with Configurator(
        settings={
            "tracing.tracer": kit.tracer,
            "tracing.capture_request_headers": "user-agent authorization",
            "tracing.traced_attributes": "path query_string",
            **settings,
        }
    ) as config:
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello/{name}")
        config.add_view(_view, route_name="hello")
        app = config.make_wsgi_app()
    return TestApp(app)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the calls of the tag-building, URL and redaction functions."""
    counts: dict[str, int] = {}

    def counting(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] = counts.get(name, 0) + 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    counting(_server_tags, "start_tags")
    counting(_server_span, "tag_result")
    counting(_server_tags, "url_tag")
    for method in ("url", "query_string", "header", "truncate", "attribute", "mapping"):
        counting(TagPolicy, method)
    return counts


REQUEST = "/hello/world?user=ann&token=secret&page=2"
BROWSER = {"User-Agent": "test/1.0", "Authorization": "Bearer secret"}


def _get(app: TestApp, headers: dict[str, str]) -> Any:
    return app.get(REQUEST, headers={**BROWSER, **headers}, extra_environ={})


@contextlib.contextmanager
def _served(app: TestApp, headers: dict[str, str]) -> Iterator[dict[str, Any]]:
    response = _get(app, headers)
    yield response.request.environ


@pytest.mark.parametrize("name", sorted(KITS))
def test_caller_not_sampled_builds_no_tag_and_propagates(name: str, calls: dict[str, int]) -> None:
    """With the caller's sampling flag off, no tag is built; the context goes on, unsampled."""
    kit = KITS[name]()
    with _served(_app(kit), kit.unsampled_headers) as environ:
        carrier, child_carrier = environ["test.carriers"]
        child = environ["test.child"]
    assert calls == {}
    expected = kit.read({k.lower(): v for k, v in kit.unsampled_headers.items()})[0]
    assert kit.read(carrier) == (expected, False)
    assert kit.read(child_carrier) == (expected, False)
    assert not kit.recorded(child)
    assert kit.finished() == []


@pytest.mark.parametrize("name", sorted(KITS))
def test_sampler_drops_the_trace_builds_no_tag(name: str, calls: dict[str, int]) -> None:
    """A new trace the tracer's own sampler drops: no tag, and an unsampled context."""
    kit = KITS[name](sampled=False)
    with _served(_app(kit), {}) as environ:
        carrier, _ = environ["test.carriers"]
    assert calls == {}
    assert kit.read(carrier)[1] is False
    assert kit.finished() == []


@pytest.mark.parametrize("name", sorted(KITS))
def test_sampled_caller_gets_every_tag(name: str, calls: dict[str, int]) -> None:
    """The counters do count: a sampled request builds its tags, redacted."""
    kit = KITS[name]()
    _get(_app(kit), kit.sampled_headers)
    assert calls["start_tags"] == 1
    assert calls["tag_result"] == 1
    assert calls["url_tag"] == 1
    assert calls["header"] == 2
    server = next(tags for tags in kit.finished() if "http.url" in tags)
    assert server["http.url"] == "http://localhost/hello/world?user=ann&token=[REDACTED]&page=2"
    assert server["http.request.header.authorization"] == "[REDACTED]"
    assert server["http.status_code"] == 200
    assert server["pyramid.route"] == "hello"


@pytest.mark.parametrize("name", ["jaeger", "basic"])
def test_start_hook_forcing_sampling_gets_every_tag(name: str) -> None:
    """A start hook that sets sampling.priority on an unsampled span: it gets all its tags."""
    kit = KITS[name](sampled=False)

    def force(span: Any, request: Any) -> None:
        span.set_tag("sampling.priority", 1)

    app = _app(kit, **{"tracing.start_span_hook": force})
    _get(app, {})
    server = next(tags for tags in kit.finished() if "http.url" in tags)
    assert server["http.url"] == "http://localhost/hello/world?user=ann&token=[REDACTED]&page=2"
    assert server["http.method"] == "GET"
    assert server["component"] == "pyramid"
    assert server["http.status_code"] == 200
    assert server["path"] == "/hello/world"


def test_otel_custom_sampler_sees_the_start_attributes() -> None:
    """A sampler of one's own may read the start attributes: the span starts with them."""
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    seen: list[dict[str, Any]] = []

    class Recording(Sampler):  # type: ignore[misc]
        def should_sample(
            self,
            context: Any,
            trace_id: int,
            name: str,
            kind: Any = None,
            attributes: Any = None,
            *args: Any,
        ) -> Any:
            seen.append(dict(attributes or {}))
            return SamplingResult(Decision.DROP)

        def get_description(self) -> str:
            return "recording"

    kit = _otel(sampler=Recording())
    _get(_app(kit), {})
    assert seen[0]["http.url"] == "http://localhost/hello/world?user=ann&token=[REDACTED]&page=2"
    assert kit.finished() == []


def test_otel_builtin_sampler_span_gets_the_same_attributes_late() -> None:
    """With the SDK's own sampler the span starts bare and gets its attributes in order."""
    kit = _otel()
    _get(_app(kit), {})
    (server,) = (tags for tags in kit.finished() if "http.url" in tags)
    assert list(server)[:4] == ["component", "span.kind", "http.method", "http.url"]


@pytest.mark.parametrize("name", sorted(KITS))
def test_sql_spans_under_an_unsampled_request_carry_no_tags(
    name: str, calls: dict[str, int], tmp_path: Any
) -> None:
    """A statement's span under an unsampled request: unsampled, its statement not tagged."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from pyramid_tracing import sqlalchemy as traced_sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    kit = KITS[name]()
    seen: list[Any] = []

    def query(request: Any) -> Response:
        tracer = request.tracing.tracer
        with engine.connect() as connection:
            original = tracer.start_span

            def spy(*args: Any, **kwargs: Any) -> Any:
                span = original(*args, **kwargs)
                seen.append((span, kwargs.get("tags")))
                return span

            tracer.start_span = spy
            try:
                connection.exec_driver_sql("SELECT 1").all()
            finally:
                del tracer.start_span
        return Response("ok")

    with Configurator(
        settings={"tracing.tracer": kit.tracer, "tracing.instrument": "sqlalchemy"}
    ) as config:
        config.include("pyramid_tracing")
        config.add_route("query", "/query")
        config.add_view(query, route_name="query")
        app = TestApp(config.make_wsgi_app())
    try:
        app.get("/query", headers=kit.unsampled_headers)
    finally:
        traced_sqlalchemy.uninstrument()
        engine.dispose()
    ((span, tags),) = seen
    assert tags is None
    assert not kit.recorded(span)
    assert calls == {}
