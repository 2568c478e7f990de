"""The hot path's shortcuts give exactly what the WebOb and TagPolicy code they skip would give."""

from __future__ import annotations

from typing import Any

import opentracing
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.request import Request
from webob.headers import EnvironHeaders
from webtest import TestApp

import pyramid_tracing
import pyramid_tracing._tracers
from pyramid_tracing._carrier import HeaderCarrier, environ_key
from pyramid_tracing._settings import DEFAULT_SENSITIVE_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS
from pyramid_tracing._tags import TagPolicy
from pyramid_tracing._tracers import (
    context_header_check,
    context_source,
    empty_context_check,
)
from pyramid_tracing._urls import request_path, request_url, url_tag

POLICY = TagPolicy(
    sensitive_headers=DEFAULT_SENSITIVE_HEADERS,
    sensitive_query_params=DEFAULT_SENSITIVE_QUERY_PARAMS,
    max_tag_length=1024,
)

environ_keys = st.one_of(
    st.sampled_from(
        [
            "HTTP_HOST",
            "HTTP_X_B3_TRACEID",
            "HTTP_UBER_TRACE_ID",
            "HTTP_OT_TRACER_SPANID",
            "HTTP_TRACEPARENT",
            "CONTENT_TYPE",
            "CONTENT_LENGTH",
            "HTTP_CONTENT_TYPE",
            "HTTP_",
            "PATH_INFO",
            "wsgi.url_scheme",
        ]
    ),
    st.text(alphabet="HTP_XYZ-abc", min_size=1, max_size=10),
)


def _read(mapping: Any) -> tuple[list[str], list[tuple[str, Any]], int]:
    return list(mapping), list(mapping.items()), len(mapping)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(environ_keys, st.text(max_size=5), max_size=8))
def test_header_carrier_reads_like_environ_headers(environ: dict[str, str]) -> None:
    """Names, order, values and lookups of the extract carrier equal WebOb's request.headers."""
    carrier, headers = HeaderCarrier(environ), EnvironHeaders(environ)
    try:
        expected: Any = _read(headers)
    except KeyError as exc:  # WebOb names some odd keys it then cannot look up
        expected = repr(exc)
    try:
        got: Any = _read(carrier)
    except KeyError as exc:
        got = repr(exc)
    assert got == expected
    assert list(carrier.keys()) == list(headers.keys())
    names = ["host", "HOST", "X-B3-TraceId", "uber-trace-id", "Content-Type", "missing"]
    for name in [*names, "CONTENT_TYPE", "content-length", "Content_Length", "x_b3_traceid"]:
        assert carrier.get(name) == headers.get(name)
        assert (name in carrier) == (name in headers)


path_text = st.text(alphabet="abZ09/_.-~!$&'()*+,;=:@% é#?\x80", max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    path=path_text,
    script_name=st.sampled_from(["", "/app", "/a b", "/é"]),
    query=st.sampled_from(["", "a=1", "token=x&b=%20"]),
    scheme=st.sampled_from(["http", "https"]),
    host=st.sampled_from([None, "h", "h:80", "h:443", "[::1]:8080"]),
)
def test_request_url_and_path_equal_webob(
    path: str, script_name: str, query: str, scheme: str, host: str | None
) -> None:
    """The URL and path computed for tags and exclusions are request.url and request.path."""
    environ = Request.blank("/").environ
    environ["PATH_INFO"] = ("/" + path).encode("utf-8").decode("latin-1")
    environ["SCRIPT_NAME"] = script_name.encode("utf-8").decode("latin-1")
    environ["QUERY_STRING"] = query
    environ["wsgi.url_scheme"] = scheme
    if host is None:
        environ.pop("HTTP_HOST", None)
    else:
        environ["HTTP_HOST"] = host
    request = Request(environ)
    assert request_url(request) == request.url
    assert request_path(request) == request.path


def _full_url_parse(url: str) -> str:
    """TagPolicy.url on a URL that takes its full parse (an "@" forces it), minus that "@"."""
    return POLICY.url(url + "#@").removesuffix("#@")


