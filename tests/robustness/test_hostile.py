"""Hostile input: malformed trace headers, odd requests and odd traced attributes.

Whatever the headers, the app's own response comes back, and the server span either continues
the trace the tracer itself extracts from those headers or starts a new root: never a 500 from
tracing. Each tracer gets its own header format (MockTracer ``ot-tracer-*``, jaeger-client
``uber-trace-id``/``uberctx-*``, the OpenTelemetry shim ``traceparent``/``tracestate``/
``baggage``), plus every other format's names.
"""

from __future__ import annotations

import collections
import http.client
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentracing import Format
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from pyramid_tracing import ScopeManager
from pyramid_tracing._tags import TRUNCATED
from tests.helpers.faults import report_figures, scaled
from tests.helpers.serving import serve

jaeger_client = pytest.importorskip("jaeger_client")
otel_shim = pytest.importorskip("opentelemetry.shim.opentracing_shim")

from jaeger_client.reporter import InMemoryReporter  # noqa: E402
from jaeger_client.sampler import ConstSampler  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

pytestmark = pytest.mark.stress

MAX_TAG_LENGTH = 1024
EXAMPLES = scaled(60, 2000)
TRIED: collections.Counter[str] = collections.Counter()

HEADER_NAMES = {
    "mock": ("ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"),
    "jaeger": ("uber-trace-id", "jaeger-debug-id", "jaeger-baggage"),
    "otel": ("traceparent", "tracestate", "baggage"),
}
BAGGAGE_PREFIXES = ("ot-baggage-", "uberctx-")
ALL_NAMES = tuple(name for names in HEADER_NAMES.values() for name in names)


class Traced:
    """One real tracer, with what the tests need to read its finished spans."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "mock":
            self.tracer: Any = MockTracer(scope_manager=ScopeManager())
        elif kind == "jaeger":
            self.reporter = InMemoryReporter()
            self.tracer = jaeger_client.Tracer(
                service_name="hostile",
                reporter=self.reporter,
                sampler=ConstSampler(True),
                scope_manager=ScopeManager(),
            )
        else:
            self.exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.tracer = otel_shim.create_tracer(provider)

    def finished(self) -> list[Any]:
        if self.kind == "mock":
            return list(self.tracer.finished_spans())
        if self.kind == "jaeger":
            return list(self.reporter.get_spans())
        return list(self.exporter.get_finished_spans())

    def reset(self) -> None:
        if self.kind == "mock":
            self.tracer.reset()
        elif self.kind == "jaeger":
            self.reporter.spans.clear()
        else:
            self.exporter.clear()

    def ids(self, span: Any) -> tuple[Any, Any]:
        """The span's trace id and its parent span id (``None`` for a root)."""
        if self.kind == "mock":
            return span.context.trace_id, span.parent_id
        if self.kind == "jaeger":
            return span.trace_id, span.parent_id or None
        parent = span.parent
        return span.context.trace_id, None if parent is None else parent.span_id

    def expected(self, headers: Any) -> tuple[Any, Any] | str:
        """What the server span must be: ``"root"``, ``(trace id, parent id)`` of a continued
        trace, or ``"dropped"`` when the tracer's own rules make it unsampled."""
        try:
            context = self.tracer.extract(Format.HTTP_HEADERS, headers)
        except Exception:
            return "root"
        if context is None:
            return "root"
        if self.kind == "otel":
            inner = context.unwrap()
            if not inner.is_valid:
                return "root"
            # The SDK's default sampler follows the parent's sampled flag.
            return (inner.trace_id, inner.span_id) if inner.trace_flags.sampled else "dropped"
        if self.kind == "jaeger":
            # jaeger-client starts an unsampled root under a baggage-only context, and follows
            # the parent's sampled flag.
            if not context.has_trace:
                return "root" if context.debug_id else "dropped"
            if not context.flags & 1:
                return "dropped"
        return context.trace_id, context.span_id

    def tags(self, span: Any) -> dict[str, Any]:
        if self.kind == "otel":
            return dict(span.attributes)
        if self.kind == "jaeger":
            return {tag.key: tag.vStr or tag.vLong or tag.vBool for tag in span.tags}
        return dict(span.tags)

    def active(self) -> Any:
        return self.tracer.scope_manager.active


