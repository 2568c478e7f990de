"""An app factory and tracer factory referenced by dotted name from INI files in tests."""

from __future__ import annotations

from typing import Any

from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response

from pyramid_tracing import ScopeManager

TRACER = MockTracer(scope_manager=ScopeManager())


def make_tracer(**settings: Any) -> MockTracer:
    """The tracer factory: called once with the app settings."""
    assert "tracing.operation_name" in settings
    TRACER.reset()
    return TRACER


def main(global_config: Any, **settings: Any) -> Any:
    """The WSGI app factory."""
    with Configurator(settings=settings) as config:
        config.add_route("hello", "/hello/{name}")
        config.add_view(lambda request: Response("hi"), route_name="hello")
        config.add_route("health", "/health")
        config.add_view(lambda request: Response("ok"), route_name="health")
        return config.make_wsgi_app()