url_parts = st.sampled_from(
    ["http", "://", "h", "/", "?", "#", "=", "&", "token", "%74oken", "+", "Token", " token", "a"]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(url_parts, max_size=9).map("".join))
def test_url_redaction_shortcut_equals_the_full_parse(url: str) -> None:
    """A URL without credentials is redacted exactly as the full parse redacts it."""
    assert POLICY.url(url) == _full_url_parse(url)


def _always_split(policy: TagPolicy) -> TagPolicy:
    """A copy of ``policy`` whose query redaction never takes the shortcut."""
    splitting = TagPolicy(
        sensitive_headers=policy.sensitive_headers,
        sensitive_query_params=policy.sensitive_query_params,
        max_tag_length=policy.max_tag_length,
    )
    object.__setattr__(splitting, "_sensitive_in", lambda query: True)
    return splitting


query_words = st.sampled_from(
    ["token", "TOKEN", "id_token", "key", "keyboard", "a", "=", "&", " ", "\t", "\x1c", "\x85"]
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(query_words, max_size=8).map("".join))
@example("a=1&token=x")
@example("q=token&x=1")
@example("&\x1c Key\t=1")
@example("keyboard=1&key")
def test_query_shortcut_equals_splitting(query: str) -> None:
    """The sensitive-parameter search only skips the split when the split changes nothing."""
    assert POLICY.query_string(query) == _always_split(POLICY).query_string(query)


def test_query_shortcut_skips_values_that_look_like_names() -> None:
    """A sensitive name as a value or inside a longer name is not a sensitive parameter."""
    search = POLICY._sensitive_in
    assert search is not None
    assert search("&q=token&sort=signature&keyboard=1") is None
    assert search("&a=1& token =2") is not None


def test_url_redaction_shortcut_redacts_sensitive_parameters() -> None:
    """The shortcut still redacts a sensitive parameter, plain or percent-encoded."""
    assert POLICY.url("http://h/p?a=1&token=s3cret&%74oken=x#f") == (
        "http://h/p?a=1&token=[REDACTED]&%74oken=[REDACTED]#f"
    )


def _app(tracer: opentracing.Tracer) -> TestApp:
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_settings({"tracing.instrument": ""})  # render spans: tests/integration
        config.add_route("hello", "/hello/{name}")
        config.add_view(
            lambda request: {"same": request.tracing is request.tracing},
            route_name="hello",
            renderer="json",
        )
    return TestApp(config.make_wsgi_app())


def test_request_tracing_is_one_object_per_request() -> None:
    """request.tracing is created once per request and kept for its life, as when reified."""
    tracer = MockTracer(scope_manager=pyramid_tracing.ScopeManager())
    assert _app(tracer).get("/hello/a").json == {"same": True}


def test_noop_tracer_request_still_has_its_span() -> None:
    """With OpenTracing's no-op tracer no tag is built, but the request still has a span."""
    seen: list[object] = []
    with Configurator(settings={"tracing.tracer": opentracing.Tracer()}) as config:
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello/{name}")

        def view(request: Any) -> Any:
            seen.append(request.tracing.span)
            seen.append(pyramid_tracing.current_tracing())
            return request.response

        config.add_view(view, route_name="hello")
    TestApp(config.make_wsgi_app()).get("/hello/a")
    span, current = seen
    assert type(span) is opentracing.Span
    assert isinstance(current, pyramid_tracing.Tracing)
    assert pyramid_tracing.current_tracing() is None


def _known_tracers() -> dict[str, opentracing.Tracer]:
    from basictracer import BasicTracer
    from basictracer.text_propagator import TextPropagator
    from jaeger_client import Tracer as JaegerTracer
    from jaeger_client.reporter import NullReporter
    from jaeger_client.sampler import ConstSampler

    basic = BasicTracer(scope_manager=pyramid_tracing.ScopeManager())
    # The text propagator only: the binary one needs basictracer's old protobuf modules.
    basic.register_propagator(opentracing.Format.HTTP_HEADERS, TextPropagator())
    jaeger = JaegerTracer(
        service_name="hot-path",
        reporter=NullReporter(),
        sampler=ConstSampler(True),
        scope_manager=pyramid_tracing.ScopeManager(),
    )
    return {
        "basic": basic,
        "mock": MockTracer(scope_manager=pyramid_tracing.ScopeManager()),
        "jaeger": jaeger,
    }


