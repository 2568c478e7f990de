"""The two demo services: ``frontend`` calls ``backend`` over HTTP.

Both are ordinary Pyramid apps; all tracing comes from their INI files (``frontend.ini``,
``backend.ini``). The only tracing code here is what a user writes on purpose: one child span,
one native OpenTelemetry span, and the traced HTTP clients.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opentelemetry import trace
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadGateway

from pyramid_tracing import otel, traced, traced_httpx_async_client

PRICES = {"apple": 0.5, "pear": 0.75, "plum": 0.25}


class PaymentDeclined(Exception):
    """The card was declined."""


# -- frontend ---------------------------------------------------------------------------------


def checkout(request: Any) -> dict[str, Any]:
    """A plain call: one request to the backend through the app's traced session."""
    backend = request.registry.settings["demo.backend_url"]
    item = request.tracing.session.get(f"{backend}/items/{request.matchdict['id']}", timeout=10)
    return {"item": item.json()}


def compare(request: Any) -> dict[str, Any]:
    """A fan-out: three concurrent backend calls from asyncio tasks, one client span each."""
    backend = request.registry.settings["demo.backend_url"]

    async def fetch_all() -> list[Any]:
        async with traced_httpx_async_client(timeout=10) as client:
            responses = await asyncio.gather(
                *(client.get(f"{backend}/prices/{fruit}") for fruit in sorted(PRICES))
            )
        return [response.json() for response in responses]

    return {"prices": asyncio.run(fetch_all())}


def pay(request: Any) -> dict[str, Any]:
    """A call whose backend fails with a 500: the frontend answers 502."""
    backend = request.registry.settings["demo.backend_url"]
    response = request.tracing.session.post(f"{backend}/payments", timeout=10)
    if response.status_code >= 500:
        raise HTTPBadGateway("the payment service failed")
    return {"paid": True}


def health(request: Any) -> dict[str, str]:
    """The health check, excluded from tracing by ``tracing.exclude_paths``."""
    return {"status": "ok"}


def frontend(global_config: dict[str, str], **settings: str) -> Any:
    """The frontend's WSGI app, made by ``frontend.ini``."""
    with Configurator(settings=settings) as config:
        config.add_route("checkout", "/checkout/{id}")
        config.add_view(checkout, route_name="checkout", renderer="json")
        config.add_route("compare", "/compare")
        config.add_view(compare, route_name="compare", renderer="json")
        config.add_route("pay", "/pay")
        config.add_view(pay, route_name="pay", renderer="json", request_method="POST")
        config.add_route("health", "/health")
        config.add_view(health, route_name="health", renderer="json")
        return config.make_wsgi_app()


# -- backend ----------------------------------------------------------------------------------


@traced(tags={"db.system": "sqlite"})
def load_item(item_id: str) -> dict[str, str]:
    """A stand-in database query, traced as a child span."""
    time.sleep(0.002)
    return {"id": item_id, "name": f"item {item_id}"}


def item(request: Any) -> dict[str, str]:
    """A child span from @traced, and a native OpenTelemetry span, as a library would make."""
    loaded = load_item(request.matchdict["id"])
    provider = otel.tracer_provider(request.tracing.tracer)
    with trace.get_tracer("demo.cache", tracer_provider=provider).start_as_current_span(
        "cache.set", attributes={"cache.key": f"item:{loaded['id']}"}
    ):
        time.sleep(0.001)
    return loaded


def price(request: Any) -> dict[str, Any]:
    """The price of a fruit, after a short wait (so that the fan-out overlaps)."""
    fruit = request.matchdict["fruit"]
    time.sleep(0.02)
    return {"fruit": fruit, "price": PRICES[fruit]}


def payment(request: Any) -> dict[str, Any]:
    """Always fails: the payment is declined."""
    raise PaymentDeclined("card declined by the issuer")


def payment_failed(exc: PaymentDeclined, request: Any) -> dict[str, str]:
    """The exception view: a declined payment is a 500 with a JSON body."""
    request.response.status_code = 500
    return {"error": str(exc)}


def backend(global_config: dict[str, str], **settings: str) -> Any:
    """The backend's WSGI app, made by ``backend.ini``."""
    with Configurator(settings=settings) as config:
        config.add_route("item", "/items/{id}")
        config.add_view(item, route_name="item", renderer="json")
        config.add_route("price", "/prices/{fruit}")
        config.add_view(price, route_name="price", renderer="json")
        config.add_route("payments", "/payments")
        config.add_view(payment, route_name="payments", renderer="json")
        config.add_view(payment_failed, context=PaymentDeclined, renderer="json")
        return config.make_wsgi_app()
