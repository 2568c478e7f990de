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

import weakref
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
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
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
    from opentelemetry.util._decorator import _agnosticcontextmanager
    from opentelemetry.util.types import Attributes, AttributeValue
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    msg = (
        f"pyramid_tracing.otel needs the 'otel' extra ({exc}): pip install 'pyramid_tracing[otel]'"
    )
    raise ImportError(msg) from exc

from ._otel_export import ReportingExporter, flush_on_sigterm, register_exit, shutdown_bounded

__all__ = [
    "EXPORTERS",
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
      ``console`` (stdout), ``memory`` (kept in memory, see :func:`memory_exporter`) and
      ``none``. Default: ``otlp``.
    * ``tracing.otel.endpoint``: the OTLP/HTTP collector URL, as ``http://host:4318`` (then
      ``/v1/traces`` is appended) or a full traces URL. Default: the standard
      ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` environment
      variables, else ``http://localhost:4318/v1/traces``.

    ``otlp`` and ``console`` export in batches, off the request path; ``memory`` exports each
    span as it finishes. The provider is flushed and shut down at process exit. The first
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

            exporter = OTLPSpanExporter(
                endpoint=config.endpoint, headers=config.headers, timeout=config.timeout
            )
    except ImportError as exc:
        msg = (
            f"Invalid value for setting {key!r}: {what} ({exc}): "
            f"pip install 'pyramid_tracing[{extra}]'."
        )
        raise ConfigurationError(msg) from exc
    endpoint = config.endpoint or str(getattr(exporter, "_endpoint", "the default endpoint"))
    return ReportingExporter(exporter, endpoint)


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
        return _KindTracer(
            self._provider.get_tracer(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
        )


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