KNOWN_TRACERS = _known_tracers()

# Environ keys as WSGI servers write them (RFC 3875: "HTTP_" + the name upper-cased, "_" for
# "-"): the tracers' own header names, near misses, and random header names.
_HEADER_NAME_CHARS = "otracebgujd-ckpyhn"
context_keys = st.one_of(
    st.sampled_from(
        [
            "HTTP_HOST",
            "HTTP_OT_TRACER_TRACEID",
            "HTTP_OT_TRACER_SPANID",
            "HTTP_OT_TRACER_SAMPLED",
            "HTTP_OT_BAGGAGE_USER",
            "HTTP_UBER_TRACE_ID",
            "HTTP_UBERCTX_USER",
            "HTTP_UBERCTX_",
            "HTTP_JAEGER_DEBUG_ID",
            "HTTP_JAEGER_BAGGAGE",
            "HTTP_TRACEPARENT",
            "CONTENT_TYPE",
            "wsgi.url_scheme",
        ]
    ),
    st.text(alphabet=_HEADER_NAME_CHARS, min_size=1, max_size=16).map(environ_key),
)
context_values = st.sampled_from(["1", "a", "true", "1:2:0:1", "k=v", "zz"])


@settings(max_examples=400, deadline=None)
@given(
    environ=st.dictionaries(context_keys, context_values, max_size=6),
    name=st.sampled_from(sorted(KNOWN_TRACERS)),
)
def test_skipped_extraction_would_have_found_no_context(
    environ: dict[str, str], name: str
) -> None:
    """When the source skips extraction (``{}``), the tracer's extract finds no context either."""
    tracer = KNOWN_TRACERS[name]
    source = context_source(tracer)
    assert source is not None
    if source(environ) != {}:
        return
    try:
        found = tracer.extract(opentracing.Format.HTTP_HEADERS, HeaderCarrier(environ))
    except (opentracing.SpanContextCorruptedException, ValueError):
        # A corrupt context, or an ID that is not hex (MockTracer): no context either.
        found = None
    assert found is None


def _extracted(tracer: opentracing.Tracer, carrier: Any) -> object:
    """What ``extract`` finds in ``carrier``: the context's fields, or the exception's type."""
    try:
        context = tracer.extract(opentracing.Format.HTTP_HEADERS, carrier)
    except Exception as exc:
        return type(exc)
    if context is None:
        return None
    return {
        name: getattr(context, name, None)
        for name in ("trace_id", "span_id", "parent_id", "flags", "sampled", "debug_id")
    } | {"baggage": dict(context.baggage)}


@settings(max_examples=400, deadline=None)
@given(
    environ=st.dictionaries(context_keys, context_values, max_size=6),
    name=st.sampled_from(sorted(KNOWN_TRACERS)),
)
def test_small_carrier_extracts_what_the_whole_carrier_does(
    environ: dict[str, str], name: str
) -> None:
    """Extracting from only the tracer's own headers finds the same context, or the same error."""
    tracer = KNOWN_TRACERS[name]
    source = context_source(tracer)
    assert source is not None
    small = source(environ)
    if not small:
        return  # None: baggage headers, the whole carrier; {}: skipped (the test above)
    assert _extracted(tracer, small) == _extracted(tracer, HeaderCarrier(environ))


