"""The benchmark variants: each builds what it measures and returns a loop to time.

A variant is a function ``make() -> Bench``. ``Bench.run(n)`` performs ``n`` operations
(requests, spans or calls); ``Bench.reset()`` drops whatever a tracer kept between samples
(MockTracer's finished spans). Everything is built before the clock starts; only ``run`` is
timed. Variants whose optional packages are missing raise :class:`Unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import opentracing
from pyramid.config import Configurator
from pyramid.response import Response
from pyramid.tweens import EXCVIEW
from webob import Request as WebObRequest

HELLO_PATH = "/hello/world"
FAIL_PATH = "/fail/world"
QUERY = "lang=en&page=2"
HEADERS = {
    "Host": "bench.example.com",
    "User-Agent": "pyramid-tracing-bench/1.0",
    "Accept": "text/plain",
    "X-Request-Id": "4f1c5d2e-0b7a-4c55-9a57-4c1e33b0c0de",
}

#: The request shapes: name -> (method, path?query, headers, body). "health" is the request
#: the suite always timed (seven environ headers, a short query, no cookie, no trace context);
#: the others look like traffic. A shape's trace context is the tracer's own (see CONTEXTS).
SHAPES = ("health", "browser", "service", "unsampled", "post")
SHAPE_LABELS = {
    "health": "health check: 4 headers, 2 query parameters, no trace context",
    "browser": "(a) browser: 13 headers with cookies, Authorization and Referer, 5 query "
    "parameters (one sensitive)",
    "service": "(b) service to service: 4 headers + the tracer's own sampled trace context",
    "unsampled": "(c) service to service, the caller's sampling flag off",
    "post": "(d) POST with a 180-byte JSON body, Authorization, no trace context",
}
BROWSER_QUERY = "q=running+shoes&page=2&sort=price&lang=en&token=9f8e7d6c5b4a"
BROWSER_HEADERS = {
    "Host": "shop.example.com",
    "User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9,fr;q=0.8",
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Cookie": (
        "session=7c9e6679-7425-40de-944b-e07fc1f90ae7; csrftoken=Hq2kLm9Xp0vB4nR7tY1wZ3; "
        "_ga=GA1.2.1234567890.1700000000; theme=dark; consent=analytics%3Dno"
    ),
    "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl",
    "Referer": "https://shop.example.com/search?q=shoes",
    "Connection": "keep-alive",
    "Upgrade-Insecure-Requests": "1",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Cache-Control": "max-age=0",
}
SERVICE_QUERY = "page=2"
SERVICE_HEADERS = {
    "Host": "orders.internal",
    "User-Agent": "python-requests/2.32.3",
    "Accept": "application/json",
    "X-Request-Id": "4f1c5d2e-0b7a-4c55-9a57-4c1e33b0c0de",
}
POST_BODY = (
    b'{"order_id": "A-10023", "items": [{"sku": "SHOE-42", "qty": 1, "price": 89.9}, '
    b'{"sku": "SOCK-7", "qty": 3, "price": 4.5}], "currency": "EUR", "note": "leave at door",'
    b' "gift": false}'
)
POST_HEADERS = {
    "Host": "orders.internal",
    "User-Agent": "orders-client/3.1",
    "Accept": "application/json",
    "Content-Type": "application/json",
    "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJl",
}
_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
_SPAN_ID = "b7ad6b7169203331"


def context_headers(tracer: str, sampled: bool) -> dict[str, str]:
    """The trace context a caller using ``tracer`` sends (the no-op tracer: W3C's)."""
    if tracer == "jaeger":
        return {"uber-trace-id": f"{_TRACE_ID[16:]}:{_SPAN_ID}:0:{1 if sampled else 0}"}
    if tracer == "basic":
        return {
            "ot-tracer-traceid": _TRACE_ID[16:],
            "ot-tracer-spanid": _SPAN_ID,
            "ot-tracer-sampled": "true" if sampled else "false",
        }
    if tracer == "mock":
        # MockTracer has no sampling: its context is the same with the flag "off".
        return {"ot-tracer-traceid": _TRACE_ID[16:], "ot-tracer-spanid": _SPAN_ID}
    return {"traceparent": f"00-{_TRACE_ID}-{_SPAN_ID}-{'01' if sampled else '00'}"}


def request_shape(
    shape: str, tracer: str = "otel"
) -> tuple[str, str, dict[str, str], bytes | None]:
    """``(method, path?query, headers, body)`` of ``shape`` for a caller using ``tracer``."""
    if shape == "health":
        return "GET", f"{HELLO_PATH}?{QUERY}", dict(HEADERS), None
    if shape == "browser":
        return "GET", f"{HELLO_PATH}?{BROWSER_QUERY}", dict(BROWSER_HEADERS), None
    if shape in ("service", "unsampled"):
        headers = {**SERVICE_HEADERS, **context_headers(tracer, shape == "service")}
        return "GET", f"{HELLO_PATH}?{SERVICE_QUERY}", headers, None
    if shape == "post":
        return "POST", HELLO_PATH, dict(POST_HEADERS), POST_BODY
    msg = f"unknown request shape {shape!r}; known: {', '.join(SHAPES)}"
    raise ValueError(msg)


#: Tags set by the raw span loop: the seven a server span of the tween ends up with.
RAW_TAGS = (
    ("component", "pyramid"),
    ("span.kind", "server"),
    ("http.method", "GET"),
    ("http.url", "http://bench.example.com/hello/world?lang=en&page=2"),
    ("http.status_code", 200),
    ("pyramid.route", "hello"),
    ("http.route", "/hello/{name}"),
)

FEATURE_SETTINGS = {
    "tracing.traced_attributes": "path method host user_agent query_string",
    "tracing.capture_request_headers": "user-agent accept x-request-id",
    "tracing.exclude_paths": "\n".join(
        [
            r"^/health$",
            r"^/healthz$",
            r"^/ready$",
            r"^/metrics",
            r"^/static/",
            r"^/favicon\.ico$",
            r"^/robots\.txt$",
            r"^/_debug/",
            r"\.map$",
            r"^/admin/ping$",
        ]
    ),
}


class Unavailable(Exception):
    """The variant needs an optional package that is not installed."""


@dataclass
class Bench:
    """What a variant measures: ``run(n)`` does ``n`` operations."""

    run: Callable[[int], None]
    reset: Callable[[], None] = lambda: None
    #: Operations per sample when the runner's default does not fit (slow network calls).
    ops: int | None = None
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for func in self.cleanup:
            func()


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        msg = (
            f"{module} is not installed ({exc}); install the bench dependency group: "
            "pip install --group bench"
        )
        raise Unavailable(msg) from exc


# -- the app -----------------------------------------------------------------------------------


def hello(request: Any) -> Response:
    if request.method == "POST":
        order = request.json_body
        return Response(f"Hello {request.matchdict['name']}: {order['order_id']}")
    return Response(f"Hello {request.matchdict['name']}", content_type="text/plain")


def fail(request: Any) -> Response:
    raise ValueError("the view failed")


def make_app(setup: Callable[[Configurator], None] | None = None, **settings: object) -> Any:
    """The minimal app: ``/hello/{name}`` (and ``/fail/{name}``, whose view raises)."""
    config = Configurator(settings=dict(settings))
    if setup is not None:
        setup(config)
    config.add_route("hello", "/hello/{name}")
    config.add_view(hello, route_name="hello")
    config.add_route("fail", "/fail/{name}")
    config.add_view(fail, route_name="fail")
    return config.make_wsgi_app()


def environ_for(
    path: str = HELLO_PATH, shape: str = "health", tracer: str = "otel"
) -> dict[str, Any]:
    """A prepared WSGI environ for ``GET path?QUERY``, or for a request ``shape``."""
    if shape == "health" or path != HELLO_PATH:
        return dict(WebObRequest.blank(f"{path}?{QUERY}", headers=HEADERS).environ)
    method, url, headers, body = request_shape(shape, tracer)
    request = WebObRequest.blank(url, headers=headers, method=method)
    if body is not None:
        request.body = body
    return dict(request.environ)


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def wsgi_loop(
    app: Any,
    path: str = HELLO_PATH,
    shape: str = "health",
    tracer: str = "otel",
    environ: dict[str, Any] | None = None,
) -> Callable[[int], None]:
    """Call ``app`` ``n`` times as a WSGI app with a fresh copy of one prepared environ.

    A request with a body gets a fresh ``wsgi.input`` each time (as from a server). The
    environ is ``environ_for(path, shape, tracer)`` unless given.
    """
    if environ is None:
        environ = environ_for(path, shape, tracer)
    start_response = _start_response
    body_bytes = environ["wsgi.input"].read() if environ.get("CONTENT_LENGTH") else None

    fresh: Callable[[], dict[str, Any]] = environ.copy
    if body_bytes is not None:
        data = body_bytes

        def fresh() -> dict[str, Any]:
            copy = environ.copy()
            copy["wsgi.input"] = io.BytesIO(data)
            return copy

    def run(n: int) -> None:
        for _ in range(n):
            body = app(fresh(), start_response)
            b"".join(body)
            close = getattr(body, "close", None)
            if close is not None:
                close()

    # Fail now, not in the middle of a sample.
    status: list[str] = []
    b"".join(app(fresh(), lambda s, h, e=None: status.append(s)))
    if not status or not status[0].startswith("200"):
        msg = f"{path} answered {status!r}, not 200"
        raise RuntimeError(msg)
    return run


def error_loop(app: Any) -> Callable[[int], None]:
    """Call ``app`` ``n`` times on the failing view, swallowing the view's exception."""
    environ = environ_for(FAIL_PATH)

    def run(n: int) -> None:
        for _ in range(n):
            with contextlib.suppress(ValueError):
                b"".join(app(environ.copy(), _start_response))

    return run


# -- tracers -----------------------------------------------------------------------------------


@dataclass
class TracerKit:
    tracer: opentracing.Tracer
    reset: Callable[[], None] = lambda: None


def _scope_manager() -> Any:
    import pyramid_tracing

    return pyramid_tracing.ScopeManager()


def tracer_noop() -> TracerKit:
    return TracerKit(opentracing.Tracer())


def tracer_mock() -> TracerKit:
    from opentracing.mocktracer import MockTracer

    tracer = MockTracer(scope_manager=_scope_manager())
    return TracerKit(tracer, tracer.reset)


def tracer_basic() -> TracerKit:
    _require("basictracer")
    from basictracer import BasicTracer  # type: ignore[import-untyped]
    from basictracer.recorder import SpanRecorder  # type: ignore[import-untyped]
    from basictracer.text_propagator import TextPropagator  # type: ignore[import-untyped]

    class NoopRecorder(SpanRecorder):  # type: ignore[misc]
        def record_span(self, span: Any) -> None:
            pass

    tracer = BasicTracer(recorder=NoopRecorder(), scope_manager=_scope_manager())
    # The text propagators only: the binary one needs basictracer's old protobuf modules.
    tracer.register_propagator(opentracing.Format.TEXT_MAP, TextPropagator())
    tracer.register_propagator(opentracing.Format.HTTP_HEADERS, TextPropagator())
    return TracerKit(tracer)


def tracer_jaeger() -> TracerKit:
    _require("jaeger_client")
    from jaeger_client.reporter import NullReporter
    from jaeger_client.sampler import ConstSampler
    from jaeger_client.tracer import Tracer

    tracer = Tracer(
        service_name="bench",
        reporter=NullReporter(),
        sampler=ConstSampler(True),
        scope_manager=_scope_manager(),
    )
    return TracerKit(tracer)


def otel_provider(ratio: float | None = None, sampler: Any = None) -> Any:
    """An OpenTelemetry SDK tracer provider whose span processor drops every span.

    With ``ratio``, new traces are sampled at that ratio (``ParentBased(TraceIdRatioBased)``);
    with ``sampler``, by that SDK sampler (``ALWAYS_OFF``).
    """
    _require("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    class DropSpans(SpanProcessor):
        def on_end(self, span: Any) -> None:
            pass

    if ratio is not None:
        sampler = ParentBasedTraceIdRatio(ratio)
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(DropSpans())
    return provider


def tracer_otel() -> TracerKit:
    _require("opentelemetry.shim.opentracing_shim")
    from opentelemetry.shim.opentracing_shim import create_tracer

    return TracerKit(create_tracer(otel_provider()))


def tracer_otel_10() -> TracerKit:
    """The OpenTelemetry shim sampling 1 trace in 10 (for the real-server run)."""
    _require("opentelemetry.shim.opentracing_shim")
    from opentelemetry.shim.opentracing_shim import create_tracer

    return TracerKit(create_tracer(otel_provider(0.1)))


TRACERS: dict[str, Callable[[], TracerKit]] = {
    "noop": tracer_noop,
    "mock": tracer_mock,
    "basic": tracer_basic,
    "jaeger": tracer_jaeger,
    "otel": tracer_otel,
}

# -- variants ----------------------------------------------------------------------------------


def bare(shape: str = "health") -> Callable[[], Bench]:
    def make() -> Bench:
        return Bench(wsgi_loop(make_app(), shape=shape))

    return make


def _pyramid_tracing_app(kit: TracerKit, **settings: object) -> Any:
    def setup(config: Configurator) -> None:
        config.include("pyramid_tracing")

    return make_app(setup, **{"tracing.tracer": kit.tracer, **settings})


def pyramid_tracing_variant(
    tracer: str, shape: str = "health", **settings: object
) -> Callable[[], Bench]:
    def make() -> Bench:
        kit = TRACERS[tracer]()
        app = _pyramid_tracing_app(kit, **settings)
        return Bench(wsgi_loop(app, shape=shape, tracer=tracer), kit.reset)

    return make


def pyramid_opentracing_variant(tracer: str, shape: str = "health") -> Callable[[], Bench]:
    def make() -> Bench:
        _require("pyramid_opentracing")
        from pyramid_opentracing import PyramidTracing  # type: ignore[import-untyped]

        kit = TRACERS[tracer]()

        def setup(config: Configurator) -> None:
            config.include("pyramid_opentracing")

        app = make_app(setup, **{"ot.tracing": PyramidTracing(kit.tracer)})
        return Bench(wsgi_loop(app, shape=shape, tracer=tracer), kit.reset)

    return make


_EXTRACT_ERRORS = (
    opentracing.InvalidCarrierException,
    opentracing.SpanContextCorruptedException,
    opentracing.UnsupportedFormatException,
)


def floor_variant(tracer: str, shape: str = "health") -> Callable[[], Bench]:
    """The least any integration can do: a bare tween that makes the same span.

    It extracts the caller's context with the tracer's own ``extract`` from a plain dict of
    the request's headers (built once), starts the active span under it with the four start
    tags (``request.url`` as it is), renames it after the route and sets the three result
    tags. No carrier, redaction, error tagging, exclusion, sampling check or fail-open
    handling: nothing an integration for production can leave out, so no integration can be
    faster. It shows what the tracer costs inside a real request of that shape.
    """

    def make() -> Bench:
        kit = TRACERS[tracer]()
        start = kit.tracer.start_active_span
        extract = kit.tracer.extract
        _, _, headers, _ = request_shape(shape, tracer)
        carrier = {name.lower(): value for name, value in headers.items()}

        def factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
            def floor_tween(request: Any) -> Any:
                try:
                    parent = extract(opentracing.Format.HTTP_HEADERS, carrier)
                except _EXTRACT_ERRORS:
                    parent = None
                method = request.method
                tags = {
                    "component": "pyramid",
                    "span.kind": "server",
                    "http.method": method,
                    "http.url": request.url,
                }
                with start(method, child_of=parent, tags=tags, ignore_active_span=True) as scope:
                    response = handler(request)
                    span = scope.span
                    route = request.matched_route
                    span.set_operation_name(route.name)
                    span.set_tag("pyramid.route", route.name)
                    span.set_tag("http.route", route.pattern)
                    span.set_tag("http.status_code", response.status_code)
                    return response

            return floor_tween

        key = f"{tracer}_{shape}"

        def setup(config: Configurator) -> None:
            config.add_tween(f"{__name__}._FLOOR_TWEENS.{key}")

        _FLOOR_TWEENS[key] = factory
        return Bench(wsgi_loop(make_app(setup), shape=shape, tracer=tracer), kit.reset)

    return make


class _Tweens(dict[str, Any]):
    """Tween factories by dotted name (Pyramid's add_tween takes a dotted name)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_FLOOR_TWEENS = _Tweens()


def otel_instrumentation(shape: str = "health") -> Callable[[], Bench]:
    def make() -> Bench:
        _require("opentelemetry.instrumentation.pyramid")
        from opentelemetry import trace
        from opentelemetry.instrumentation.pyramid import PyramidInstrumentor

        # The instrumentation reads the global provider; set it once per process.
        trace.set_tracer_provider(otel_provider())
        app = make_app(PyramidInstrumentor.instrument_config)
        return Bench(wsgi_loop(app, shape=shape, tracer="otel"))

    return make


# -- the OpenTelemetry backend -------------------------------------------------------------------


def otel_backend(provider: Any) -> Any:
    """pyramid_tracing's OpenTelemetry backend on ``provider``, built as
    ``pyramid_tracing.otel.tracer_from_settings`` builds it on the provider it configures."""
    from pyramid_tracing import __version__
    from pyramid_tracing._backends.opentelemetry import OtelTracer
    from pyramid_tracing._sampling import sampler_ignores_attributes

    return OtelTracer(
        provider.get_tracer("pyramid_tracing", __version__),
        provider,
        late_attributes=sampler_ignores_attributes(provider.sampler),
    )


def otel_native_variant(shape: str = "health") -> Callable[[], Bench]:
    """pyramid_tracing on the OpenTelemetry backend (no shim), the dropping processor."""

    def make() -> Bench:
        kit = TracerKit(otel_backend(otel_provider()))
        app = _pyramid_tracing_app(kit)
        return Bench(wsgi_loop(app, shape=shape, tracer="otel"))

    return make


_DEFAULT_PORTS = {"http": 80, "https": 443}


def otel_floor_factory(
    provider: Any, carrier: dict[str, str]
) -> Callable[[Callable[[Any], Any], Any], Callable[[Any], Any]]:
    """The least an integration on the OpenTelemetry API can do: a bare tween, no shim.

    It extracts the caller's context with the global propagator from ``carrier`` (the
    request's headers, lower-cased, built once), starts an SDK SERVER span under it and
    gives it the stable start attributes (read from the environ as they are: no redaction,
    no truncation) when it records, attaches it, calls the handler, sets the route and the
    status, renames the span ``{method} {route}``, ends and detaches it. No sampling check of
    its own, error recording or fail-open handling.
    """
    from opentelemetry.context import attach, detach
    from opentelemetry.propagate import get_global_textmap
    from opentelemetry.trace import SpanKind, set_span_in_context

    start = provider.get_tracer("bench-floor").start_span
    extract = get_global_textmap().extract
    server = SpanKind.SERVER
    ports = _DEFAULT_PORTS

    def factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
        def otel_floor_tween(request: Any) -> Any:
            parent = extract(carrier)
            environ = request.environ
            method = environ["REQUEST_METHOD"]
            span = start(method, parent, server)
            recording = span.is_recording()
            if recording:
                scheme = environ["wsgi.url_scheme"]
                host, _, port = environ["HTTP_HOST"].partition(":")
                attributes = {
                    "http.request.method": method,
                    "url.scheme": scheme,
                    "url.path": environ["SCRIPT_NAME"] + environ["PATH_INFO"],
                    "server.address": host,
                    "server.port": int(port) if port else ports[scheme],
                    "network.protocol.version": environ["SERVER_PROTOCOL"][5:],
                    "user_agent.original": environ["HTTP_USER_AGENT"],
                }
                query = environ.get("QUERY_STRING")
                if query:
                    attributes["url.query"] = query
                client = environ.get("REMOTE_ADDR")
                if client:
                    attributes["client.address"] = client
                span.set_attributes(attributes)
            token = attach(set_span_in_context(span, parent))
            try:
                response = handler(request)
                if recording:
                    pattern = request.matched_route.pattern
                    span.set_attributes(
                        {"http.route": pattern, "http.response.status_code": response.status_code}
                    )
                    span.update_name(f"{method} {pattern}")
                return response
            finally:
                span.end()
                detach(token)

        return otel_floor_tween

    return factory


def _register_floor(key: str, factory: Callable[..., Any]) -> str:
    """Register a floor tween factory under ``key``; its dotted name for ``add_tween``."""
    _FLOOR_TWEENS[key] = factory
    return f"{__name__}._FLOOR_TWEENS.{key}"


def otel_floor_variant(shape: str = "health") -> Callable[[], Bench]:
    """:func:`otel_floor_factory` in the minimal app, the dropping processor."""

    def make() -> Bench:
        _, _, headers, _ = request_shape(shape, "otel")
        carrier = {name.lower(): value for name, value in headers.items()}
        name = _register_floor(f"otelnative_{shape}", otel_floor_factory(otel_provider(), carrier))

        def setup(config: Configurator) -> None:
            config.add_tween(name)

        return Bench(wsgi_loop(make_app(setup), shape=shape, tracer="otel"))

    return make


# -- a Kinto server: route prefix, Basic auth policy, JSON renderer, pyramid_tm -----------------

KINTO_PATH = "/v1/buckets/bench/collections/tasks/records"
KINTO_QUERY = "_limit=10"
KINTO_HEADERS = {
    "Host": "kinto.example.com",
    "User-Agent": "kinto-http.py/11.2.0",
    "Accept": "application/json",
    # base64 of "bench:s3cret": Kinto's Basic auth policy turns it into a user id (HMAC).
    "Authorization": "Basic YmVuY2g6czNjcmV0",
}
#: Kinto with its memory backends; any Basic auth user may create buckets.
KINTO_SETTINGS = {
    "kinto.storage_backend": "kinto.core.storage.memory",
    "kinto.permission_backend": "kinto.core.permission.memory",
    "kinto.cache_backend": "kinto.core.cache.memory",
    "kinto.userid_hmac_secret": "bench-secret",
    "kinto.multiauth.policies": "basicauth",
    "kinto.bucket_create_principals": "system.Authenticated",
}
#: The records the GET lists (``_limit=10``: all of them, one page).
KINTO_RECORDS = 10


def kinto_app(
    setup: Callable[[Configurator], None] | None = None,
    settings: dict[str, object] | None = None,
) -> Any:
    """Kinto on its memory backends, a bucket, a collection and 10 records in it.

    ``setup`` gets the Configurator before Kinto configures it; ``settings`` go to Kinto
    (``kinto.includes = pyramid_tracing`` includes us the way a Kinto deployment does).
    """
    import warnings

    kinto = _require("kinto")
    from kinto.authorization import RouteFactory  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HTTPS is not enabled": loopback only
        config = Configurator(
            settings={**KINTO_SETTINGS, **(settings or {})}, root_factory=RouteFactory
        )
        if setup is not None:
            setup(config)
        app = kinto.main({}, config=config)
    collection = KINTO_PATH.rpartition("/records")[0]
    writes = [("PUT", collection.rpartition("/collections")[0], b""), ("PUT", collection, b"")]
    writes += [
        ("POST", KINTO_PATH, b'{"data": {"title": "task %d", "done": false}}' % i)
        for i in range(KINTO_RECORDS)
    ]
    for method, path, body in writes:
        request = WebObRequest.blank(path, headers=KINTO_HEADERS, method=method)
        request.content_type = "application/json"
        request.body = body
        status = request.get_response(app).status_code
        if status not in (200, 201):
            msg = f"{method} {path} answered {status} while filling Kinto"
            raise RuntimeError(msg)
    return app


def kinto_environ() -> dict[str, Any]:
    """The request the Kinto variants time: list a collection's records, Basic auth."""
    request = WebObRequest.blank(f"{KINTO_PATH}?{KINTO_QUERY}", headers=KINTO_HEADERS)
    return dict(request.environ)


#: Kinto's requests take some 1 ms: fewer per sample than the minimal app's.
KINTO_OPS = 300


def _kinto_bench(app: Any) -> Bench:
    return Bench(wsgi_loop(app, environ=kinto_environ()), ops=KINTO_OPS)


def _kinto_tracing(tracer: Any, **settings: object) -> dict[str, object]:
    return {"kinto.includes": "pyramid_tracing", "tracing.tracer": tracer, **settings}


def kinto_floor_setup(provider: Any) -> Callable[[Configurator], None]:
    """Add :func:`otel_floor_factory` on ``provider`` where pyramid_tracing's tween goes."""
    carrier = {name.lower(): value for name, value in KINTO_HEADERS.items()}
    name = _register_floor(
        f"otelnative_kinto_{id(provider)}", otel_floor_factory(provider, carrier)
    )

    def setup(config: Configurator) -> None:
        config.add_tween(name, over=(EXCVIEW, "pyramid_tm.tm_tween_factory"))

    return setup


def kinto_variant(kind: str) -> Callable[[], Bench]:
    """Kinto in-process: ``bare``, ``pt-otelnative`` (default ``tracing.instrument``: render
    and transaction spans), ``pt-otelnative-off`` (``ALWAYS_OFF``), ``floor-otelnative`` (and
    ``floor-otelnative-off``: the SDK alone on a dropped request),
    ``otel-pyramid``; the dropping processor."""

    def make() -> Bench:
        if kind == "bare":
            return _kinto_bench(kinto_app())
        if kind == "pt-otelnative":
            return _kinto_bench(kinto_app(settings=_kinto_tracing(otel_backend(otel_provider()))))
        if kind == "pt-otelnative-off":
            from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

            tracer = otel_backend(otel_provider(sampler=ALWAYS_OFF))
            return _kinto_bench(kinto_app(settings=_kinto_tracing(tracer)))
        if kind == "floor-otelnative":
            return _kinto_bench(kinto_app(kinto_floor_setup(otel_provider())))
        if kind == "floor-otelnative-off":
            from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

            return _kinto_bench(kinto_app(kinto_floor_setup(otel_provider(sampler=ALWAYS_OFF))))
        if kind == "otel-pyramid":
            _require("opentelemetry.instrumentation.pyramid")
            from opentelemetry import trace
            from opentelemetry.instrumentation.pyramid import PyramidInstrumentor

            trace.set_tracer_provider(otel_provider())
            return _kinto_bench(kinto_app(PyramidInstrumentor.instrument_config))
        msg = f"unknown Kinto variant {kind!r}"
        raise ValueError(msg)

    return make


#: The Kinto apps of the real-server run, all exporting over OTLP/HTTP to one collector.
KINTO_SERVER_APPS = (
    "bare@kinto",
    "pt-otelnative-server@kinto",
    "pt-otelnative@kinto",
    "pt-otelnative10@kinto",
    "pt-otelnative-metrics@kinto",
    "floor-otelnative@kinto",
    "otel-pyramid@kinto",
)


def kinto_server_app(name: str, endpoint: str) -> Any:
    """The Kinto app ``name`` of :data:`KINTO_SERVER_APPS`, exporting to ``endpoint``.

    pyramid_tracing is configured the way an INI file does it
    (``tracing.tracer = pyramid_tracing.otel:tracer_from_settings``, ``exporter = otlp``);
    the floor tween and the peer export through the provider that builds (a batch span
    processor, the OTLP/HTTP exporter), which is also the global one.
    """
    otel = {
        "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
        "tracing.otel.service_name": "kinto-bench",
        "tracing.otel.exporter": "otlp",
        "tracing.otel.endpoint": endpoint,
    }
    if name == "bare@kinto":
        return kinto_app()
    if name in ("floor-otelnative@kinto", "otel-pyramid@kinto"):
        from pyramid_tracing.otel import tracer_from_settings, tracer_provider

        provider = tracer_provider(tracer_from_settings(**otel))
        if name == "floor-otelnative@kinto":
            return kinto_app(kinto_floor_setup(provider))
        from opentelemetry import trace
        from opentelemetry.instrumentation.pyramid import PyramidInstrumentor

        if trace.get_tracer_provider() is not provider:
            trace.set_tracer_provider(provider)
        return kinto_app(PyramidInstrumentor.instrument_config)
    # Spans only, like the floor and the peer (whose two metrics go to the no-op meter
    # provider); pt-otelnative-metrics adds the default metric (duration) to pt-otelnative.
    settings: dict[str, object] = {
        "kinto.includes": "pyramid_tracing",
        **otel,
        "tracing.otel.metrics": "none",
    }
    if name == "pt-otelnative-metrics@kinto":
        del settings["tracing.otel.metrics"]
    elif name == "pt-otelnative-server@kinto":
        settings["tracing.instrument"] = ""
    elif name == "pt-otelnative10@kinto":
        settings["tracing.otel.sampler"] = "parentbased_traceidratio"
        settings["tracing.otel.sampler_arg"] = "0.1"
    elif name != "pt-otelnative@kinto":
        msg = f"unknown Kinto server app {name!r}; known: {', '.join(KINTO_SERVER_APPS)}"
        raise ValueError(msg)
    return kinto_app(settings=settings)


def raw_span(
    tracer: str, tags: Iterable[tuple[str, str | bool | float]] = RAW_TAGS
) -> Callable[[], Bench]:
    """The tracer alone: start an active span, set the tags, finish."""
    tag_list = tuple(tags)

    def make() -> Bench:
        kit = TRACERS[tracer]()
        start = kit.tracer.start_active_span

        def run(n: int) -> None:
            for _ in range(n):
                with start("hello", finish_on_close=True) as scope:
                    span = scope.span
                    for key, value in tag_list:
                        span.set_tag(key, value)

        return Bench(run, kit.reset)

    return make


def _work() -> int:
    return 1


async def _async_work() -> int:
    return 1


def _async_loop(func: Callable[[], Any]) -> Callable[[int], None]:
    async def many(n: int) -> None:
        for _ in range(n):
            await func()

    def run(n: int) -> None:
        asyncio.run(many(n))

    return run


def plain_call() -> Bench:
    def run(n: int) -> None:
        work = _work
        for _ in range(n):
            work()

    return Bench(run)


def traced_call(tracer: str) -> Callable[[], Bench]:
    def make() -> Bench:
        from pyramid_tracing import traced

        kit = TRACERS[tracer]()
        work = traced("work", tracing=kit.tracer)(_work)

        def run(n: int) -> None:
            for _ in range(n):
                work()

        return Bench(run, kit.reset)

    return make


def plain_async_call() -> Bench:
    return Bench(_async_loop(_async_work))


def traced_async_call(tracer: str) -> Callable[[], Bench]:
    def make() -> Bench:
        from pyramid_tracing import traced

        kit = TRACERS[tracer]()
        return Bench(_async_loop(traced("work", tracing=kit.tracer)(_async_work)), kit.reset)

    return make


# -- outbound calls on a loopback server ---------------------------------------------------------

CLIENT_OPS = 1_000


def quiet_waitress() -> None:
    """Silence waitress's "Task queue depth" warnings: a busy server is the point here."""
    import logging

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def _loopback_server() -> tuple[str, Callable[[], None]]:
    """A waitress server on 127.0.0.1 (ephemeral port) in a thread; returns (url, stop)."""
    from waitress.server import create_server

    def tiny(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    quiet_waitress()
    server = create_server(tiny, host="127.0.0.1", port=0, threads=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    port = server.effective_port  # type: ignore[union-attr]

    def stop() -> None:
        server.close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{port}/ping?lang=en", stop


def _session_loop(session: Any, url: str) -> Callable[[int], None]:
    def run(n: int) -> None:
        get = session.get
        for _ in range(n):
            response = get(url)
            if response.status_code != 200:
                msg = f"GET {url} answered {response.status_code}"
                raise RuntimeError(msg)

    return run


def requests_plain() -> Bench:
    requests = _require("requests")
    url, stop = _loopback_server()
    session = requests.Session()
    return Bench(_session_loop(session, url), ops=CLIENT_OPS, cleanup=[session.close, stop])


def requests_traced(tracer: str) -> Callable[[], Bench]:
    def make() -> Bench:
        _require("requests")
        try:
            from pyramid_tracing.requests import traced_requests_session
        except ImportError as exc:
            msg = f"pyramid_tracing.requests.traced_requests_session is missing ({exc})"
            raise Unavailable(msg) from exc
        kit = TRACERS[tracer]()
        url, stop = _loopback_server()
        session = traced_requests_session(kit.tracer)
        bench = Bench(
            _session_loop(session, url), kit.reset, ops=CLIENT_OPS, cleanup=[session.close, stop]
        )
        return bench

    return make


# -- the catalogue -----------------------------------------------------------------------------


#: name -> (group, make). Groups decide how the report compares them.
def shaped(name: str, shape: str) -> str:
    """The variant name of ``name`` on request ``shape`` (the health check keeps the name)."""
    return name if shape == "health" else f"{name}@{shape}"


def _shape_variants(shape: str) -> dict[str, tuple[str, Callable[[], Bench]]]:
    return {
        shaped("bare", shape): ("app", bare(shape)),
        **{
            shaped(f"pt-{t}", shape): ("pyramid_tracing", pyramid_tracing_variant(t, shape))
            for t in TRACERS
        },
        **{
            shaped(f"po-{t}", shape): (
                "pyramid_opentracing",
                pyramid_opentracing_variant(t, shape),
            )
            for t in TRACERS
        },
        **{
            shaped(f"floor-{t}", shape): ("floor", floor_variant(t, shape))
            for t in TRACERS
            if t != "noop"
        },
        shaped("otel-pyramid", shape): ("otel", otel_instrumentation(shape)),
        shaped("pt-otelnative", shape): ("otel_backend", otel_native_variant(shape)),
        shaped("floor-otelnative", shape): ("otel_backend", otel_floor_variant(shape)),
    }


#: The Kinto variants in-process (``bare@kinto`` is untraced Kinto).
KINTO_KINDS = (
    "bare",
    "pt-otelnative",
    "pt-otelnative-off",
    "floor-otelnative",
    "floor-otelnative-off",
    "otel-pyramid",
)


#: name -> (group, make). Groups decide how the report compares them.
VARIANTS: dict[str, tuple[str, Callable[[], Bench]]] = {
    **{name: entry for shape in SHAPES for name, entry in _shape_variants(shape).items()},
    **{f"{kind}@kinto": ("kinto", kinto_variant(kind)) for kind in KINTO_KINDS},
    **{f"raw-{t}": ("raw", raw_span(t)) for t in TRACERS},
    "pt-basic-features": ("features", pyramid_tracing_variant("basic", **FEATURE_SETTINGS)),
    "pt-basic-excluded": (
        "features",
        pyramid_tracing_variant("basic", **{"tracing.exclude_paths": r"^/hello/"}),
    ),
    "pt-basic-trace-all-false": (
        "features",
        pyramid_tracing_variant("basic", **{"tracing.trace_all": "false"}),
    ),
    "call-plain": ("decorator", plain_call),
    "call-traced-basic": ("decorator", traced_call("basic")),
    "acall-plain": ("decorator", plain_async_call),
    "acall-traced-basic": ("decorator", traced_async_call("basic")),
    "raw-basic-notags": ("decorator", raw_span("basic", ())),
    "requests-plain": ("client", requests_plain),
    "requests-traced-basic": ("client", requests_traced("basic")),
}
