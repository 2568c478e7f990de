"""Interop matrix: two Pyramid apps under waitress, one trace, with each real tracer.

For every tracer, ``frontend`` (A) calls ``backend`` (B) over real HTTP on 127.0.0.1; the
finished spans must form one trace (A server span -> A client span -> B server span -> B child
span) and B must have received the tracer's own propagation header.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs
import opentracing
import pytest
import requests
from pyramid.config import Configurator

from pyramid_tracing import ScopeManager, get_tracing, traced_requests_session
from tests.helpers.serving import serve

pytest.importorskip("basictracer")
pytest.importorskip("jaeger_client")
pytest.importorskip("opentelemetry.sdk")

from basictracer import BasicTracer
from basictracer.recorder import InMemoryRecorder
from basictracer.text_propagator import TextPropagator
from jaeger_client import Config as JaegerConfig
from jaeger_client.thrift_gen.agent import Agent
from jaeger_client.thrift_gen.jaeger import ttypes as jaeger_types
from opentracing.mocktracer import MockTracer
from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport

from pyramid_tracing import otel
from tests.helpers.otel_globals import reset_otel_globals

PROPAGATION_HEADERS = frozenset(
    {"ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled", "uber-trace-id", "traceparent"}
)
_U64 = (1 << 64) - 1


@attrs.frozen
class SpanRecord:
    """A finished span, whatever tracer made it."""

    service: str
    name: str
    trace_id: int
    span_id: int
    parent_id: int | None
    tags: dict[str, Any]


class Kit:
    """One tracer of the matrix: how to make a tracer per service and read its spans back."""

    #: The propagation headers that must cross the wire (and no others).
    headers: frozenset[str]

    def settings(self, service: str) -> dict[str, Any]:
        raise NotImplementedError

    def collect(self, tracers: dict[str, opentracing.Tracer]) -> list[SpanRecord]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the kit opened."""


class MockKit(Kit):
    headers = frozenset({"ot-tracer-traceid", "ot-tracer-spanid"})

    def settings(self, service: str) -> dict[str, Any]:
        return {"tracing.tracer": MockTracer(scope_manager=ScopeManager())}

    def collect(self, tracers: dict[str, opentracing.Tracer]) -> list[SpanRecord]:
        return _ot_records(tracers, lambda tracer: tracer.finished_spans())


def _ot_records(
    tracers: dict[str, opentracing.Tracer], spans_of: Callable[[Any], Iterable[Any]]
) -> list[SpanRecord]:
    """The records of the finished spans of OpenTracing-style spans (MockTracer, basictracer)."""
    return [
        SpanRecord(
            service,
            span.operation_name,
            span.context.trace_id,
            span.context.span_id,
            span.parent_id,
            dict(span.tags),
        )
        for service, tracer in tracers.items()
        for span in spans_of(tracer)
    ]


class BasicKit(Kit):
    """basictracer with its text propagator for HTTP_HEADERS and TEXT_MAP.

    register_required_propagators() would also import its binary propagator, whose protobuf
    code was generated for protobuf 3 and fails to import under protobuf 4 and later.
    """

    headers = frozenset({"ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"})

    def settings(self, service: str) -> dict[str, Any]:
        tracer = BasicTracer(recorder=InMemoryRecorder(), scope_manager=ScopeManager())
        tracer.register_propagator(opentracing.Format.HTTP_HEADERS, TextPropagator())
        tracer.register_propagator(opentracing.Format.TEXT_MAP, TextPropagator())
        return {"tracing.tracer": tracer}

    def collect(self, tracers: dict[str, opentracing.Tracer]) -> list[SpanRecord]:
        return _ot_records(tracers, lambda tracer: tracer.recorder.get_spans())


def _jaeger_tag_value(tag: Any) -> Any:
    kinds = jaeger_types.TagType
    return {
        kinds.STRING: tag.vStr,
        kinds.BOOL: tag.vBool,
        kinds.LONG: tag.vLong,
        kinds.DOUBLE: tag.vDouble,
        kinds.BINARY: tag.vBinary,
    }[tag.vType]


