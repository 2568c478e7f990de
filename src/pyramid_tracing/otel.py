"""OpenTelemetry through the OpenTracing shim, configured from Pyramid settings.

Needs the ``otel`` extra (``pip install 'pyramid_tracing[otel]'``). In an INI file::

    tracing.tracer = pyramid_tracing.otel:tracer_from_settings
    tracing.otel.service_name = checkout
    tracing.otel.exporter = otlp
    tracing.otel.endpoint = http://collector:4318

The tracer is the OpenTelemetry shim (:func:`opentelemetry.shim.opentracing_shim.create_tracer`)
over an SDK :class:`~opentelemetry.sdk.trace.TracerProvider`, with three adjustments:

* its active span is always OpenTelemetry's current span, so spans of OpenTelemetry-instrumented
  libraries nest under pyramid_tracing's spans and the other way round;
* the OpenTracing ``span.kind`` tag sets the OpenTelemetry span kind (SERVER, CLIENT, ...), and
  an ``error=true`` tag sets the ERROR status, which is what OTLP backends display;
* error log values that OpenTelemetry cannot hold (the exception object) are stored as text.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any, Final

import attrs
import opentracing
from pyramid.exceptions import ConfigurationError

from ._otel_config import EXPORTERS, OtelConfig

try:
    from opentelemetry import baggage as otel_baggage
    from opentelemetry import trace as otel_trace
    from opentelemetry.context import Context, get_value
    from opentelemetry.propagate import get_global_textmap
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
        SpanExporter,
    )
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ALWAYS_ON,
        ParentBased,
        ParentBasedTraceIdRatio,
        Sampler,
        TraceIdRatioBased,
    )
    from opentelemetry.shim.opentracing_shim import (
        _SHIM_KEY,
        ScopeManagerShim,
        ScopeShim,
        SpanContextShim,
        SpanShim,
        TracerShim,
        create_tracer,
    )
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode
    from opentelemetry.util.types import Attributes, AttributeValue
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    msg = (
        f"pyramid_tracing.otel needs the 'otel' extra ({exc}): pip install 'pyramid_tracing[otel]'"
    )
    raise ImportError(msg) from exc

try:
    # The decorator newer opentelemetry-api releases put on start_as_current_span.
    from opentelemetry.util._decorator import _agnosticcontextmanager
except ImportError:  # pragma: no cover - older releases (1.20) used contextmanager
    from contextlib import contextmanager as _agnosticcontextmanager  # type: ignore[assignment]
from ._export_report import Answers, http_session
from ._otel_export import ReportingExporter, flush_on_sigterm, register_exit, shutdown_bounded

__all__ = [
    "EXPORTERS",
    "format_trace",
    "memory_exporter",
    "tracer_from_settings",
    "tracer_provider",
]

_EXPORTER_KEY: Final = "tracing.otel.exporter"
_PLAIN_TYPES: Final = (bool, str, bytes, int, float)
# OpenTracing's span.kind tag values and the OpenTelemetry span kinds they stand for.
_KINDS: Final[Mapping[object, SpanKind]] = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}


@attrs.frozen
class _Setup:
    provider: TracerProvider
    memory: InMemorySpanExporter | None


# What each tracer made here was built with; weak keys, so a dropped tracer is forgotten.
_setups: weakref.WeakKeyDictionary[opentracing.Tracer, _Setup] = weakref.WeakKeyDictionary()


def tracer_from_settings(**settings: Any) -> opentracing.Tracer:
    """Create an OpenTracing tracer backed by the OpenTelemetry SDK.

    Use it as ``tracing.tracer = pyramid_tracing.otel:tracer_from_settings``: pyramid_tracing
    calls it once with the application settings. It reads:

    * ``tracing.otel.service_name``: the ``service.name`` resource attribute. Default: the
      ``OTEL_SERVICE_NAME`` environment variable, else OpenTelemetry's ``unknown_service``.
    * ``tracing.otel.exporter``: one or more of ``otlp`` (OTLP over HTTP/protobuf),
      ``tree`` (each finished trace printed as a tree on standard error, for development: see
      :func:`format_trace`), ``console`` (one JSON document per span on standard output),
      ``memory`` (kept in memory, see :func:`memory_exporter`) and ``none``. Default: ``otlp``.
    * ``tracing.otel.endpoint``: the OTLP/HTTP collector URL, as ``http://host:4318`` (then
      ``/v1/traces`` is appended) or a full traces URL. Default: the standard
      ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` environment
      variables, else ``http://localhost:4318/v1/traces``.

    ``otlp`` and ``console`` export in batches, off the request path; ``memory`` exports each
    span as it finishes; ``tree`` prints a trace on the thread that ends its last open span.
    The provider is flushed and shut down at process exit. The first
    provider made here also becomes OpenTelemetry's global tracer provider, unless one is set
    already, so ``opentelemetry.trace.get_tracer()`` spans go to the same exporters.

    Args:
        settings: the application settings; keys outside ``tracing.otel.*`` are ignored.

    Returns:
        The shim tracer.

    Raises:
        pyramid.exceptions.ConfigurationError: a ``tracing.otel.*`` value is invalid. The message
            names the key, the value and what is allowed.
    """
    config = OtelConfig.from_settings(settings)
    # Every exporter is made before the provider, so that a failing one leaves nothing behind.
    memory = InMemorySpanExporter() if "memory" in config.exporters else None
    processors: list[SpanProcessor] = []
    reporters: list[ReportingExporter] = []
    for name in config.exporters:
        if name == "memory" and memory is not None:
            processors.append(SimpleSpanProcessor(memory))
        elif name == "console":
            processors.append(_batch(ConsoleSpanExporter(), config))
        elif name == "otlp":
            reporter = _otlp_exporter(config)
            reporters.append(reporter)
            processors.append(_batch(reporter, config))
        elif name == "tree":
            processors.append(_TreeProcessor(_TREE_PRINTER))
    attributes: dict[str, str] = dict(config.resource_attributes)
    if config.service_name:
        attributes[SERVICE_NAME] = config.service_name
    # Resource.create() also reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the
    # attributes given here win over both.
    resource = Resource.create(attributes)
    # The SDK's own exit hook waits up to 30 s per processor: ours is bounded (register_exit).
    provider = TracerProvider(resource=resource, sampler=_sampler(config), shutdown_on_exit=False)
    for processor in processors:
        provider.add_span_processor(processor)
    register_exit(
        partial(shutdown_bounded, provider, tuple(reporters), config.shutdown_timeout),
        config.shutdown_timeout,
    )
    if config.flush_on_sigterm:
        flush_on_sigterm()
    if isinstance(otel_trace.get_tracer_provider(), otel_trace.ProxyTracerProvider):
        otel_trace.set_tracer_provider(provider)
    # The shim starts every span as INTERNAL; the wrapper maps the span.kind tag to the OTel
    # span kind, which Jaeger, Tempo and collectors use for service graphs.
    tracer = create_tracer(_KindProvider(provider))
    # The shim's own scope manager reports the wrong span when a native OpenTelemetry span is
    # current (it returns the last shim scope): replace it with one that follows OTel exactly.
    # The stubs of opentracing.Tracer do not declare the attribute its __init__ sets.
    tracer._scope_manager = _ScopeManager(tracer)  # type: ignore[attr-defined]
    _propagate_baggage(tracer)
    # tracing.semconv defaults to OpenTelemetry's conventions for this tracer (_settings.py).
    tracer._pyramid_tracing_otel = True  # type: ignore[attr-defined]
    _setups[tracer] = _Setup(provider, memory)
    return tracer


def tracer_provider(tracer: opentracing.Tracer) -> TracerProvider:
    """The OpenTelemetry tracer provider behind a tracer made by :func:`tracer_from_settings`.

    Call ``tracer_provider(tracer).force_flush()`` to export the finished spans now.

    Raises:
        LookupError: ``tracer`` was not made by :func:`tracer_from_settings`.
    """
    return _setup_of(tracer).provider


def memory_exporter(tracer: opentracing.Tracer) -> InMemorySpanExporter:
    """The in-memory exporter of a tracer made with ``tracing.otel.exporter = memory``.

    Its ``get_finished_spans()`` returns the finished OpenTelemetry spans, oldest first.

    Raises:
        LookupError: ``tracer`` was not made by :func:`tracer_from_settings` with the
            ``memory`` exporter.
    """
    memory = _setup_of(tracer).memory
    if memory is None:
        msg = f"The tracer {tracer!r} was not created with tracing.otel.exporter = memory."
        raise LookupError(msg)
    return memory


def _setup_of(tracer: opentracing.Tracer) -> _Setup:
    try:
        return _setups[tracer]
    except (KeyError, TypeError):
        msg = (
            f"The tracer {tracer!r} was not created by pyramid_tracing.otel.tracer_from_settings."
        )
        raise LookupError(msg) from None


def _batch(exporter: SpanExporter, config: OtelConfig) -> BatchSpanProcessor:
    # None: the SDK reads OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE and
    # OTEL_BSP_SCHEDULE_DELAY itself.
    try:
        return BatchSpanProcessor(
            exporter,
            max_queue_size=config.bsp_max_queue_size,
            schedule_delay_millis=config.bsp_schedule_delay,
            max_export_batch_size=config.bsp_max_export_batch_size,
        )
    except ValueError as exc:
        msg = (
            "Invalid values for settings 'tracing.otel.bsp_max_queue_size' "
            f"({config.bsp_max_queue_size!r}) and 'tracing.otel.bsp_max_export_batch_size' "
            f"({config.bsp_max_export_batch_size!r}) or the OTEL_BSP_* variables: {exc}"
        )
        raise ConfigurationError(msg) from exc


def _sampler(config: OtelConfig) -> Sampler | None:
    if config.sampler is None:
        return None  # the SDK reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG itself
    name, ratio = config.sampler
    if name == "always_on":
        return ALWAYS_ON
    if name == "always_off":
        return ALWAYS_OFF
    if name == "parentbased_always_on":
        return ParentBased(ALWAYS_ON)
    if name == "parentbased_always_off":
        return ParentBased(ALWAYS_OFF)
    assert ratio is not None
    if name == "traceidratio":
        return TraceIdRatioBased(ratio)
    return ParentBasedTraceIdRatio(ratio)


def _otlp_exporter(config: OtelConfig) -> ReportingExporter:
    grpc = config.protocol == "grpc"
    key = "tracing.otel.protocol" if grpc else _EXPORTER_KEY
    what = "'grpc' needs the OTLP/gRPC exporter" if grpc else "'otlp' needs the OTLP/HTTP exporter"
    extra = "otel-grpc" if grpc else "otel"
    try:
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )

            # endpoint=None etc.: the exporter reads the OTEL_EXPORTER_OTLP_* variables.
            exporter: SpanExporter = GrpcExporter(
                endpoint=config.endpoint,
                headers=None if config.headers is None else dict(config.headers),
                timeout=config.timeout,
            )
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            answers = Answers()
            exporter = OTLPSpanExporter(
                endpoint=config.endpoint,
                headers=config.headers,
                timeout=config.timeout,
                session=http_session(answers),
            )
    except ImportError as exc:
        msg = (
            f"Invalid value for setting {key!r}: {what} ({exc}): "
            f"pip install 'pyramid_tracing[{extra}]'."
        )
        raise ConfigurationError(msg) from exc
    endpoint = config.endpoint or str(getattr(exporter, "_endpoint", "the default endpoint"))
    return ReportingExporter(exporter, endpoint, None if grpc else answers)


class _KindProvider(otel_trace.TracerProvider):
    """Gives the shim tracers that start spans with the kind their ``span.kind`` tag names."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> otel_trace.Tracer:
        """The provider's tracer, wrapped."""
        name, version = instrumenting_module_name, instrumenting_library_version
        # Older opentelemetry-sdk releases (1.20) take no attributes: pass them only when given.
        if attributes is None:
            return _KindTracer(self._provider.get_tracer(name, version, schema_url))
        return _KindTracer(self._provider.get_tracer(name, version, schema_url, attributes))


class _KindTracer(otel_trace.Tracer):
    """The OpenTelemetry tracer under the shim: maps OpenTracing tag conventions to OTel.

    An INTERNAL span takes the kind its ``span.kind`` tag names, and an ``error=true`` tag
    also sets the span's status to ERROR, which is what OTLP backends show as a failure.
    """

    def __init__(self, tracer: otel_trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> otel_trace.Span:
        """Start a span; an INTERNAL one gets the kind that its ``span.kind`` tag names."""
        if attributes:
            if kind is SpanKind.INTERNAL:
                kind = _KINDS.get(attributes.get("span.kind"), kind)
            if "http.request.method" in attributes and "http.method" not in attributes:
                # tracing.semconv = stable: span.kind only carried the kind to this point.
                attributes = {k: v for k, v in attributes.items() if k != "span.kind"}
        span = self._tracer.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        if attributes and attributes.get("error") is True:
            span.set_status(StatusCode.ERROR)
        return _ErrorStatusSpan(span)

    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[otel_trace.Span]:
        """Start a span as :meth:`start_span` does and make it current while in the block."""
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with otel_trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class _ErrorStatusSpan(otel_trace.Span):
    """Wraps a span so that the OpenTracing ``error=true`` tag also sets the ERROR status."""

    __slots__ = ("_span",)

    def __init__(self, span: otel_trace.Span) -> None:
        self._span = span

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._span!r}>"

    def __getattr__(self, name: str) -> Any:
        # What the SDK's span has beyond the API (name, attributes, kind, ...), for code that
        # reads it from opentelemetry.trace.get_current_span().
        if name == "_span":
            raise AttributeError(name)
        return getattr(self._span, name)

    def end(self, end_time: int | None = None) -> None:
        """End the span."""
        self._span.end(end_time)

    def get_span_context(self) -> otel_trace.SpanContext:
        """The span's context."""
        return self._span.get_span_context()

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set attributes; ``error=True`` also sets the ERROR status."""
        self._span.set_attributes(attributes)
        if attributes.get("error") is True:
            self._span.set_status(StatusCode.ERROR)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set an attribute; ``error=True`` also sets the ERROR status."""
        self._span.set_attribute(key, value)
        if key == "error" and value is True:
            self._span.set_status(StatusCode.ERROR)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        """Add an event (the shim's ``log_kv``); values OTel cannot hold are stored as text."""
        self._span.add_event(name, _plain(attributes), timestamp)

    def add_link(self, context: otel_trace.SpanContext, attributes: Attributes = None) -> None:
        """Add a link."""
        self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        """Rename the span (the shim's ``set_operation_name``)."""
        self._span.update_name(name)

    def is_recording(self) -> bool:
        """Whether the span records."""
        return self._span.is_recording()

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status."""
        self._span.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Record an exception as an event."""
        self._span.record_exception(exception, attributes, timestamp, escaped)


def _plain(attributes: Attributes) -> Attributes:
    """``attributes`` with every value that is not an OTel attribute value turned into text.

    The OpenTracing error log carries the exception object (``error.object``); OpenTelemetry
    would store its ``str()`` too, but log a warning for every failed request.
    """
    if not attributes:
        return attributes
    if all(_is_plain(value) for value in attributes.values()):
        return attributes
    return {key: value if _is_plain(value) else str(value) for key, value in attributes.items()}


def _is_plain(value: object) -> bool:
    if isinstance(value, _PLAIN_TYPES):
        return True
    return isinstance(value, list | tuple) and all(
        isinstance(item, _PLAIN_TYPES) for item in value
    )


class _BorrowedScope(opentracing.Scope):
    """The scope of an OpenTelemetry span that the shim did not activate.

    Closing it does nothing: whoever made the span current ends it and restores the context.
    """

    def close(self) -> None:
        """Do nothing: the span belongs to the OpenTelemetry code that made it current."""


class _ScopeManager(ScopeManagerShim):
    """The shim's scope manager, with an ``active`` scope that is always OTel's current span.

    Activation is the shim's own: it attaches to OpenTelemetry's context, which lives in
    :mod:`contextvars`, so the active span follows asyncio tasks and copied contexts.
    """

    @property
    def active(self) -> Any:
        """The scope of OpenTelemetry's current span, or ``None`` when there is none."""
        span = otel_trace.get_current_span()
        context = span.get_span_context()
        if not context.is_valid:
            return None
        scope = get_value(_SHIM_KEY)
        if isinstance(scope, ScopeShim) and _unwrap(scope.span) is span:
            return scope
        # A native OpenTelemetry span, or a shim scope closed from another context.
        shim_span = SpanShim(self.tracer, SpanContextShim(context), span)
        return _BorrowedScope(self, shim_span)


# -- baggage ------------------------------------------------------------------------------
#
# The shim keeps each span context's baggage to itself: a child starts with none, inject()
# writes only the trace context and extract() reads only that. The three methods below, set
# on the tracer object (its class stays the shim's own, which the hot path checks for), make
# baggage behave as OpenTracing says: inherited by children, sent and received in the
# W3C ``baggage`` header (or what OTEL_PROPAGATORS names).


def _baggage_of(parent: object) -> Context | None:
    if type(parent) is SpanShim:
        parent = parent.context
    if isinstance(parent, SpanContextShim):
        bag: Context = parent.baggage
        return bag if bag else None
    return None


def _propagate_baggage(tracer: TracerShim) -> None:
    start_span = tracer.start_span
    formats = tracer._supported_formats

    def start_span_with_baggage(
        operation_name: str | None = None,
        child_of: Any = None,
        references: Any = None,
        tags: Attributes = None,
        start_time: float | None = None,
        ignore_active_span: bool = False,
    ) -> SpanShim:
        span = start_span(
            operation_name, child_of, references, tags, start_time, ignore_active_span
        )
        parent = child_of
        if parent is None and references:
            parent = references[0].referenced_context
        if parent is None and not ignore_active_span:
            parent = tracer.active_span
        bag = _baggage_of(parent)
        if bag is not None:
            context: Any = span.context
            context._baggage = bag
        return span

    def inject(span_context: Any, format: object, carrier: object) -> None:
        if format not in formats:
            raise opentracing.UnsupportedFormatException
        otel_context = span_context.unwrap() if span_context else None
        parent: Any = (
            otel_trace.NonRecordingSpan(otel_context)
            if isinstance(otel_context, otel_trace.SpanContext)
            else otel_context
        )
        context = otel_trace.set_span_in_context(parent)
        bag = _baggage_of(span_context)
        if bag is not None:
            for key, value in otel_baggage.get_all(bag).items():
                context = otel_baggage.set_baggage(key, value, context)
        get_global_textmap().inject(carrier, context=context)

    def extract(format: object, carrier: object) -> SpanContextShim:
        if format not in formats:
            raise opentracing.UnsupportedFormatException
        context = get_global_textmap().extract(carrier)
        extracted = SpanContextShim(otel_trace.get_current_span(context).get_span_context())
        entries = otel_baggage.get_all(context)
        if entries:
            bag = Context()
            for key, value in entries.items():
                bag = otel_baggage.set_baggage(key, value, bag)
            extracted._baggage = bag
        return extracted

    # Instance attributes: type(tracer) stays TracerShim for the hot path's exact checks.
    tracer.start_span = start_span_with_baggage  # type: ignore[method-assign]
    tracer.inject = inject  # type: ignore[method-assign]
    tracer.extract = extract  # type: ignore[method-assign]


def _unwrap(span: opentracing.Span) -> object:
    # The shim leaves SpanShim.unwrap() unannotated.
    return span.unwrap() if isinstance(span, SpanShim) else None  # type: ignore[no-untyped-call]


# -- the tree exporter (tracing.otel.exporter = tree) ----------------------------------------

# Attributes the tree leaves out: the line shows them already (name, status, error kind) or
# every span of the kind has them, in either vocabulary (tracing.semconv). http.url and url.full
# are kept on client spans only, where they name the called service.
_TREE_HIDDEN: Final = frozenset(
    {
        "component",
        "span.kind",
        "http.method",
        "http.route",
        "pyramid.route",
        "peer.hostname",
        "peer.port",
        "error",
        "error.type",
        "http.request.method",
        "url.scheme",
        "url.path",
        "url.query",
        "server.address",
        "server.port",
        "network.protocol.version",
        "user_agent.original",
        "client.address",
    }
)
_TREE_CLIENT_ONLY: Final = frozenset({"http.url", "url.full"})
_TREE_VALUE_WIDTH: Final = 60
# How many traces with open spans the tree keeps; past it the oldest is printed as it is.
_TREE_PENDING_LIMIT: Final = 1000
# How many printed trace ids it remembers, to mark later spans of the trace as a continuation.
_TREE_PRINTED_LIMIT: Final = 10_000


def format_trace(spans: Sequence[ReadableSpan]) -> str:
    """Render finished spans of one trace as an indented tree, one line per span.

    The first line names the trace, its services, the number of spans and the time from the
    first start to the last end. Each span line shows the service, the operation name, the start
    offset from the first span's start (``+12.0 ms``), the duration, ``OK`` or ``ERROR``, and the
    tags that say what the span did: the status code, the URL of client spans, the error kind,
    and your own tags; the tags every HTTP span has are left out. Time in a parent span not
    covered by its children shows as the gap between one child's offset plus duration and the
    next child's offset. Children are in start order; a span whose parent is not among
    ``spans`` (the caller's span in another service) is a root.

    This is what ``tracing.otel.exporter = tree`` prints. For spans kept in memory::

        print(format_trace(memory_exporter(tracer).get_finished_spans()))

    Args:
        spans: finished spans, all of the same trace (as :func:`memory_exporter` returns them,
            or as a tracer provider's span processor receives them).

    Returns:
        The tree as text, without a trailing newline; an empty string for no spans.

    .. versionadded:: 0.2.0
    """
    if not spans:
        return ""
    ids = {_span_id(span) for span in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = None if span.parent is None else span.parent.span_id
        children.setdefault(parent if parent in ids else None, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda span: (span.start_time or 0, span.name))
    origin = min(span.start_time or 0 for span in spans)
    end = max(span.end_time or span.start_time or 0 for span in spans)
    rows: list[tuple[str, str]] = []
    services: dict[str, None] = {}

    def walk(span: ReadableSpan, prefix: str, branch: str) -> None:
        services[_service(span)] = None
        rows.append((f"{prefix}{branch}{_service(span)}  {span.name}", _timing(span, origin)))
        below = children.get(_span_id(span), [])
        inner = prefix + ("" if not branch else "   " if branch == "└─ " else "│  ")
        for index, child in enumerate(below):
            walk(child, inner, "└─ " if index == len(below) - 1 else "├─ ")

    for root in children.get(None, []):
        walk(root, "", "")
    trace_id = spans[0].context.trace_id if spans[0].context is not None else 0
    count = "1 span" if len(spans) == 1 else f"{len(spans)} spans"
    header = (
        f"trace {trace_id:032x}  {', '.join(services)}  {count}  {(end - origin) / 1e6:.1f} ms"
    )
    width = max(len(label) for label, _ in rows)
    lines = [header] + [f"  {label:<{width}}  {timing}".rstrip() for label, timing in rows]
    return "\n".join(lines)


def _span_id(span: ReadableSpan) -> int:
    return span.context.span_id if span.context is not None else 0


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes.get(SERVICE_NAME, "unknown_service"))


def _timing(span: ReadableSpan, origin: int) -> str:
    start = span.start_time or origin
    duration = ((span.end_time or start) - start) / 1e6
    failed = span.status.status_code is StatusCode.ERROR
    tags = [f"{key}={_short(value)}" for key, value in _tree_tags(span)]
    offset = f"+{(start - origin) / 1e6:.1f} ms"
    return f"{offset:>11} {duration:8.1f} ms  {'ERROR' if failed else 'OK':<5}  {' '.join(tags)}"


def _tree_tags(span: ReadableSpan) -> Iterator[tuple[str, object]]:
    attributes = span.attributes or {}
    client = attributes.get("span.kind") == "client" or span.kind is SpanKind.CLIENT
    for key, value in attributes.items():
        if key in _TREE_HIDDEN or (key in _TREE_CLIENT_ONLY and not client):
            continue
        yield key, value
    for event in span.events:
        kind = (event.attributes or {}).get("error.kind")
        if isinstance(kind, str):
            yield "error.kind", kind
        elif event.name == "exception":
            yield "error.kind", (event.attributes or {}).get("exception.type", "?")


def _short(value: object) -> str:
    text = str(value)
    text = text if " " not in text else repr(text)
    return text if len(text) <= _TREE_VALUE_WIDTH else f"{text[: _TREE_VALUE_WIDTH - 1]}…"


@attrs.define
class _PendingTrace:
    spans: list[ReadableSpan] = attrs.Factory(list)
    open: set[int] = attrs.Factory(set)


class _TreePrinter:
    """Collects the spans of every tree processor of the process; prints complete traces.

    One printer for the process, so that when several services run in one process (the demo,
    a test) a trace through them prints once, as one tree, when its last open span ends.
    """

    def __init__(self) -> None:
        # Span processors are called from every thread that starts or ends a span.
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, _PendingTrace] = OrderedDict()
        self._printed: OrderedDict[int, None] = OrderedDict()
        self._processors = 0

    def register(self) -> None:
        with self._lock:
            self._processors += 1

    def started(self, trace_id: int, span_id: int) -> None:
        with self._lock:
            pending = self._pending.get(trace_id)
            if pending is None:
                pending = self._pending[trace_id] = _PendingTrace()
                if len(self._pending) > _TREE_PENDING_LIMIT:
                    oldest, trace = self._pending.popitem(last=False)
                    self._write(oldest, trace)
            pending.open.add(span_id)

    def ended(self, span: ReadableSpan) -> None:
        if span.context is None:
            return
        trace_id = span.context.trace_id
        with self._lock:
            pending = self._pending.setdefault(trace_id, _PendingTrace())
            pending.spans.append(span)
            pending.open.discard(span.context.span_id)
            if not pending.open:
                del self._pending[trace_id]
                self._write(trace_id, pending)

    def unregister(self) -> None:
        """A processor shut down; the last one prints the traces that still have open spans."""
        with self._lock:
            self._processors -= 1
            if self._processors > 0:
                return
            while self._pending:
                trace_id, pending = self._pending.popitem(last=False)
                self._write(trace_id, pending)

    def _write(self, trace_id: int, pending: _PendingTrace) -> None:
        if not pending.spans:
            return
        text = format_trace(pending.spans)
        if trace_id in self._printed:
            text = text.replace("\n", " (continued)\n", 1)
        if pending.open:
            count = "1 span" if len(pending.open) == 1 else f"{len(pending.open)} spans"
            text += f"\n  (and {count} of this trace not finished)"
        self._printed[trace_id] = None
        if len(self._printed) > _TREE_PRINTED_LIMIT:
            self._printed.popitem(last=False)
        # sys.stderr is looked up on each write, so that redirections made later apply.
        stream = sys.stderr
        if stream is not None:
            stream.write(f"{text}\n")
            stream.flush()


_TREE_PRINTER: Final = _TreePrinter()


class _TreeProcessor(SpanProcessor):
    """The span processor behind ``tracing.otel.exporter = tree``."""

    def __init__(self, printer: _TreePrinter) -> None:
        self._printer = printer
        self._shut_down = False
        printer.register()

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        """Note the span as open in its trace."""
        if self._shut_down:
            return
        context = span.get_span_context()
        self._printer.started(context.trace_id, context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        """Add the span to its trace; print the trace when no span of it is open any more."""
        if self._shut_down:
            return
        self._printer.ended(span)

    def shutdown(self) -> None:
        """Print what is left, once every tree processor of the process has shut down."""
        if not self._shut_down:
            self._shut_down = True
            self._printer.unregister()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is queued: complete traces are printed at once."""
        return True
