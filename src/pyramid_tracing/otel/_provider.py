"""The tracer providers pyramid_tracing builds from ``tracing.otel.*``, one per configuration.

Apps of one process with equal settings that export out of the process (``otlp``,
``console``, ``tree``) share one provider and its batch thread; an app with the ``memory``
exporter gets its own, so that a test reads only its own app's spans, and nothing here keeps
it alive once its app is gone. Every provider is shut down by the one exit hook (and the one
SIGTERM handler) of :mod:`._export`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any, Final

import attrs
from opentelemetry import trace as otel_trace
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
from pyramid.exceptions import ConfigurationError

from .._otel_config import OtelConfig
from .._sampling import sampler_ignores_attributes
from ._export import Delivery, ReportingExporter
from ._export_report import Answers, http_session
from ._shutdown import flush_on_sigterm, register_exit
from ._tree import TREE_PRINTER, TreeProcessor

__all__ = ["Built", "built_provider", "sampler_ignores_attributes"]

_EXPORTER_KEY: Final = "tracing.otel.exporter"


class _Sentinel(SpanProcessor):
    """Tells whether its provider was shut down (by the exit hook, or by the app's code)."""

    def __init__(self) -> None:
        self.shut_down = False

    def shutdown(self) -> None:
        """The provider is shutting down: a new app gets a new provider."""
        self.shut_down = True


@attrs.frozen
class Built:
    """A provider built here, whether its sampler reads start attributes, its memory."""

    provider: TracerProvider
    late_attributes: bool
    memory: InMemorySpanExporter | None
    sentinel: _Sentinel


# The shared providers, by configuration (the providers of otlp, console and tree apps).
_shared: dict[tuple[Any, ...], Built] = {}
_lock = threading.Lock()


def _key(config: OtelConfig) -> tuple[Any, ...]:
    # The mappings (headers, resource attributes) as sorted items: hashable, order-blind.
    return tuple(
        tuple(sorted(value.items())) if isinstance(value, Mapping) else value
        for value in attrs.astuple(config, recurse=False)
    )


def built_provider(config: OtelConfig) -> Built:
    """The provider for ``config``: shared with equal settings, own with ``memory``."""
    if "memory" in config.exporters:
        return _build(config)
    key = _key(config)
    with _lock:
        built = _shared.get(key)
        if built is None or built.sentinel.shut_down:
            built = _shared[key] = _build(config)
        return built


def _build(config: OtelConfig) -> Built:
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
            processors.append(TreeProcessor(TREE_PRINTER))
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
    sentinel = _Sentinel()
    provider.add_span_processor(sentinel)
    delivery = None
    if reporters:
        delivery = Delivery(reporters)
        provider.add_span_processor(delivery)
    register_exit(provider, delivery, config.shutdown_timeout)
    if config.flush_on_sigterm:
        flush_on_sigterm()
    if isinstance(otel_trace.get_tracer_provider(), otel_trace.ProxyTracerProvider):
        otel_trace.set_tracer_provider(provider)
    return Built(provider, sampler_ignores_attributes(provider.sampler), memory, sentinel)


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
    return ReportingExporter(
        exporter, config.endpoint or _default_endpoint(grpc), None if grpc else answers
    )


def _default_endpoint(grpc: bool) -> str:
    """Where the exporter sends without an endpoint setting: what the OTLP variables say."""
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if grpc:
        return base or "http://localhost:4317"
    return f"{(base or 'http://localhost:4318').rstrip('/')}/v1/traces"
