"""Usage examples that mypy --strict checks: the OpenTelemetry factory and its accessors."""

from __future__ import annotations

from collections.abc import Mapping

import opentracing
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typing_extensions import assert_type

from pyramid_tracing import RequestTracing
from pyramid_tracing.otel import memory_exporter, tracer_from_settings, tracer_provider
from pyramid_tracing.typing import TracerFactory

# The factory is a TracerFactory: what `tracing.tracer` may name.
factory: TracerFactory = tracer_from_settings

tracer = tracer_from_settings(**{"tracing.otel.exporter": "memory"})
assert_type(tracer, opentracing.Tracer)
assert_type(tracer_provider(tracer), TracerProvider)
assert_type(memory_exporter(tracer), InMemorySpanExporter)
spans: tuple[ReadableSpan, ...] = memory_exporter(tracer).get_finished_spans()

# request.tracing.baggage: the incoming (and added) baggage, read-only.


def read_baggage(state: RequestTracing) -> str | None:
    baggage = state.baggage
    assert_type(baggage, Mapping[str, str])
    return baggage.get("tenant")
