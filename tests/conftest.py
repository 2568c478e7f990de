"""Shared fixtures: a MockTracer on pyramid_tracing's ScopeManager and small real Pyramid apps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import opentracing
import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager
from pyramid_tracing._failures import failures


@pytest.fixture
def tracer() -> MockTracer:
    """OpenTracing's reference tracer on the contextvars ScopeManager."""
    return MockTracer(scope_manager=ScopeManager())


@pytest.fixture(autouse=True)
def _reset_failure_log() -> Iterator[None]:
    failures.reset()
    yield
    failures.reset()


@pytest.fixture(autouse=True)
def _restore_global_tracer() -> Iterator[None]:
    saved = opentracing.tracer
    yield
    opentracing.tracer = saved


class Boom(Exception):
    """The application error the demo views raise."""


def hello(request: Any) -> Response:
    return Response(f"hello {request.matchdict['name']}")


def boom(request: Any) -> Response:
    raise Boom("kaboom")


def server_error(request: Any) -> Response:
    return Response("bad", status=503)


def forbidden(request: Any) -> Response:
    raise HTTPForbidden()


def handled_view(request: Any) -> Response:
    raise KeyError("handled")


def key_error_view(exc: KeyError, request: Any) -> Response:
    return Response(f"handled {exc!s}", status=500)


def health(request: Any) -> Response:
    return Response("ok")


def not_found_view(exc: HTTPNotFound, request: Any) -> Response:
    return Response("custom not found", status=404)


def build_app(
    settings: dict[str, Any],
    configure: Callable[[Configurator], None] | None = None,
    *,
    include: bool = True,
) -> TestApp:
    """A real Pyramid app with a few routes, wrapped in WebTest."""
    with Configurator(settings=settings) as config:
        if include:
            config.include("pyramid_tracing")
        config.add_route("hello", "/hello/{name}")
        config.add_view(hello, route_name="hello")
        config.add_route("boom", "/boom")
        config.add_view(boom, route_name="boom")
        config.add_route("server_error", "/server-error")
        config.add_view(server_error, route_name="server_error")
        config.add_route("forbidden", "/forbidden")
        config.add_view(forbidden, route_name="forbidden")
        config.add_route("handled", "/handled")
        config.add_view(handled_view, route_name="handled")
        config.add_view(key_error_view, context=KeyError)
        config.add_route("health", "/health")
        config.add_view(health, route_name="health")
        if configure is not None:
            configure(config)
        app = config.make_wsgi_app()
    return TestApp(app)


@pytest.fixture
def make_app(tracer: MockTracer) -> Callable[..., TestApp]:
    """Build an app traced by ``tracer`` with extra settings."""

    def make(
        settings: dict[str, Any] | None = None,
        configure: Callable[[Configurator], None] | None = None,
    ) -> TestApp:
        return build_app({"tracing.tracer": tracer, **(settings or {})}, configure)

    return make