def _stop_thread_loop(thread_loop: Any) -> None:
    """Stop the tornado IO loop thread that each jaeger-client tracer's agent channel runs.

    ThreadLoop.stop() calls IOLoop.stop() from the calling thread, which does not wake the loop;
    the stop must be scheduled on the loop itself.
    """
    io_loop = thread_loop._io_loop
    io_loop.add_callback(io_loop.stop)
    thread_loop._thread.join(timeout=5)
    io_loop.close()


class JaegerKit(Kit):
    """jaeger-client reporting over UDP to an agent socket opened here on 127.0.0.1."""

    headers = frozenset({"uber-trace-id"})

    def __init__(self) -> None:
        self.agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.agent.bind(("127.0.0.1", 0))
        self.port = self.agent.getsockname()[1]

    def settings(self, service: str) -> dict[str, Any]:
        config = JaegerConfig(
            config={
                "sampler": {"type": "const", "param": 1},
                "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": self.port},
                "logging": False,
            },
            service_name=service,
            scope_manager=ScopeManager(),
            validate=True,
        )
        # new_tracer(), not initialize_tracer(): the latter works once per process
        # (Config._initialized) and replaces opentracing.tracer.
        return {"tracing.tracer": config.new_tracer()}

    def collect(self, tracers: dict[str, opentracing.Tracer]) -> list[SpanRecord]:
        # close() makes a tornado (asyncio) Future, which needs a current event loop in this
        # thread; an earlier asyncio.run() in the main thread leaves none set.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            futures = [tracer.close() for tracer in tracers.values()]  # type: ignore[attr-defined]
            deadline = time.monotonic() + 5
            while not all(future.done() for future in futures) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
            for tracer in tracers.values():
                _stop_thread_loop(tracer.reporter._channel._thread_loop)  # type: ignore[attr-defined]
        batches = []
        self.agent.settimeout(0.2)
        while True:
            try:
                packet = self.agent.recv(65535)
            except TimeoutError:
                break
            # Each datagram is one thrift compact-protocol call: Agent.emitBatch(batch).
            protocol = TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(packet))
            name, _, _ = protocol.readMessageBegin()
            assert name == "emitBatch"
            arguments = Agent.emitBatch_args()
            arguments.read(protocol)
            protocol.readMessageEnd()
            batches.append(arguments.batch)
        return [
            SpanRecord(
                batch.process.serviceName,
                span.operationName,
                ((span.traceIdHigh & _U64) << 64) | (span.traceIdLow & _U64),
                span.spanId & _U64,
                (span.parentSpanId & _U64) or None,
                {tag.key: _jaeger_tag_value(tag) for tag in span.tags or ()},
            )
            for batch in batches
            for span in batch.spans
        ]

    def close(self) -> None:
        self.agent.close()


class OtelKit(Kit):
    """The OpenTelemetry SDK through the shim, configured by settings alone."""

    headers = frozenset({"traceparent"})

    def settings(self, service: str) -> dict[str, Any]:
        return {
            "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
            "tracing.otel.service_name": service,
            "tracing.otel.exporter": "memory",
            "tracing.semconv": "opentracing",
        }

    def collect(self, tracers: dict[str, opentracing.Tracer]) -> list[SpanRecord]:
        records = []
        for tracer in tracers.values():
            for span in otel.memory_exporter(tracer).get_finished_spans():
                assert span.context is not None
                records.append(
                    SpanRecord(
                        str(span.resource.attributes["service.name"]),
                        span.name,
                        span.context.trace_id,
                        span.context.span_id,
                        None if span.parent is None else span.parent.span_id,
                        dict(span.attributes or {}),
                    )
                )
        for tracer in tracers.values():
            otel.tracer_provider(tracer).shutdown()
        return records

    def close(self) -> None:
        reset_otel_globals()


KITS: dict[str, Callable[[], Kit]] = {
    "mocktracer": MockKit,
    "basictracer": BasicKit,
    "jaeger-client": JaegerKit,
    "opentelemetry": OtelKit,
}


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    made = KITS[request.param]()
    try:
        yield made
    finally:
        made.close()


def item_view(request: Any) -> dict[str, Any]:
    item = request.matchdict["item"]
    with request.tracing.start_active_span("load_item", tags={"item.id": item}):
        pass
    names = sorted(name.lower() for name in request.headers)
    return {"item": item, "headers": names}