def test_small_carrier_defers_to_the_whole_carrier_for_baggage() -> None:
    """A request with baggage headers is extracted from the whole carrier."""
    environ = {"HTTP_OT_TRACER_TRACEID": "1", "HTTP_OT_TRACER_SPANID": "2"}
    source = context_source(KNOWN_TRACERS["mock"])
    assert source is not None
    assert source(environ) == {"ot-tracer-traceid": "1", "ot-tracer-spanid": "2"}
    assert source({**environ, "HTTP_OT_BAGGAGE_USER": "ann"}) is None
    jaeger = context_source(KNOWN_TRACERS["jaeger"])
    assert jaeger is not None
    assert jaeger({"HTTP_UBER_TRACE_ID": "1:2:0:1"}) == {"uber-trace-id": "1:2:0:1"}
    assert jaeger({"HTTP_UBER_TRACE_ID": "1:2:0:1", "HTTP_UBERCTX_USER": "ann"}) is None


def test_source_lets_context_headers_through() -> None:
    """A request with a tracer's own context headers is extracted; others are skipped."""
    sources = {name: context_source(tracer) for name, tracer in KNOWN_TRACERS.items()}
    basic, mock, jaeger = sources["basic"], sources["mock"], sources["jaeger"]
    assert basic is not None
    assert mock is not None
    assert jaeger is not None
    assert basic({"HTTP_OT_TRACER_TRACEID": "1"}) == {"ot-tracer-traceid": "1"}
    assert mock({"HTTP_OT_TRACER_TRACEID": "1", "HTTP_OT_TRACER_SAMPLED": "true"}) == {
        "ot-tracer-traceid": "1",
        "ot-tracer-sampled": "true",
    }
    # Baggage alone is no OpenTracing reference context: nothing to extract.
    assert mock({"HTTP_OT_BAGGAGE_USER": "x"}) == {}
    assert jaeger({"HTTP_UBER_TRACE_ID": "1:2:0:1"})
    assert jaeger({"HTTP_UBERCTX_USER": "x"}) is None  # baggage: the whole carrier
    assert jaeger({"HTTP_JAEGER_DEBUG_ID": "x"}) == {"jaeger-debug-id": "x"}
    assert jaeger({"HTTP_JAEGER_BAGGAGE": "k=v"}) == {"jaeger-baggage": "k=v"}
    assert jaeger({"HTTP_OT_TRACER_TRACEID": "1", "HTTP_HOST": "h"}) == {}
    assert jaeger({"HTTP_X_UBERCTX_USER": "x"}) == {}
    assert jaeger({1: "x"}) is None  # type: ignore[dict-item]  # a key that is not text
    # The shim has a header check and no source; the other tracers the reverse.
    assert context_source(SHIM) is None
    assert all(context_header_check(tracer) is None for tracer in KNOWN_TRACERS.values())


def test_source_follows_the_configured_jaeger_header_names() -> None:
    """A jaeger codec with other header names is checked for those names, once per change."""
    from jaeger_client import Tracer as JaegerTracer
    from jaeger_client.codecs import TextCodec
    from jaeger_client.reporter import NullReporter
    from jaeger_client.sampler import ConstSampler

    tracer = JaegerTracer(
        service_name="hot-path",
        reporter=NullReporter(),
        sampler=ConstSampler(True),
        scope_manager=pyramid_tracing.ScopeManager(),
    )
    source = context_source(tracer)
    assert source is not None
    assert source({"HTTP_UBER_TRACE_ID": "1:2:0:1"}) == {"uber-trace-id": "1:2:0:1"}
    codec = TextCodec(trace_id_header="x-trace", baggage_header_prefix="x-bag-")
    tracer.codecs[opentracing.Format.HTTP_HEADERS] = codec
    assert source({"HTTP_UBER_TRACE_ID": "1:2:0:1"}) == {}
    assert source({"HTTP_X_TRACE": "1:2:0:1"}) == {"x-trace": "1:2:0:1"}
    assert source({"HTTP_X_BAG_USER": "x"}) is None
    # Renamed in place: the new name is honoured on the next request.
    codec.trace_id_header = "x-other"
    assert source({"HTTP_X_TRACE": "1:2:0:1"}) == {}
    assert source({"HTTP_X_OTHER": "1:2:0:1"}) == {"x-other": "1:2:0:1"}
    # A name that is not ASCII text, or not a header's key: the tracer's own extraction.
    codec.trace_id_header = "x-tr\u00e4ce"
    assert source({"HTTP_X_OTHER": "1:2:0:1"}) is None
    codec.trace_id_header = "content-type"
    assert source({"HTTP_X_OTHER": "1:2:0:1"}) is None