class Weird:
    """An object whose str() raises."""

    def __str__(self) -> str:
        raise ValueError("no str for you")


class RaisingMapping(collections.abc.Mapping[str, str]):
    """A mapping that fails when read."""

    def __getitem__(self, key: str) -> str:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("cannot iterate")

    def __len__(self) -> int:
        return 1

    def items(self) -> Any:
        raise RuntimeError("cannot list items")


def _raising(request: Any) -> str:
    raise RuntimeError("property failed")


ODD_ATTRIBUTES: dict[str, Callable[[Any], object]] = {
    "raising": _raising,
    "huge": lambda request: "h" * 10_000_000,
    "unprintable": lambda request: Weird(),
    "binary": lambda request: b"\xff\x00" * 5000,
    "control": lambda request: "\x00\x1b[31m\ud800\u202e",
    "huge_mapping": lambda request: {f"k{i}": "v" * 10 for i in range(100_000)},
    "weird_mapping": lambda request: {"k": Weird()},
    "raising_mapping": lambda request: RaisingMapping(),
}


def echo(request: Any) -> Response:
    return Response(f"echo {request.method} {request.matchdict['name']!r}")


def ok(request: Any) -> Response:
    return Response("ok")


def outer(request: Any) -> Response:
    tracing = request.tracing
    before = tracing.active_span
    tags_before = dict(before.tags)
    sub = request.invoke_subrequest(Request.blank("/echo/inner"), use_tweens=True)
    request.environ["test.outer"] = (before, tags_before, tracing.active_span, dict(before.tags))
    return Response(f"outer {sub.text}")


def build(tracer: Any, *, traced: bool = True, attributes: bool = False) -> Any:
    settings: dict[str, Any] = {"tracing.tracer": tracer}
    if attributes:
        settings["tracing.traced_attributes"] = " ".join(ODD_ATTRIBUTES)
    with Configurator(settings=settings if traced else {}) as config:
        if traced:
            config.include("pyramid_tracing")
        for name, func in ODD_ATTRIBUTES.items():
            config.add_request_method(func, name, property=True)
        config.add_route("ok", "/ok")
        config.add_view(ok, route_name="ok")
        config.add_route("echo", "/echo/{name:.*}")
        config.add_view(echo, route_name="echo")
        config.add_route("cafe", "/caf\u00e9")
        config.add_view(ok, route_name="cafe")
        config.add_route("outer", "/outer")
        config.add_view(outer, route_name="outer")
        return config.make_wsgi_app()


@pytest.fixture(scope="module", params=["mock", "jaeger", "otel"])
def traced(request: pytest.FixtureRequest) -> Traced:
    return Traced(request.param)


@pytest.fixture(scope="module")
def app(traced: Traced) -> Any:
    return build(traced.tracer)


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Iterator[None]:
    yield
    report_figures("hostile", inputs_tried=sum(TRIED.values()), by_tracer=dict(TRIED))


# -- trace headers ---------------------------------------------------------------------------

HEX = "0123456789abcdefABCDEF"
latin1 = st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
hexish = st.text(alphabet=HEX + "-:x ,;=", max_size=80)
structured = st.one_of(
    # traceparent-like, with each field of any length
    st.builds(
        lambda *parts: "-".join(parts),
        *[st.text(alphabet=HEX, max_size=n) for n in (3, 34, 18, 3)],
    ),
    # uber-trace-id-like
    st.builds(
        lambda *parts: ":".join(parts),
        *[st.text(alphabet=HEX, max_size=n) for n in (34, 18, 18, 3)],
    ),
    # baggage / tracestate lists
    st.lists(st.tuples(latin1, latin1).map("=".join), max_size=5).map(",".join),
)
big = st.sampled_from(["a", "0", "f", "\u00e9", "\x00", "%", "-", "=,"]).map(
    lambda char: (char * 65536)[:65536]
)
single = st.one_of(latin1, st.text(max_size=200), hexish, structured, big)
# A header sent several times reaches WSGI as one value joined with ", ".
value = st.one_of(single, st.lists(single, min_size=2, max_size=4).map(", ".join))
name = st.one_of(
    st.sampled_from(ALL_NAMES),
    st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(BAGGAGE_PREFIXES),
        st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=20),
    ),
)
headers_strategy = st.dictionaries(name, value, max_size=8)


