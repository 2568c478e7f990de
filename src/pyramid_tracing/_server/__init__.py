"""The server span's three phases (start, routed, finish), one runner per application.

:func:`server_spans` builds the runner for a backend: :mod:`.opentracing` for OpenTracing
tracers (their own start, and the shortcuts decided once per tracer), :mod:`.opentelemetry`
for the OpenTelemetry API. The phases themselves are :mod:`.phases`; what the span says at
the start and at the finish is :mod:`.tags`.
"""

from __future__ import annotations

from .._backends.base import Backend
from .._backends.opentracing import OpenTracingBackend
from .._settings import TracingSettings
from .._tags import TagPolicy
from ..typing import StartSpanHook
from .opentracing import OpenTracingSpans
from .phases import ServerSpans

__all__ = ["ServerSpans", "server_spans"]


def server_spans(
    tracing: object,
    backend: Backend,
    policy: TagPolicy,
    settings: TracingSettings,
    start_hook: StartSpanHook | None,
) -> ServerSpans:
    """The runner of the phases of ``tracing``'s requests on ``backend``.

    The OpenTelemetry module is imported only for its backend: the package works without
    the ``otel`` extra.
    """
    if isinstance(backend, OpenTracingBackend):
        return OpenTracingSpans(tracing, backend, policy, settings, start_hook)
    from .._backends.opentelemetry import OpenTelemetryBackend
    from .opentelemetry import OtelSpans

    if not isinstance(backend, OpenTelemetryBackend):  # pragma: no cover - two backends
        msg = f"No server span phases for the backend {backend!r}"
        raise TypeError(msg)
    instruments = backend.tracer.metrics
    if instruments is not None:
        from .metrics import MeteredSpans

        return MeteredSpans(tracing, backend, policy, settings, start_hook, instruments)
    return OtelSpans(tracing, backend, policy, settings, start_hook)