def test_environ_key_is_the_cgi_name() -> None:
    """A header's environ key, as WSGI servers and WebOb spell it."""
    assert environ_key("ot-tracer-traceid") == "HTTP_OT_TRACER_TRACEID"
    assert environ_key("Uber-Trace-Id") == "HTTP_UBER_TRACE_ID"
    assert environ_key("content-type") == "CONTENT_TYPE"
    assert environ_key("Content-Length") == "CONTENT_LENGTH"


def test_source_only_for_known_classes_and_propagators() -> None:
    """Subclasses and other tracers get no source; a propagator registered later disables it."""
    from basictracer import BasicTracer
    from opentracing.mocktracer.propagator import Propagator

    class MyBasic(BasicTracer):  # type: ignore[misc]
        pass

    assert context_source(MyBasic()) is None
    assert context_source(opentracing.Tracer()) is None
    assert context_header_check(MyBasic()) is None

    class AnyHeader(Propagator):  # type: ignore[misc]
        def extract(self, carrier: Any) -> Any:
            return None

    tracer = MockTracer()
    source = context_source(tracer)
    assert source is not None
    assert source({"HTTP_HOST": "h"}) == {}
    tracer.register_propagator(opentracing.Format.HTTP_HEADERS, AnyHeader())
    assert source({"HTTP_HOST": "h"}) is None


def test_extracted_context_still_parents_the_server_span() -> None:
    """With the check in place, a request carrying a MockTracer context is its child."""
    tracer = MockTracer(scope_manager=pyramid_tracing.ScopeManager())
    app = _app(tracer)
    with tracer.start_active_span("client") as scope:
        headers: dict[str, str] = {}
        tracer.inject(scope.span.context, opentracing.Format.HTTP_HEADERS, headers)
    app.get("/hello/a", headers=headers)
    client, server = tracer.finished_spans()
    assert server.parent_id == client.context.span_id
    assert server.context.trace_id == client.context.trace_id
    app.get("/hello/b")
    assert tracer.finished_spans()[-1].parent_id is None


def test_failing_context_source_keeps_the_span(caplog: pytest.LogCaptureFixture) -> None:
    """A context source that raises is an extraction failure: the span starts, as a root."""
    from jaeger_client import Tracer as JaegerTracer
    from jaeger_client.reporter import InMemoryReporter
    from jaeger_client.sampler import ConstSampler

    reporter = InMemoryReporter()
    tracer = JaegerTracer(
        service_name="hot-path",
        reporter=reporter,
        sampler=ConstSampler(True),
        scope_manager=pyramid_tracing.ScopeManager(),
    )
    app = _app(tracer)
    headers = {"uber-trace-id": "1f:2f:0:1"}
    app.get("/hello/a", headers=headers)
    assert reporter.get_spans()[-1].parent_id == 0x2F
    # A codec the source cannot read (an attribute gone): reported, and the span still starts.
    del tracer.codecs[opentracing.Format.HTTP_HEADERS].trace_id_header
    with caplog.at_level("WARNING", logger="pyramid_tracing"):
        response = app.get("/hello/b", headers=headers)
    assert response.status_int == 200
    server = reporter.get_spans()[-1]
    assert server.parent_id is None
    assert server.operation_name == "hello"
    assert "extracting the trace context" in caplog.text


