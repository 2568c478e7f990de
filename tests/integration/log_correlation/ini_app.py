"""The app a paste INI file makes in the logging test: one view that logs a line."""

from __future__ import annotations

import logging
from typing import Any

from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response

from pyramid_tracing import ScopeManager

log = logging.getLogger("shop")


def order(request: Any) -> Response:
    log.info("order placed")
    return Response("ok")


def main(global_config: dict[str, str], **settings: Any) -> Any:
    """The WSGI app, traced by a MockTracer."""
    settings["tracing.tracer"] = MockTracer(scope_manager=ScopeManager())
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_route("order", "/order")
        config.add_view(order, route_name="order")
        return config.make_wsgi_app()
