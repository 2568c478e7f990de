"""Small real Pyramid apps shared by the tests: a few routes, views that fail in each way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from pyramid.response import Response
from webtest import TestApp


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