def _backend_spans(native: bool, semconv: str) -> list[Any]:
    """Spans of an app on the OpenTelemetry backend (native) or on the OpenTracing backend over
    the OpenTelemetry shim, for 200, 400, 404, 500, 503, escaped-exception and remote-parent
    requests.
    """
    from pyramid.response import Response

    from pyramid_tracing import otel, traced

    settings: dict[str, Any] = {
        "tracing.semconv": semconv,
        "tracing.traced_attributes": "method",
        "tracing.capture_response_headers": "content-type",
    }
    tracer: Any = otel.tracer_from_settings(**{"tracing.otel.exporter": "memory"})
    exporter = otel.memory_exporter(tracer)
    # The OpenTracing backend over the shim, with the adjustments of the OpenTracing view
    # (span.kind to the kind, error=true to the ERROR status): how OpenTelemetry was traced before.
    settings["tracing.tracer"] = tracer if native else tracer.opentracing_view()

    @traced("greeting")
    def greeting(name: str) -> str:
        if name == "bad":
            raise KeyError(name)
        return f"hi {name}"

    def hello(request: Any) -> Any:
        try:
            return Response(greeting(request.matchdict["name"]))
        except KeyError:
            return Response("no", status=400)

    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello/{name}")
        config.add_view(hello, route_name="hello")
        config.add_route("broken", "/broken")
        config.add_view(lambda request: Response("no", status=503), route_name="broken")
        config.add_route("fails", "/fails")

        def fails(request: Any) -> Any:
            raise ValueError("nope")

        config.add_view(fails, route_name="fails")
        config.add_route("escapes", "/escapes")

        def escapes(request: Any) -> Any:
            raise RuntimeError("boom")

        config.add_view(escapes, route_name="escapes")
        config.add_view(lambda exc, request: Response("handled", status=500), context=ValueError)
    app = TestApp(config.make_wsgi_app())
    app.get("/hello/a", headers={"traceparent": TRACEPARENT})
    app.get("/hello/bad", status=400)
    app.get("/missing", status=404)
    app.get("/broken", status=503)
    app.get("/fails", status=500)
    with pytest.raises(RuntimeError, match="boom"):
        app.get("/escapes")
    spans = exporter.get_finished_spans()
    ids = {span.context.span_id: span.name for span in spans}
    return [
        (
            span.name,
            span.kind,
            dict(span.attributes),
            span.status.status_code,
            span.status.description,
            [(event.name, sorted(event.attributes)) for event in span.events],
            span.context.trace_id if span.parent and span.parent.is_remote else None,
            None if span.parent is None else ids.get(span.parent.span_id, "remote"),
        )
        for span in spans
    ]


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize("semconv", ["opentracing", "stable", "both"])
def test_both_backends_make_the_same_spans(semconv: str) -> None:
    """The OpenTelemetry backend makes the spans the shim made: names, attributes, statuses,
    events, parents, kinds, for every vocabulary.
    """
    native = _backend_spans(True, semconv)
    shim = _backend_spans(False, semconv)
    assert native == shim
    assert [span[0] for span in native] == [
        "greeting",
        "GET /hello/{name}" if semconv != "opentracing" else "hello",
        "greeting",
        "GET /hello/{name}" if semconv != "opentracing" else "hello",
        "GET",
        "GET /broken" if semconv != "opentracing" else "broken",
        "GET /fails" if semconv != "opentracing" else "fails",
        "GET /escapes" if semconv != "opentracing" else "escapes",
    ]
    assert native[1][6] == 0x0AF7651916CD43DD8448EB211C80319C
    assert native[0][7] == native[1][0]
    assert native[1][2]["http.route"] == "/hello/{name}"
    assert native[1][1].name == "SERVER"


