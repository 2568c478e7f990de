"""OTLP metrics to the spans' collector, with an unreachable collector reported once."""

from __future__ import annotations

import logging
from typing import Any, Final

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from pyramid.exceptions import ConfigurationError

from .._otel_config import OtelConfig

__all__ = ["metrics_endpoint", "otlp_metrics"]

logger = logging.getLogger("pyramid_tracing")

_TRACES_SUFFIX: Final = "/v1/traces"


def metrics_endpoint(config: OtelConfig) -> str | None:
    """The OTLP metrics URL: the traces' collector, ``/v1/metrics`` for OTLP/HTTP.

    ``None``: the exporter reads the ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` /
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` variables itself.
    """
    endpoint = config.endpoint
    if endpoint is None or config.protocol == "grpc":
        return endpoint
    if endpoint.endswith(_TRACES_SUFFIX):
        return endpoint[: -len(_TRACES_SUFFIX)] + "/v1/metrics"
    return endpoint


def otlp_metrics(config: OtelConfig) -> MetricExporter:
    """The OTLP metric exporter (HTTP or gRPC) of ``config``, reporting outages once."""
    grpc = config.protocol == "grpc"
    headers = None if config.headers is None else dict(config.headers)
    endpoint = metrics_endpoint(config)
    try:
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcExporter,
            )

            base: type[MetricExporter] = GrpcExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter as HttpExporter,
            )

            base = HttpExporter
    except ImportError as exc:
        key = "tracing.otel.protocol" if grpc else "tracing.otel.metrics_exporter"
        extra = "otel-grpc" if grpc else "otel"
        msg = (
            f"Invalid value for setting {key!r}: OTLP metrics need the OTLP exporter ({exc}): "
            f"pip install 'pyramid_tracing[{extra}]'."
        )
        raise ConfigurationError(msg) from exc
    exporter = _reporting(base)(endpoint=endpoint, headers=headers, timeout=config.timeout)
    exporter.pyramid_tracing_outage = _Outage(endpoint or "the OTLP endpoint of OTEL_*")
    return exporter  # type: ignore[no-any-return]


class _Outage:
    """One warning when the collector stops taking metrics, one when it takes them again."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.down = False

    def observe(self, delivered: bool) -> None:
        if delivered == (not self.down):
            return
        self.down = not delivered
        # The last export runs at exit, when a test runner may have closed the log stream:
        # the warning is then lost rather than printed as "--- Logging error ---".
        raise_exceptions, logging.raiseExceptions = logging.raiseExceptions, False
        try:
            self._warn(delivered)
        finally:
            logging.raiseExceptions = raise_exceptions

    def _warn(self, delivered: bool) -> None:
        if delivered:
            logger.warning("the collector at %s takes metrics again", self.endpoint)
        else:
            logger.warning(
                "cannot export metrics to the collector at %s; they are "
                "dropped until it is reachable (no further warning until then)",
                self.endpoint,
            )


_reporting_classes: dict[type[MetricExporter], type[Any]] = {}


def _reporting(base: type[MetricExporter]) -> type[Any]:
    """``base`` (an OTLP metric exporter class), reporting an unreachable collector once.

    A subclass rather than a wrapper: the periodic reader takes its temporality and
    aggregation preferences from the exporter it is given, and the OTLP exporter reads them
    from ``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``.
    """
    kind = _reporting_classes.get(base)
    if kind is None:

        class Reporting(base):  # type: ignore[valid-type,misc]  # a class chosen at run time
            pyramid_tracing_outage: _Outage

            def export(
                self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
            ) -> MetricExportResult:
                try:
                    result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
                except Exception as exc:
                    logger.debug("pyramid_tracing: the OTLP metric exporter raised %r", exc)
                    result = MetricExportResult.FAILURE
                self.pyramid_tracing_outage.observe(result is MetricExportResult.SUCCESS)
                return result  # type: ignore[no-any-return]

        kind = _reporting_classes[base] = Reporting
    return kind
