"""Module-level callables that the migration tests name by dotted name, as old apps do."""

from __future__ import annotations

from typing import Any

from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response

from pyramid_tracing import PyramidTracing

TRACER: Any = None
CALLS: list[dict[str, Any]] = []


def start_span_cb(span: Any, request: Any) -> None:
    span.set_tag("started.by", "start_span_cb")


def create_tracing(**settings: Any) -> PyramidTracing:
    CALLS.clear()
    CALLS.append({k: v for k, v in settings.items() if k == "component_name"})
    return PyramidTracing(TRACER)


def base_tracer_func(**settings: Any) -> MockTracer:
    return TRACER  # type: ignore[no-any-return]


def operation_name(request: Any) -> str:
    return f"custom:{request.path}"


def app_factory(global_config: Any, **settings: Any) -> Any:
    with Configurator(settings=settings) as config:
        config.add_route("hello", "/hello")
        config.add_view(lambda request: Response("hello"), route_name="hello")
        return config.make_wsgi_app()