def test_shim_empty_context_is_recognised_only_when_empty() -> None:
    """The shim's extracted "no context" starts a new trace; a real one is still the parent."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.shim.opentracing_shim import create_tracer

    provider = TracerProvider()
    tracer = create_tracer(provider)
    is_empty = empty_context_check(tracer)
    assert is_empty is not None
    headers = HeaderCarrier({"HTTP_HOST": "h"})
    assert is_empty(tracer.extract(opentracing.Format.HTTP_HEADERS, headers))
    remote = HeaderCarrier(
        {"HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    )
    assert not is_empty(tracer.extract(opentracing.Format.HTTP_HEADERS, remote))
    assert empty_context_check(MockTracer()) is None
    provider.shutdown()


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
otel_keys = st.sampled_from(
    [
        "HTTP_HOST",
        "HTTP_TRACEPARENT",
        "HTTP_TRACESTATE",
        "HTTP_BAGGAGE",
        "HTTP_traceparent",
        "HTTP_Traceparent",
        "HTTP_UBER_TRACE_ID",
        "HTTP_OT_TRACER_TRACEID",
        "CONTENT_TYPE",
    ]
)
otel_values = st.sampled_from([TRACEPARENT, "k=v", "", "junk", "congo=t61rcWkgMzE"])


def _shim() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.shim.opentracing_shim import create_tracer

    return create_tracer(TracerProvider())


SHIM = _shim()


@settings(max_examples=300, deadline=None)
@given(environ=st.dictionaries(otel_keys, otel_values, max_size=5))
def test_shim_skipped_extraction_would_have_found_no_context(environ: dict[str, str]) -> None:
    """When the header check skips the shim's extraction, extracting finds no context either."""
    may_carry = context_header_check(SHIM)
    is_empty = empty_context_check(SHIM)
    assert may_carry is not None
    assert is_empty is not None
    if not may_carry(environ):
        assert is_empty(SHIM.extract(opentracing.Format.HTTP_HEADERS, HeaderCarrier(environ)))
    if environ.get("HTTP_TRACEPARENT") == TRACEPARENT:
        assert may_carry(environ)


def test_shim_header_check_needs_the_default_propagators() -> None:
    """Another global propagator (B3, Jaeger, a custom one) always gets the full extraction."""
    from opentelemetry import propagate
    from opentelemetry.propagators.textmap import DefaultGetter, TextMapPropagator

    class Custom(TextMapPropagator):  # type: ignore[misc]
        def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
            return context

        def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
            pass

        @property
        def fields(self) -> set[str]:
            return {"x-custom"}

    may_carry = context_header_check(SHIM)
    assert may_carry is not None
    assert not may_carry({"HTTP_HOST": "h"})
    assert may_carry({"HTTP_TRACEPARENT": TRACEPARENT})
    default = propagate.get_global_textmap()
    try:
        propagate.set_global_textmap(Custom())
        assert may_carry({"HTTP_HOST": "h"})
        from opentelemetry.propagators.composite import CompositePropagator
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        propagate.set_global_textmap(TraceContextTextMapPropagator())
        assert not may_carry({"HTTP_HOST": "h"})
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), Custom()])
        )
        assert may_carry({"HTTP_HOST": "h"})
    finally:
        propagate.set_global_textmap(default)
    assert DefaultGetter().get(HeaderCarrier({"HTTP_TRACEPARENT": "t"}), "traceparent") == ["t"]


query_parts = st.sampled_from(["token", "=", "a", "#", "&", "@", "%74oken", "+", "?"])


@settings(max_examples=500, deadline=None)
@given(
    path=st.one_of(st.sampled_from(["hello/world", "", "a@b"]), path_text),
    query=st.lists(query_parts, max_size=6).map("".join),
    host=st.sampled_from([None, "h", "h:80", "u:p@h", "h?x=1", "h#f", "[::1]:8080"]),
)
@example(path="p", query="token=a#b", host="h")
@example(path="p", query="token=a", host="h?x=1")
@example(path="p", query="token=a@b", host="h")
@example(path="p", query="token=a", host="u:p@h")
def test_url_tag_equals_redactingrequest_url(path: str, query: str, host: str | None) -> None:
    """The http.url tag built in one pass is TagPolicy.url of the request's URL."""
    environ = Request.blank("/").environ
    environ["PATH_INFO"] = ("/" + path).encode("utf-8").decode("latin-1")
    environ["QUERY_STRING"] = query
    if host is None:
        environ.pop("HTTP_HOST", None)
    else:
        environ["HTTP_HOST"] = host
    request = Request(environ)
    tracing = pyramid_tracing.Tracing(MockTracer())
    assert url_tag(tracing.policy, request) == tracing.policy.url(request_url(request))
