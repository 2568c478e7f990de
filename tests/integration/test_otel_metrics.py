"""The HTTP server metrics of real Pyramid apps, read from an InMemoryMetricReader.

The global meter and tracer providers are set up by the test, as ``opentelemetry-instrument``
would, and the app uses them with ``tracing.otel.provider = global``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import get_tracing
from pyramid_tracing._server.metrics import MeteredSpans
from pyramid_tracing._server.opentelemetry import OtelSpans
from pyramid_tracing.otel import memory_exporter, meter_provider, metrics_reader
from tests.helpers.otel_globals import global_providers, reset_otel_globals

HERE = __name__
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


def tenant(request: Any) -> dict[str, str]:
    """A metrics_attributes_hook: the tenant of the request."""
    return {"app.tenant": request.headers.get("X-Tenant", "none")}


def broken_hook(request: Any) -> dict[str, str]:
    raise RuntimeError("hook down")


def order(request: Any) -> Response:
    return Response(f"order {request.matchdict['id']}")


def boom(request: Any) -> Response:
    raise ValueError("boom")


def unavailable(request: Any) -> Response:
    return Response("down", status=503)


def missing(request: Any) -> Response:
    raise HTTPNotFound()


@pytest.fixture
def providers() -> Iterator[tuple[InMemoryMetricReader, InMemorySpanExporter]]:
    with global_providers() as (spans, reader):
        yield reader, spans


def make_app(**settings: str) -> TestApp:
    base = {
        "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
        "tracing.otel.provider": "global",
    }
    with Configurator(settings={**base, **settings}) as config:
        config.include("pyramid_tracing")
        config.add_route("order", "/orders/{id}")
        config.add_view(order, route_name="order")
        config.add_route("boom", "/boom")
        config.add_view(boom, route_name="boom")
        config.add_route("down", "/down")
        config.add_view(unavailable, route_name="down")
        config.add_route("missing", "/missing")
        config.add_view(missing, route_name="missing")
        return TestApp(config.make_wsgi_app())


def points(reader: InMemoryMetricReader) -> dict[str, tuple[str, list[Any]]]:
    """Each metric's unit and data points, by name."""
    data = reader.get_metrics_data()
    found: dict[str, tuple[str, list[Any]]] = {}
    if data is None:
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "pyramid_tracing"
            for metric in scope.metrics:
                found[metric.name] = (metric.unit, list(metric.data.data_points))
    return found


def test_the_duration_histogram_has_the_conventions_attributes_and_exemplars(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """http.server.request.duration: seconds, the advised buckets, the route pattern, and an
    exemplar whose trace id is the server span's."""
    reader, spans = providers
    app = make_app()
    app.get("/orders/7")
    app.get("/orders/8")
    found = points(reader)
    assert sorted(found) == ["http.server.request.duration"]
    unit, data = found["http.server.request.duration"]
    assert unit == "s"
    (point,) = data
    assert dict(point.attributes) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "http.response.status_code": 200,
        "http.route": "/orders/{id}",
        "network.protocol.version": "1.0",
    }
    assert point.count == 2
    assert tuple(point.explicit_bounds) == BUCKETS
    span_ids = {
        (span.context.trace_id, span.context.span_id) for span in spans.get_finished_spans()
    }
    assert len(span_ids) == 2
    assert {(exemplar.trace_id, exemplar.span_id) for exemplar in point.exemplars} <= span_ids
    assert point.exemplars


