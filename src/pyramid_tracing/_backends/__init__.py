"""The span backends behind one interface (:class:`.base.Backend`): OpenTracing, OpenTelemetry.

:func:`backend_for` picks one for a tracer: the OpenTelemetry backend for the
:class:`~.opentelemetry.OtelTracer` that :func:`pyramid_tracing.otel.tracer_from_settings`
returns, the OpenTracing backend for any other OpenTracing tracer (or the global one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import opentracing

from .base import Backend
from .opentracing import OpenTracingBackend

if TYPE_CHECKING:
    from .._tags import TagPolicy

__all__ = ["Backend", "backend_for"]

_OTEL_MODULE: Final = "pyramid_tracing._backends.opentelemetry"


def backend_for(tracer: opentracing.Tracer | None, semconv: str, policy: TagPolicy) -> Backend:
    """The backend serving ``tracer`` (``None``: the OpenTracing global tracer, at each use).

    The OpenTelemetry module is imported only for its own tracer, so that the package works
    without the ``otel`` extra.
    """
    if type(tracer).__module__ == _OTEL_MODULE:
        from .opentelemetry import OpenTelemetryBackend, OtelTracer

        if isinstance(tracer, OtelTracer):
            return OpenTelemetryBackend(tracer, semconv, policy)
    return OpenTracingBackend(tracer, semconv, policy)
