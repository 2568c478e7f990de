"""Zero-code, in process: PyramidTracingInstrumentor on real Pyramid apps (WebTest).

The global tracer and meter providers are set up by the test, as ``opentelemetry-instrument``
and its distro would; the apps' settings have no ``tracing.*`` key unless a test says so.
``tests/integration/test_zero_code_servers.py`` runs ``opentelemetry-instrument`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.instrumentation.instrumentor")

from opentelemetry.instrumentation.pyramid import PyramidInstrumentor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pyramid.config import Configurator
from pyramid.interfaces import IRootFactory, ITweens
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing.otel.instrumentor import PyramidTracingInstrumentor, instrumented_settings
from tests.helpers.otel_globals import global_providers

ORIGINAL_INIT = Configurator.__init__
TM_LIST = "pyramid_tm.tm_tween_factory\npyramid.tweens.excview_tween_factory"


def order(request: Any) -> Response:
    return Response(f"order {request.matchdict['id']}")


@pytest.fixture
def exported() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    """Global providers as a distro sets them up; both instrumentors off afterwards."""
    with global_providers() as (spans, reader):
        try:
            yield spans, reader
        finally:
            for instrumentor in (PyramidTracingInstrumentor(), PyramidInstrumentor()):
                if instrumentor.is_instrumented_by_opentelemetry:
                    instrumentor.uninstrument()
    # Untraced again (the wrappers may stay, passing through: see the test on that).
    assert "tracing.tracer" not in make_app().app.registry.settings
    # Then Configurator as it was, for the tests that run next.
    Configurator.__init__ = ORIGINAL_INIT  # type: ignore[method-assign]


def make_app(settings: dict[str, str] | None = None, *includes: str) -> TestApp:
    """An app as a user writes it: no pyramid_tracing in sight unless ``includes`` says so."""
    with Configurator(settings=settings or {}) as config:
        for name in includes:
            config.include(name)
        config.add_route("order", "/orders/{id}")
        config.add_view(order, route_name="order")
        config.add_route("health", "/health")
        config.add_view(lambda request: Response("ok"), route_name="health")
        return TestApp(config.make_wsgi_app())


def servers(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]


def only_server_span(spans: InMemorySpanExporter, scope: str) -> ReadableSpan:
    """The one server span exported, made by the instrumentation ``scope``."""
    (server,) = servers(spans)
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == scope
    return server


def test_an_app_without_tracing_settings_is_traced_on_the_global_providers(
    exported: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    """One server span from pyramid_tracing's scope, and the duration metric, with no INI
    change; uninstrument() puts Configurator back and the next app is not traced."""
    spans, reader = exported
    PyramidTracingInstrumentor().instrument()
    assert Configurator.__init__ is not ORIGINAL_INIT
    make_app().get("/orders/7")
    server = only_server_span(spans, "pyramid_tracing")
    assert server.name == "GET /orders/{id}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/orders/{id}"
    data = reader.get_metrics_data()
    assert data is not None
    names = [
        metric.name
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    ]
    assert names == ["http.server.request.duration"]

    PyramidTracingInstrumentor().uninstrument()
    assert Configurator.__init__ is ORIGINAL_INIT
    spans.clear()
    make_app().get("/orders/8")
    assert spans.get_finished_spans() == ()


def test_the_app_keeps_its_package() -> None:
    """Configurator() finds its caller's package as without the wrapper (relative asset specs,
    config.scan())."""
    expected = Configurator().package
    PyramidTracingInstrumentor().instrument()
    try:
        assert Configurator().package is expected
        assert Configurator(settings={}).package is expected
        assert Configurator(None, None, {}).package is expected
    finally:
        PyramidTracingInstrumentor().uninstrument()


def root(request: Any) -> dict[str, str]:
    """A root factory."""
    return {}


def test_arguments_by_position_are_kept() -> None:
    """Configurator(registry, package, settings, root_factory) by position: every argument
    reaches Pyramid, and the settings get the tracing defaults."""
    PyramidTracingInstrumentor().instrument()
    try:
        config = Configurator(None, "tests", {"app.key": "1"}, root)
        config.commit()
    finally:
        PyramidTracingInstrumentor().uninstrument()
    assert config.package_name == "tests"
    assert config.registry.settings["app.key"] == "1"
    assert config.registry.settings["tracing.otel.provider"] == "global"
    assert config.registry.queryUtility(IRootFactory) is root


def test_an_app_that_includes_pyramid_tracing_is_traced_once(
    exported: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    """pyramid.includes and config.include both name pyramid_tracing: one server span."""
    spans, _ = exported
    PyramidTracingInstrumentor().instrument()
    settings = {"pyramid.includes": "pyramid_tracing"}
    make_app(settings, "pyramid_tracing").get("/orders/7")
    assert [span.name for span in spans.get_finished_spans()] == ["GET /orders/{id}"]


def test_the_ini_files_tracing_keys_still_apply(
    exported: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    """tracing.exclude_paths and tracing.semconv from the settings are honoured."""
    spans, _ = exported
    PyramidTracingInstrumentor().instrument()
    app = make_app({"tracing.exclude_paths": "/health", "tracing.semconv": "opentracing"})
    app.get("/health")
    app.get("/orders/7")
    (server,) = spans.get_finished_spans()
    assert server.attributes is not None
    assert server.attributes["http.url"] == "http://localhost/orders/7"


def test_an_explicit_tween_list_gets_every_span(
    exported: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    """pyramid_tm in an explicit pyramid.tweens list: the tracing tween goes above it and the
    transaction tween right under it, so the commit's span is the server span's child."""
    spans, _ = exported
    PyramidTracingInstrumentor().instrument()
    app = make_app({"pyramid.tweens": TM_LIST}, "pyramid_tm")
    tweens = app.app.registry.queryUtility(ITweens)
    assert [name for name, _ in tweens.explicit] == [
        "pyramid_tracing.tracing_tween_factory",
        "pyramid_tm.tm_tween_factory",
        "pyramid_tracing.transaction_tween_factory",
        "pyramid.tweens.excview_tween_factory",
    ]
    app.get("/orders/7")
    commit, server = spans.get_finished_spans()
    assert (commit.name, server.name) == ("transaction commit", "GET /orders/{id}")
    assert commit.parent is not None
    assert commit.parent.span_id == server.context.span_id


@pytest.mark.parametrize("order", ["peer-first", "peer-last"])
def test_with_opentelemetry_instrumentation_pyramid_a_request_has_one_server_span(
    exported: tuple[InMemorySpanExporter, InMemoryMetricReader], order: str
) -> None:
    """Both instrumentors on, in either order (as entry points load): one server span, ours;
    the peer's tween passes through. Alone, the peer makes its own (the test can fail)."""
    spans, _ = exported
    PyramidInstrumentor().instrument()
    make_app().get("/orders/7")
    only_server_span(spans, "opentelemetry.instrumentation.pyramid.callbacks")
    PyramidInstrumentor().uninstrument()
    spans.clear()

    if order == "peer-first":
        PyramidInstrumentor().instrument()
    PyramidTracingInstrumentor().instrument()
    if order == "peer-last":
        PyramidInstrumentor().instrument()
    make_app().get("/orders/7")
    only_server_span(spans, "pyramid_tracing")


