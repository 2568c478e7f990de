"""Reset OpenTelemetry's process-wide tracer provider between tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from opentelemetry import trace
from opentelemetry.util._once import Once


def reset_otel_globals() -> None:
    """Forget the global tracer provider, as OpenTelemetry's own test helpers do.

    ``tracer_from_settings`` makes its first provider the global one; without this, one
    test's (shut down) provider would stay global for the rest of the session.
    """
    provider = trace._TRACER_PROVIDER
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


@contextmanager
def clean_globals(*resets: Callable[[], object]) -> Iterator[None]:
    """The global tracer provider forgotten, and each of ``resets`` called, before and after."""
    for reset in (*resets, reset_otel_globals):
        reset()
    yield
    for reset in (*resets, reset_otel_globals):
        reset()


def reset_meter_provider() -> None:
    """Forget the global meter provider (shut down), as OpenTelemetry's test helpers do."""
    from opentelemetry import metrics
    from opentelemetry.metrics import _internal as metrics_internal

    provider = metrics_internal._METER_PROVIDER
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    metrics_internal._PROXY_METER_PROVIDER = metrics_internal._ProxyMeterProvider()
    del metrics  # imported for its side effect: the API is set up
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


@contextmanager
def global_providers() -> Iterator[tuple[Any, Any]]:
    """SDK tracer and meter providers made global, as a distro sets them up, then forgotten.

    Yields the span exporter (an ``InMemorySpanExporter`` behind a simple processor) and the
    metric reader (an ``InMemoryMetricReader``).
    """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    with clean_globals(reset_meter_provider):
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        yield spans, reader


def shut_down(tracer: Any) -> None:
    """Shut the tracer and meter providers of ``tracer`` down while the collector listens.

    Left to the session's end (or to the test's teardown), their last export would go to a
    collector already stopped, and be retried until the export timeout.
    """
    from pyramid_tracing import otel

    otel.tracer_provider(tracer).shutdown()
    with suppress(LookupError):  # no metrics of its own
        otel.meter_provider(tracer).shutdown()
