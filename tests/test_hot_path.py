"""The hot path's shortcuts give exactly what the WebOb and TagPolicy code they skip would give."""

from __future__ import annotations

from typing import Any

import opentracing
from hypothesis import given, settings
from hypothesis import strategies as st
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.request import Request
from webob.headers import EnvironHeaders
from webtest import TestApp

import pyramid_tracing
from pyramid_tracing._carrier import HeaderCarrier
from pyramid_tracing._settings import DEFAULT_SENSITIVE_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS
from pyramid_tracing._tags import TagPolicy
from pyramid_tracing._tracing import _request_url, request_path

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
    for name in ["host", "HOST", "X-B3-TraceId", "uber-trace-id", "Content-Type", "missing"]:
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
    assert _request_url(request) == request.url
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


def test_url_redaction_shortcut_redacts_sensitive_parameters() -> None:
    """The shortcut still redacts a sensitive parameter, plain or percent-encoded."""
    assert POLICY.url("http://h/p?a=1&token=s3cret&%74oken=x#f") == (
        "http://h/p?a=1&token=[REDACTED]&%74oken=[REDACTED]#f"
    )


def _app(tracer: opentracing.Tracer) -> TestApp:
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
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