def test_uninstrumented_under_the_peers_wrapper_it_passes_calls_through(
    exported: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    """uninstrument() while the peer's wrapper is outermost: the peer's stays (not unwrapped
    in our place) and ours passes every call through, until instrumented again."""
    spans, _ = exported
    PyramidTracingInstrumentor().instrument()
    PyramidInstrumentor().instrument()
    PyramidTracingInstrumentor().uninstrument()
    app = make_app()
    assert "tracing.tracer" not in app.app.registry.settings
    app.get("/orders/7")
    only_server_span(spans, "opentelemetry.instrumentation.pyramid.callbacks")
    PyramidInstrumentor().uninstrument()
    assert "tracing.tracer" not in make_app().app.registry.settings
    # Instrumented again over the wrapper left in place: one include, one tween, one span.
    PyramidTracingInstrumentor().instrument()
    spans.clear()
    app = make_app()
    assert app.app.registry.settings["tracing.otel.provider"] == "global"
    app.get("/orders/7")
    only_server_span(spans, "pyramid_tracing")


def test_a_registry_given_to_configurator_is_left_alone(
    exported: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    """Configurator(registry=...) (with_package, testing.setUp) adds nothing to the app."""
    spans, _ = exported
    registry = make_app().app.registry
    PyramidTracingInstrumentor().instrument()
    for config in (Configurator(registry=registry), Configurator(registry)):
        config.commit()
        assert "tracing.tracer" not in registry.settings
        tweens = registry.queryUtility(ITweens)
        assert [name for name, _ in tweens.implicit()] == ["pyramid.tweens.excview_tween_factory"]
    TestApp(config.make_wsgi_app()).get("/orders/7")
    assert spans.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("settings", "added"),
    [
        (
            {},
            {
                "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
                "tracing.otel.provider": "global",
            },
        ),
        # The INI file configures a provider of its own: it keeps it.
        (
            {"tracing.otel.exporter": "console"},
            {"tracing.tracer": "pyramid_tracing.otel:tracer_from_settings"},
        ),
        (
            {"tracing.otel.provider": "own"},
            {"tracing.tracer": "pyramid_tracing.otel:tracer_from_settings"},
        ),
        # Another tracer is named (here pyramid_opentracing's key): nothing is added.
        ({"ot.base_tracer": "tests.helpers.inifactory:make_tracer"}, {}),
        ({"tracing.tracer": "tests.helpers.inifactory:make_tracer"}, {}),
    ],
)
def test_zero_code_adds_only_what_is_absent(
    settings: dict[str, str], added: dict[str, str]
) -> None:
    assert instrumented_settings(settings) == {**settings, **added}


def test_a_transaction_free_app_gets_only_the_tracing_tween() -> None:
    """Without pyramid_tm, or with tracing.instrument not tracing it, no transaction tween."""
    listed = {"pyramid.tweens": "pyramid.tweens.excview_tween_factory"}
    assert instrumented_settings(listed)["pyramid.tweens"] == (
        "pyramid_tracing.tracing_tween_factory\npyramid.tweens.excview_tween_factory"
    )
    untraced = {"pyramid.tweens": TM_LIST, "tracing.instrument": "render"}
    assert "transaction_tween" not in instrumented_settings(untraced)["pyramid.tweens"]
