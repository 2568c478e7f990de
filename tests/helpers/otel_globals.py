"""Reset OpenTelemetry's process-wide tracer provider between tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