def test_errors_get_an_error_type(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """An escaped exception and a 5xx response get error.type; a 404 gets none."""
    reader, _ = providers
    app = make_app()
    with pytest.raises(ValueError, match="boom"):
        app.get("/boom")
    app.get("/down", status=503)
    app.get("/missing", status=404)
    _, data = points(reader)["http.server.request.duration"]
    found = {
        point.attributes["http.route"]: (
            point.attributes["http.response.status_code"],
            point.attributes.get("error.type"),
        )
        for point in data
    }
    assert found == {
        "/boom": (500, "ValueError"),
        "/down": (503, "503"),
        "/missing": (404, None),
    }


def test_a_request_the_sampler_drops_is_measured(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """Metrics are not sampled: a dropped request is counted, with no exemplar."""
    reader, _ = providers
    reset_otel_globals()
    trace.set_tracer_provider(TracerProvider(sampler=ALWAYS_OFF))
    app = make_app()
    app.get("/orders/1")
    _, (point,) = points(reader)["http.server.request.duration"]
    assert point.count == 1
    assert point.attributes["http.route"] == "/orders/{id}"
    assert list(point.exemplars) == []


def test_opt_in_metrics_and_the_attributes_hook(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """active_requests (back to 0) and the body sizes; the hook's attributes on each
    histogram, not on the up-down counter (its +1 and -1 must match)."""
    reader, _ = providers
    app = make_app(
        **{
            "tracing.otel.metrics": "duration active_requests body_size",
            "tracing.metrics_attributes_hook": f"{HERE}:tenant",
        }
    )
    app.post("/orders/3", "x" * 12, headers={"X-Tenant": "acme"})
    found = points(reader)
    assert sorted(found) == [
        "http.server.active_requests",
        "http.server.request.body.size",
        "http.server.request.duration",
        "http.server.response.body.size",
    ]
    unit, (active,) = found["http.server.active_requests"]
    assert (unit, dict(active.attributes), active.value) == (
        "{request}",
        {"http.request.method": "POST", "url.scheme": "http"},
        0,
    )
    unit, (request_size,) = found["http.server.request.body.size"]
    assert (unit, request_size.sum, request_size.attributes["app.tenant"]) == ("By", 12, "acme")
    unit, (response_size,) = found["http.server.response.body.size"]
    assert (unit, response_size.sum) == ("By", len("order 3"))
    _, (duration,) = found["http.server.request.duration"]
    assert duration.attributes["app.tenant"] == "acme"


def test_a_failing_hook_fails_open(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises changes no response, is reported, and the duration is recorded."""
    reader, _ = providers
    app = make_app(**{"tracing.metrics_attributes_hook": f"{HERE}:broken_hook"})
    assert app.get("/orders/5").text == "order 5"
    _, (point,) = points(reader)["http.server.request.duration"]
    assert "app.tenant" not in point.attributes
    assert point.count == 1
    assert caplog.messages == [
        "the metrics_attributes_hook failed with RuntimeError; the request "
        "goes on untouched (0 more such failures since the last message)"
    ]


def test_excluded_paths_and_no_metrics_record_nothing(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """An excluded path records no metric; metrics = none leaves the plain span runner."""
    reader, _ = providers
    make_app(**{"tracing.exclude_paths": "^/orders/"}).get("/orders/1")
    assert points(reader) == {}
    app = make_app(**{"tracing.otel.metrics": "none"})
    tracing = app.app.registry.settings["ot.tracing"]
    assert type(tracing._spans) is OtelSpans
    app.get("/orders/1")
    assert points(reader) == {}


def test_excluded_requests_are_measured_when_asked(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """metrics_include_excluded = true: excluded paths and routes get no span, but their
    duration (and active requests) with the route, the status and error.type; no exemplar."""
    reader, spans = providers
    app = make_app(
        **{
            "tracing.exclude_paths": "^/orders/",
            "tracing.exclude_routes": "boom",
            "tracing.otel.metrics": "duration active_requests",
            "tracing.otel.metrics_include_excluded": "true",
        }
    )
    app.get("/orders/1")
    app.get("/orders/2")
    with pytest.raises(ValueError, match="boom"):
        app.get("/boom")
    assert spans.get_finished_spans() == ()
    (unit, duration), (_, active) = (
        points(reader)["http.server.request.duration"],
        points(reader)["http.server.active_requests"],
    )
    assert unit == "s"
    by_route = {point.attributes["http.route"]: point for point in duration}
    assert set(by_route) == {"/orders/{id}", "/boom"}
    assert by_route["/orders/{id}"].count == 2
    assert by_route["/orders/{id}"].attributes["http.response.status_code"] == 200
    assert by_route["/boom"].attributes["error.type"] == "ValueError"
    assert by_route["/boom"].attributes["http.response.status_code"] == 500
    assert all(point.exemplars == [] for point in duration)
    assert [point.value for point in active] == [0]


def test_an_excluded_request_to_a_decorated_view_is_counted_once(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """metrics_include_excluded, and @tracing.trace() on an excluded view (which gives it a
    span): one duration point, counted once, with the span's exemplar; active back to 0."""
    reader, spans = providers
    settings = {
        "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
        "tracing.otel.provider": "global",
        "tracing.exclude_paths": "^/health",
        "tracing.otel.metrics": "duration active_requests",
        "tracing.otel.metrics_include_excluded": "true",
    }
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.commit()
        tracing = get_tracing(config.registry)

        @tracing.trace()
        def health(request: Any) -> Response:
            return Response("ok")

        config.add_route("health", "/health")
        config.add_view(health, route_name="health")
        app = TestApp(config.make_wsgi_app())
    app.get("/health")
    (span,) = spans.get_finished_spans()
    (point,) = points(reader)["http.server.request.duration"][1]
    assert point.count == 1
    assert [exemplar.span_id for exemplar in point.exemplars] == [span.context.span_id]
    assert [point.value for point in points(reader)["http.server.active_requests"][1]] == [0]


def test_an_own_provider_with_the_memory_metrics_exporter() -> None:
    """provider = own, metrics_exporter = memory: the app's own reader gets its metrics."""
    app = make_app(
        **{
            "tracing.otel.provider": "own",
            "tracing.otel.exporter": "memory",
            "tracing.otel.metrics_exporter": "memory",
        }
    )
    app.get("/orders/2")
    tracer = app.app.registry.settings["ot.tracing"].tracer
    assert isinstance(app.app.registry.settings["ot.tracing"]._spans, MeteredSpans)
    data = metrics_reader(tracer).get_metrics_data()
    assert data is not None
    (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
    (point,) = metric.data.data_points
    (span,) = memory_exporter(tracer).get_finished_spans()
    assert [exemplar.trace_id for exemplar in point.exemplars] == [span.context.trace_id]


def test_metrics_reader_names_the_missing_setting() -> None:
    """metrics_reader() of a tracer without the memory metrics exporter says which key."""
    app = make_app(**{"tracing.otel.provider": "own", "tracing.otel.exporter": "memory"})
    tracer = app.app.registry.settings["ot.tracing"].tracer
    with pytest.raises(LookupError) as info:
        metrics_reader(tracer)
    assert str(info.value) == (
        f"The tracer {tracer!r} was not created with tracing.otel.metrics_exporter = memory."
    )


def test_meter_provider_is_the_one_holding_the_apps_reader() -> None:
    """meter_provider() of a tracer with its own metrics: the provider its reader is in."""
    app = make_app(
        **{
            "tracing.otel.provider": "own",
            "tracing.otel.exporter": "memory",
            "tracing.otel.metrics_exporter": "memory",
        }
    )
    tracer = app.app.registry.settings["ot.tracing"].tracer
    app.get("/orders/2")
    provider = meter_provider(tracer)
    provider.get_meter("probe").create_counter("probe.count").add(1)
    assert provider.force_flush()
    data = metrics_reader(tracer).get_metrics_data()
    assert data is not None
    names = {
        metric.name
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert names == {"http.server.request.duration", "probe.count"}


@pytest.mark.parametrize(
    "settings",
    [
        {"tracing.otel.provider": "own", "tracing.otel.exporter": "memory"},
        {
            "tracing.otel.provider": "own",
            "tracing.otel.exporter": "otlp",
            "tracing.otel.metrics": "none",
        },
        {},
    ],
    ids=["metrics_exporter-none", "metrics-none", "provider-global"],
)
def test_meter_provider_says_why_there_is_none(settings: dict[str, str]) -> None:
    """No meter provider built here (no exporter, no metrics, the global provider): a
    LookupError naming the keys."""
    app = make_app(**settings)
    tracer = app.app.registry.settings["ot.tracing"].tracer
    with pytest.raises(LookupError) as info:
        meter_provider(tracer)
    assert str(info.value) == (
        f"The tracer {tracer!r} records no metrics in a meter provider of its own "
        "(tracing.otel.metrics or tracing.otel.metrics_exporter is none, or "
        "tracing.otel.provider is global)."
    )


def test_a_streamed_body_is_inside_the_recorded_duration(
    providers: tuple[InMemoryMetricReader, InMemorySpanExporter],
) -> None:
    """The duration of a streamed response is recorded when its body is closed: it covers
    the time the body took to produce, as the server span does.
    """
    import time

    reader, spans = providers

    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            time.sleep(0.05)
            yield b"chunk "

    def stream(request: Any) -> Response:
        return Response(app_iter=chunks(), content_type="text/plain")

    with Configurator(
        settings={
            "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
            "tracing.otel.provider": "global",
        }
    ) as config:
        config.include("pyramid_tracing")
        config.add_route("stream", "/stream")
        config.add_view(stream, route_name="stream")
        app = TestApp(config.make_wsgi_app())
    assert app.get("/stream").text == "chunk chunk chunk "
    _, (point,) = points(reader)["http.server.request.duration"]
    assert point.count == 1
    assert point.sum >= 0.15
    (server,) = [span for span in spans.get_finished_spans() if span.name == "GET /stream"]
    assert server.end_time is not None
    assert server.start_time is not None
    assert (server.end_time - server.start_time) / 1e9 >= 0.15
