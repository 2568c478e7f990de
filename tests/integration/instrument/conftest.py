"""The four real tracers, each read back as plain span records, and pyramid_tracing apps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import opentracing
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.util._once import Once
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_tracing import ScopeManager, otel

pytest.importorskip("basictracer")
pytest.importorskip("jaeger_client")

from basictracer import BasicTracer
from basictracer.recorder import InMemoryRecorder
from jaeger_client import ConstSampler
from jaeger_client import Tracer as JaegerTracer
from jaeger_client.reporter import InMemoryReporter
from jaeger_client.thrift_gen.jaeger import ttypes as jaeger_types


@attrs.frozen
class Record:
    """A finished span, whatever tracer made it."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int | None
    tags: dict[str, Any]
    #: The ``error.kind`` of each error log (or OpenTelemetry exception event).
    errors: list[str]


class Kit:
    """One real tracer and a way to read its finished spans back."""

    name: str
    tracer: opentracing.Tracer

    def records(self) -> list[Record]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the kit opened."""


def _log_errors(logs: Any) -> list[str]:
    return [str(log.key_values["error.kind"]) for log in logs if "error.kind" in log.key_values]


class MockKit(Kit):
    name = "mocktracer"

    def __init__(self) -> None:
        self.tracer = MockTracer(scope_manager=ScopeManager())

    def records(self) -> list[Record]:
        return [
            Record(
                span.operation_name,
                span.context.trace_id,
                span.context.span_id,
                span.parent_id,
                dict(span.tags),
                _log_errors(span.logs),
            )
            for span in self.tracer.finished_spans()
        ]


class BasicKit(Kit):
    name = "basictracer"

    def __init__(self) -> None:
        self.recorder = InMemoryRecorder()
        self.tracer = BasicTracer(recorder=self.recorder, scope_manager=ScopeManager())

    def records(self) -> list[Record]:
        return [
            Record(
                span.operation_name,
                span.context.trace_id,
                span.context.span_id,
                span.parent_id,
                dict(span.tags),
                _log_errors(span.logs),
            )
            for span in self.recorder.get_spans()
        ]


def _jaeger_value(tag: Any) -> Any:
    kinds = jaeger_types.TagType
    return {
        kinds.STRING: tag.vStr,
        kinds.BOOL: tag.vBool,
        kinds.LONG: tag.vLong,
        kinds.DOUBLE: tag.vDouble,
        kinds.BINARY: tag.vBinary,
    }[tag.vType]


class JaegerKit(Kit):
    name = "jaeger-client"

    def __init__(self) -> None:
        self.reporter = InMemoryReporter()
        self.tracer = JaegerTracer(
            service_name="test",
            reporter=self.reporter,
            sampler=ConstSampler(True),
            scope_manager=ScopeManager(),
        )

    def records(self) -> list[Record]:
        records = []
        for span in self.reporter.get_spans():
            tags = {tag.key: _jaeger_value(tag) for tag in span.tags}
            errors = []
            for log in span.logs:
                fields = {tag.key: _jaeger_value(tag) for tag in log.fields}
                if "error.kind" in fields:
                    errors.append(str(fields["error.kind"]))
            records.append(
                Record(
                    span.operation_name,
                    span.context.trace_id,
                    span.context.span_id,
                    span.context.parent_id or None,
                    tags,
                    errors,
                )
            )
        return records

    def close(self) -> None:
        # close() makes a tornado Future: it needs an event loop in this thread.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.tracer.close()  # type: ignore[attr-defined]
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class OtelKit(Kit):
    name = "opentelemetry"

    def __init__(self) -> None:
        self.tracer = otel.tracer_from_settings(
            **{"tracing.otel.service_name": "test", "tracing.otel.exporter": "memory"}
        )

    def records(self) -> list[Record]:
        records = []
        for span in otel.memory_exporter(self.tracer).get_finished_spans():
            assert span.context is not None
            errors = [
                str((event.attributes or {}).get("error.kind", ""))
                for event in span.events
                if "error.kind" in (event.attributes or {})
            ]
            records.append(
                Record(
                    span.name,
                    span.context.trace_id,
                    span.context.span_id,
                    None if span.parent is None else span.parent.span_id,
                    dict(span.attributes or {}),
                    errors,
                )
            )
        return records

    def close(self) -> None:
        otel.tracer_provider(self.tracer).shutdown()
        provider = otel_trace._TRACER_PROVIDER
        otel_trace._TRACER_PROVIDER_SET_ONCE = Once()
        otel_trace._TRACER_PROVIDER = None
        shutdown = getattr(provider, "shutdown", None)
        if shutdown is not None:
            shutdown()


KITS: dict[str, Callable[[], Kit]] = {
    kit.name: kit for kit in (MockKit, BasicKit, JaegerKit, OtelKit)
}


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    """Each of the four real tracers in turn."""
    made = KITS[request.param]()
    try:
        yield made
    finally:
        made.close()


def by_name(records: list[Record]) -> dict[str, Record]:
    """The records by operation name (each name once)."""
    names = [record.name for record in records]
    assert len(set(names)) == len(names), names
    return {record.name: record for record in records}


def make_app(
    tracer: opentracing.Tracer,
    configure: Callable[[Configurator], None],
    settings: dict[str, Any] | None = None,
) -> TestApp:
    """A real Pyramid app traced by ``tracer``, with its routes from ``configure``."""
    with Configurator(
        settings={"tracing.tracer": tracer, "tracing.semconv": "opentracing", **(settings or {})}
    ) as config:
        config.include("pyramid_tracing")
        configure(config)
        app = config.make_wsgi_app()
    return TestApp(app)