def make_backend(settings: dict[str, Any]) -> Any:
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_settings({"tracing.instrument": ""})  # render spans: tests/integration
        config.add_route("item", "/items/{item}")
        config.add_view(item_view, route_name="item", renderer="json")
        return config.make_wsgi_app()


def make_frontend(settings: dict[str, Any], backend_url: str) -> Any:
    def front_view(request: Any) -> Any:
        with traced_requests_session() as session:
            url = f"{backend_url}/items/{request.matchdict['item']}"
            return session.get(url, timeout=10).json()

    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_settings({"tracing.instrument": ""})  # render spans: tests/integration
        config.add_route("front", "/front/{item}")
        config.add_view(front_view, route_name="front", renderer="json")
        return config.make_wsgi_app()


def run_two_services(
    kit: Kit, headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[SpanRecord]]:
    """Serve backend and frontend, call the frontend once, return its body and all spans."""
    backend = make_backend(kit.settings("backend"))
    tracers = {"backend": get_tracing(backend.registry).tracer}
    with serve(backend) as backend_url:
        frontend = make_frontend(kit.settings("frontend"), backend_url)
        tracers["frontend"] = get_tracing(frontend.registry).tracer
        with serve(frontend) as frontend_url:
            response = requests.get(f"{frontend_url}/front/7", headers=headers, timeout=10)
    assert response.status_code == 200
    return response.json(), kit.collect(tracers)


def by_name(spans: list[SpanRecord]) -> dict[str, SpanRecord]:
    names = [span.name for span in spans]
    assert len(set(names)) == len(names), names
    return {span.name: span for span in spans}


def test_one_trace_across_two_services(kit: Kit) -> None:
    """A's server span, A's client span, B's server span and B's child span form one trace."""
    body, spans = run_two_services(kit)
    spans_by_name = by_name(spans)
    assert set(spans_by_name) == {"front", "HTTP GET", "item", "load_item"}

    front = spans_by_name["front"]
    item = spans_by_name["item"]
    load = spans_by_name["load_item"]
    assert {span.trace_id for span in spans} == {front.trace_id}
    assert front.parent_id is None
    assert (front.service, item.service, load.service) == ("frontend", "backend", "backend")
    client = spans_by_name["HTTP GET"]
    assert client.service == "frontend"
    assert client.parent_id == front.span_id
    assert item.parent_id == client.span_id
    assert client.tags["span.kind"] == "client"
    assert client.tags["component"] == "requests"
    assert client.tags["http.status_code"] == 200
    assert str(client.tags["http.url"]).endswith("/items/7")
    assert load.parent_id == item.span_id

    for span, route in ((front, "front"), (item, "item")):
        assert span.tags["span.kind"] == "server"
        assert span.tags["component"] == "pyramid"
        assert span.tags["http.method"] == "GET"
        assert span.tags["http.status_code"] == 200
        assert span.tags["pyramid.route"] == route
    assert str(item.tags["http.url"]).endswith("/items/7")
    assert load.tags["item.id"] == "7"

    assert PROPAGATION_HEADERS.intersection(body["headers"]) == kit.headers


def test_jaeger_spans_carry_the_service_and_sampler() -> None:
    """jaeger-client's own thrift batches name the service and the const sampler on the root."""
    kit = JaegerKit()
    try:
        _, spans = run_two_services(kit)
    finally:
        kit.close()
    front = by_name(spans)["front"]
    assert front.tags["sampler.type"] == "const"
    assert front.tags["sampler.param"] is True
    assert {span.service for span in spans} == {"frontend", "backend"}
    # new_tracer() leaves Config's once-per-process guard and the global tracer alone.
    assert not JaegerConfig.initialized()
    assert type(opentracing.global_tracer()) is opentracing.Tracer


def test_a_foreign_traceparent_is_continued_across_both_services() -> None:
    """A W3C traceparent from a caller outside this library roots the whole two-service trace."""
    kit = OtelKit()
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    try:
        _, spans = run_two_services(kit, {"traceparent": caller})
    finally:
        kit.close()
    assert {span.trace_id for span in spans} == {0x0AF7651916CD43DD8448EB211C80319C}
    assert by_name(spans)["front"].parent_id == 0xB7AD6B7169203331