def check_request(traced: Traced, app: Any, request: Request, body: bytes = b"ok") -> Any:
    """Serve ``request``; the app's response and one continued-or-root server span."""
    traced.reset()
    response = request.get_response(app)
    assert (response.status_code, response.body) == (200, body)
    spans = traced.finished()
    expected = traced.expected(request.headers)
    if expected == "dropped":
        assert spans == []
        return None
    assert len(spans) == 1
    trace_id, parent = traced.ids(spans[0])
    if expected == "root":
        assert parent is None
    else:
        assert (trace_id, parent) == expected
    assert traced.active() is None
    return spans[0]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(headers=headers_strategy)
def test_any_trace_headers_give_the_app_response(
    traced: Traced, app: Any, headers: dict[str, str]
) -> None:
    """Random, truncated, oversized or non-ASCII trace headers never change the response."""
    TRIED[traced.kind] += 1
    check_request(traced, app, Request.blank("/ok", headers=headers))


def test_valid_headers_continue_the_trace(traced: Traced, app: Any) -> None:
    """Well-formed headers of the tracer's own format are continued, not replaced."""
    carrier: dict[str, str] = {}
    parent = traced.tracer.start_span("client")
    traced.tracer.inject(parent.context, Format.HTTP_HEADERS, carrier)
    assert carrier
    check_request(traced, app, Request.blank("/ok", headers=carrier))
    expected = traced.expected(Request.blank("/ok", headers=carrier).headers)
    assert isinstance(expected, tuple)


