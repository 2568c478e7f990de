"""OpenTelemetry as pyramid_tracing's backend, configured from Pyramid settings.

Needs the ``otel`` extra (``pip install 'pyramid_tracing[otel]'``). In an INI file::

    tracing.tracer = pyramid_tracing.otel:tracer_from_settings
    tracing.otel.service_name = checkout
    tracing.otel.exporter = otlp
    tracing.otel.endpoint = http://collector:4318

Requests are then traced on the OpenTelemetry API directly (the *OpenTelemetry backend*):
``opentelemetry.trace.get_current_span()`` in a view is the request's span, and spans of
OpenTelemetry instrumentations nest under it. The tracer returned is an
:class:`OtelTracer`, an OpenTracing tracer too: OpenTracing code in the app
(``request.tracing.active_span``, ``tracer.start_active_span``, the hooks) gets a view of the
same spans through the OpenTracing shim, built only when used.

With ``tracing.otel.provider = global`` the process's own tracer provider is used, as
``opentelemetry-instrument``, a distro or the app set it up, and nothing is configured here;
only a process that would die of SIGTERM without ``atexit`` (``pserve``) gets a handler that
flushes it first (``tracing.otel.flush_on_sigterm``).
"""

from __future__ import annotations

from typing import Any

import opentracing

from .._otel_config import EXPORTERS, OtelConfig

try:
    from opentelemetry import trace as otel_trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    msg = (
        f"pyramid_tracing.otel needs the 'otel' extra ({exc}): pip install 'pyramid_tracing[otel]'"
    )
    raise ImportError(msg) from exc

from .._backends.opentelemetry import OtelTracer
from .._sampling import sampler_ignores_attributes
from ._metrics import BuiltMeters, app_metrics
from ._provider import built_provider
from ._shutdown import flush_globals_on_sigterm
from ._tree import format_trace

__all__ = [
    "EXPORTERS",
    "OtelTracer",
    "format_trace",
    "memory_exporter",
    "meter_provider",
    "metrics_reader",
    "tracer_from_settings",
    "tracer_provider",
]

#: The instrumentation scope of every span pyramid_tracing starts.
SCOPE_NAME = "pyramid_tracing"


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
    from .. import __version__

    config = OtelConfig.from_settings(settings)
    if config.provider == "global":
        # The proxy provider hands out tracers that follow the provider set later.
        provider: Any = otel_trace.get_tracer_provider()
        late = sampler_ignores_attributes(getattr(provider, "sampler", None))
        memory = None
        if config.flush_on_sigterm:
            flush_globals_on_sigterm(config.shutdown_timeout)
    else:
        built = built_provider(config)
        provider, late, memory = built.provider, built.late_attributes, built.memory
    tracer = OtelTracer(
        provider.get_tracer(SCOPE_NAME, __version__), provider, late_attributes=late
    )
    tracer.memory = memory
    tracer.metrics, tracer.meters = app_metrics(settings, config, SCOPE_NAME, __version__)
    return tracer


def tracer_provider(tracer: opentracing.Tracer) -> TracerProvider:
    """The OpenTelemetry tracer provider behind a tracer made by :func:`tracer_from_settings`.

    Call ``tracer_provider(tracer).force_flush()`` to export the finished spans now.

    Raises:
        LookupError: ``tracer`` was not made by :func:`tracer_from_settings`.
    """
    if not isinstance(tracer, OtelTracer):
        msg = (
            f"The tracer {tracer!r} was not created by pyramid_tracing.otel.tracer_from_settings."
        )
        raise LookupError(msg)
    provider: TracerProvider = tracer.provider
    return provider


def meter_provider(tracer: opentracing.Tracer) -> MeterProvider:
    """The OpenTelemetry meter provider that records a tracer's HTTP server metrics.

    pyramid_tracing builds it from the ``tracing.otel.metrics*`` settings (shared by the apps
    of a process with equal settings) and shuts it down at exit and on SIGTERM, with the
    tracer provider. Call ``meter_provider(tracer).force_flush()`` to export the metrics now.
    A shutdown hook of your own shuts both down::

        otel.tracer_provider(tracer).shutdown()
        otel.meter_provider(tracer).shutdown()

    Raises:
        LookupError: ``tracer`` was not made by :func:`tracer_from_settings`, or it records
            no metrics in a meter provider built here: ``tracing.otel.metrics = none``,
            ``tracing.otel.metrics_exporter = none``, or ``tracing.otel.provider = global``
            (then OpenTelemetry's global meter provider records them).

    .. versionadded:: 0.3.0
    """
    tracer_provider(tracer)
    meters: BuiltMeters | None = tracer.meters  # type: ignore[attr-defined]
    if meters is None:
        msg = (
            f"The tracer {tracer!r} records no metrics in a meter provider of its own "
            "(tracing.otel.metrics or tracing.otel.metrics_exporter is none, or "
            "tracing.otel.provider is global)."
        )
        raise LookupError(msg)
    return meters.provider


def memory_exporter(tracer: opentracing.Tracer) -> InMemorySpanExporter:
    """The in-memory exporter of a tracer made with ``tracing.otel.exporter = memory``.

    Its ``get_finished_spans()`` returns the finished OpenTelemetry spans, oldest first.

    Raises:
        LookupError: ``tracer`` was not made by :func:`tracer_from_settings` with the
            ``memory`` exporter.
    """
    tracer_provider(tracer)
    memory: InMemorySpanExporter | None = tracer.memory  # type: ignore[attr-defined]
    if memory is None:
        msg = f"The tracer {tracer!r} was not created with tracing.otel.exporter = memory."
        raise LookupError(msg)
    return memory


def metrics_reader(tracer: opentracing.Tracer) -> InMemoryMetricReader:
    """The metric reader of a tracer made with ``tracing.otel.metrics_exporter = memory``.

    Its ``get_metrics_data()`` returns the HTTP server metrics recorded so far.

    Raises:
        LookupError: ``tracer`` was not made by :func:`tracer_from_settings` with the
            ``memory`` metrics exporter.

    .. versionadded:: 0.3.0
    """
    tracer_provider(tracer)
    meters: BuiltMeters | None = tracer.meters  # type: ignore[attr-defined]
    reader = None if meters is None else meters.memory
    if reader is None:
        msg = f"The tracer {tracer!r} was not created with tracing.otel.metrics_exporter = memory."
        raise LookupError(msg)
    return reader
