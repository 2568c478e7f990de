"""The HTTP server metrics: the meter providers built from ``tracing.otel.*``, the instruments.

A meter provider is built beside the tracer provider, with the same sharing rule: apps of one
process with equal settings that export out of the process (``otlp``, ``console``) share one
provider and its export thread; an app with the ``memory`` metrics exporter gets its own. OTLP
metrics go to the traces' collector (``/v1/metrics``), over the same protocol, with the same
headers and timeout. Every provider is shut down by the one exit hook (and SIGTERM handler) of
:mod:`._export`, within ``tracing.otel.shutdown_timeout``.

After a fork (gunicorn ``--preload``) the SDK restarts the periodic reader's thread in the
child and gives the child a new ``service.instance.id``, so each worker exports its own points;
the exit hook, inherited by the worker, exports its last interval. uWSGI forks without running
the fork hooks: there the exit hook exports the worker's points itself (see :class:`_Provider`).

With ``tracing.otel.provider = global`` the instruments come from OpenTelemetry's global meter
provider (``opentelemetry-instrument`` or the app set it up) and nothing is built here.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import Histogram, Meter, UpDownCounter
from opentelemetry.sdk.metrics import Histogram as SdkHistogram
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    InMemoryMetricReader,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from .._otel_config import OtelConfig
from .._otel_metrics_config import MetricsConfig
from ._metrics_export import otlp_metrics
from ._provider import _key
from ._shutdown import flush_on_sigterm, register_exit

__all__ = [
    "DURATION_BUCKETS",
    "BuiltMeters",
    "ServerInstruments",
    "app_metrics",
    "built_meter_provider",
    "server_instruments",
]

logger = logging.getLogger("pyramid_tracing")

#: The buckets of ``http.server.request.duration`` (seconds), as the conventions advise.
DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
)
_DURATION: Final = "http.server.request.duration"
_TRACES_SUFFIX: Final = "/v1/traces"


@attrs.frozen
class ServerInstruments:
    """The instruments of one app; ``None`` for a metric not recorded."""

    duration: Histogram | None
    active_requests: UpDownCounter | None
    request_body_size: Histogram | None
    response_body_size: Histogram | None
    #: Whether the requests that tracing excludes are measured too.
    include_excluded: bool = False


def server_instruments(
    meter: Meter, metrics: Sequence[str], *, include_excluded: bool = False
) -> ServerInstruments | None:
    """The instruments of ``metrics`` (``duration``, ``active_requests``, ``body_size``).

    Returns:
        ``None`` when no metric is recorded.
    """
    if not metrics:
        return None
    duration = None
    if "duration" in metrics:
        try:
            duration = meter.create_histogram(
                _DURATION,
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
        except TypeError:  # pragma: no cover - OpenTelemetry API before 1.23: no advice
            duration = meter.create_histogram(
                _DURATION, unit="s", description="Duration of HTTP server requests."
            )
    active = None
    if "active_requests" in metrics:
        active = meter.create_up_down_counter(
            "http.server.active_requests",
            unit="{request}",
            description="Number of active HTTP server requests.",
        )
    request_size = response_size = None
    if "body_size" in metrics:
        request_size = meter.create_histogram(
            "http.server.request.body.size",
            unit="By",
            description="Size of HTTP server request bodies.",
        )
        response_size = meter.create_histogram(
            "http.server.response.body.size",
            unit="By",
            description="Size of HTTP server response bodies.",
        )
    return ServerInstruments(duration, active, request_size, response_size, include_excluded)


def app_metrics(
    settings: Mapping[str, object], config: OtelConfig, scope: str, version: str
) -> tuple[ServerInstruments | None, BuiltMeters | None]:
    """The instruments of an app, and the meter provider built for them, from its settings.

    With ``provider = global`` they come from OpenTelemetry's global meter provider (a proxy
    until one is set, then that one), and nothing is built; else from the meter provider
    built for ``config``.
    """
    own = config.provider != "global"
    metered = MetricsConfig.from_settings(settings, config.exporters if own else None, os.environ)
    if not metered.metrics:
        return None, None
    if not own:
        meter, built = otel_metrics.get_meter(scope, version), None
    else:
        built = built_meter_provider(config, metered)
        if built is None:
            return None, None
        meter = built.provider.get_meter(scope, version)
    instruments = server_instruments(
        meter, metered.metrics, include_excluded=metered.include_excluded
    )
    return instruments, built


# -- the providers built here ----------------------------------------------------------------


@attrs.frozen
class BuiltMeters:
    """A meter provider built here, and its in-memory reader (``memory``)."""

    provider: MeterProvider
    memory: InMemoryMetricReader | None


_shared: dict[tuple[Any, ...], BuiltMeters] = {}
_lock = threading.Lock()


def built_meter_provider(config: OtelConfig, metered: MetricsConfig) -> BuiltMeters | None:
    """The meter provider for ``config``: ``None`` without metrics or exporter.

    Shared by the apps with equal settings; its own with ``memory``.
    """
    if not metered.metrics or metered.exporter == "none":
        return None
    if metered.exporter == "memory":
        return _build(config, metered)
    key = (_key(config), metered)
    with _lock:
        built = _shared.get(key)
        if built is None or _is_shut_down(built.provider):
            built = _shared[key] = _build(config, metered)
        return built


def _is_shut_down(provider: MeterProvider) -> bool:
    return provider not in _alive


# The shared providers not shut down yet (by the exit hook, or by the app's code).
_alive: set[MeterProvider] = set()


def _build(config: OtelConfig, metered: MetricsConfig) -> BuiltMeters:
    memory = None
    reader: MetricReader
    if metered.exporter == "memory":
        reader = memory = InMemoryMetricReader()
    else:
        exporter = (
            ConsoleMetricExporter() if metered.exporter == "console" else otlp_metrics(config)
        )
        interval = None if metered.interval is None else metered.interval * 1000
        # None: the SDK reads OTEL_METRIC_EXPORT_INTERVAL (milliseconds; 60 s by default).
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval)
    attributes: dict[str, str] = dict(config.resource_attributes)
    if config.service_name:
        attributes[SERVICE_NAME] = config.service_name
    # Only a shared provider is remembered (and kept) by the sharing table.
    kind = MeterProvider if memory is not None else _Provider
    provider = kind(
        metric_readers=[reader],
        resource=Resource.create(attributes),
        # The buckets on every SDK release (the advisory parameter came with API 1.23).
        views=[
            View(
                instrument_type=SdkHistogram,
                instrument_name=_DURATION,
                aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS),
            )
        ],
        # The SDK's own exit hook waits up to 30 s: ours is bounded (register_exit).
        shutdown_on_exit=False,
    )
    if memory is None:
        _alive.add(provider)
        register_exit(provider, None, config.shutdown_timeout)
        if config.flush_on_sigterm:
            flush_on_sigterm()
    return BuiltMeters(provider, memory)


class _Provider(MeterProvider):
    """The SDK's meter provider, forgotten by the sharing table once shut down.

    It also notices a fork that ran no ``os.register_at_fork`` hook (uWSGI forks its workers
    so): the SDK's periodic reader then has no thread in the worker, and only an export from
    the thread that shuts it down gets the worker's last interval out.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pid = os.getpid()
        if hasattr(os, "register_at_fork"):
            mark = weakref.WeakMethod(self._forked)
            os.register_at_fork(after_in_child=lambda: (method := mark()) and method())

    def _forked(self) -> None:
        self._pid = os.getpid()  # the SDK restarted its reader's thread in this child

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        """Shut down (once), exporting what is left."""
        _alive.discard(self)
        if self._pid != os.getpid():
            # The reader's thread stayed in the master: export from here, and join nothing
            # (joining the master's thread would wait for the whole timeout).
            self.force_flush(timeout_millis)
            return
        super().shutdown(timeout_millis)