def _raw_get(base: str, path: str, headers: list[tuple[str, bytes]]) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("GET", path)
        for header, header_value in headers:
            connection.putheader(header, header_value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_raw_hostile_headers_through_waitress(traced: Traced, app: Any) -> None:
    """Over real HTTP: 1,000 headers, repeated headers, 64 KiB values and raw non-ASCII bytes."""
    rng = random.Random(6)
    cases: list[list[tuple[str, bytes]]] = [
        # 1,000 headers, trace names among them, each repeated
        [
            (rng.choice(ALL_NAMES) if i % 10 == 0 else f"x-h{i}", b"%x" % rng.getrandbits(64))
            for i in range(1000)
        ],
        # the tracer's own names, each sent three times with different values
        [(header, v) for header in HEADER_NAMES[traced.kind] for v in (b"1", b"zz", b"-")],
        # 64 KiB values
        [(header, b"f" * 65536) for header in HEADER_NAMES[traced.kind]],
        # raw bytes that are not ASCII, nor UTF-8
        [(header, bytes(range(128, 256))) for header in ALL_NAMES],
        [("uberctx-k", "\u00e9".encode()), ("ot-baggage-k", b"\xff"), ("baggage", b"\xe9=\xff")],
    ]
    with serve(app, threads=2) as base:
        for headers in cases:
            traced.reset()
            TRIED[traced.kind] += 1
            assert _raw_get(base, "/ok", headers) == (200, b"ok")
            baggage_only = traced.kind == "jaeger" and headers[0][0] == "uberctx-k"
            # jaeger-client leaves a root under a baggage-only context unsampled.
            assert len(traced.finished()) == (0 if baggage_only else 1)


# -- odd requests ----------------------------------------------------------------------------

ODD_REQUESTS: list[tuple[str, str]] = [
    ("GET", "/echo/caf%C3%A9"),
    ("GET", "/echo/%E2%9C%93%20x"),
    ("GET", "/echo/a%2Fb%3F%23"),
    ("GET", "/echo/%00%0a"),
    ("GET", "/echo/%ff%fe"),
    ("GET", "/caf%C3%A9"),
    ("GET", "/echo/" + "p" * 8000),
    ("GET", "/echo/q?" + "q=" + "y" * 100_000 + "&token=s3cret&password=hunter2"),
    ("PUT", "/echo/put"),
    ("DELETE", "/echo/delete"),
    ("PATCH", "/echo/patch"),
    ("OPTIONS", "/echo/options"),
    ("PROPFIND", "/echo/propfind"),
    ("BREW", "/echo/coffee"),
    ("HEAD", "/echo/head"),
    ("GET", "/no/such/route"),
    ("POST", "/no/such/route?token=s3cret"),
    ("M" * 3000, "/no/such/route"),
]


def outcome(app: Any, method: str, path: str) -> tuple[object, ...]:
    """The status and body served, or the type and text of the exception raised to WSGI."""
    try:
        response = Request.blank(path, method=method).get_response(app)
    except Exception as exc:
        return type(exc), str(exc)
    return response.status, response.body


@pytest.fixture(scope="module")
def untraced_app() -> Any:
    return build(None, traced=False)


@pytest.mark.parametrize(("method", "path"), ODD_REQUESTS, ids=lambda v: str(v)[:30])
def test_odd_requests_get_the_app_response(
    traced: Traced, app: Any, untraced_app: Any, method: str, path: str
) -> None:
    """Odd paths, long URLs, unusual methods and unrouted requests: as untraced, one span."""
    expected = outcome(untraced_app, method, path)
    traced.reset()
    TRIED[traced.kind] += 1
    assert outcome(app, method, path) == expected
    spans = traced.finished()
    assert len(spans) == 1
    tags = traced.tags(spans[0])
    cut = MAX_TAG_LENGTH - len(TRUNCATED)
    assert tags["http.method"] == (method if len(method) <= cut else method[:cut] + TRUNCATED)
    for tag in tags.values():
        if isinstance(tag, str):
            assert len(tag) <= MAX_TAG_LENGTH
            assert "s3cret" not in tag
            assert "hunter2" not in tag
    assert traced.active() is None


def test_subrequest_is_a_child_and_leaves_the_outer_span_alone(traced: Traced, app: Any) -> None:
    """``request.invoke_subrequest`` in a traced request: a child span; the outer one intact."""
    if traced.kind != "mock":
        pytest.skip("the outer span's tags are read from MockTracer spans")
    traced.reset()
    request = Request.blank("/outer")
    response = request.get_response(app)
    assert response.text == "outer echo GET 'inner'"
    before, tags_before, active_after, tags_after = request.environ["test.outer"]
    assert active_after is before
    assert tags_after == tags_before
    inner, outer_span = traced.finished()
    assert outer_span is before
    assert outer_span.operation_name == "outer"
    assert inner.operation_name == "echo"
    assert inner.parent_id == outer_span.context.span_id
    assert inner.context.trace_id == outer_span.context.trace_id
    assert outer_span.tags["http.url"] == "http://localhost/outer"
    assert inner.tags["http.url"] == "http://localhost/echo/inner"


def test_odd_traced_attributes_never_break_the_request(traced: Traced) -> None:
    """Attributes that raise, are huge or unprintable are skipped or recorded cut to length."""
    if traced.kind != "mock":
        pytest.skip("MockTracer keeps tag values as given")
    app = build(traced.tracer, attributes=True)
    span = check_request(traced, app, Request.blank("/ok"))
    tags = traced.tags(span)
    assert "raising" not in tags
    assert "raising_mapping" not in tags
    assert tags["huge"] == "h" * (MAX_TAG_LENGTH - len(TRUNCATED)) + TRUNCATED
    assert tags["unprintable"] == "<unprintable Weird: ValueError>"
    assert tags["weird_mapping"] == '{"k": "<unprintable Weird: ValueError>"}'
    assert tags["control"] == "\x00\x1b[31m\ud800\u202e"
    for key in ("binary", "huge_mapping"):
        assert len(tags[key]) == MAX_TAG_LENGTH
        assert tags[key].endswith(TRUNCATED)
