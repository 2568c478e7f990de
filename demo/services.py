"""The two demo services: ``frontend`` calls ``backend`` over HTTP.

Both are ordinary Pyramid apps; all tracing comes from their INI files (``frontend.ini``,
``backend.ini``). The only tracing code here is what a user writes on purpose: one child span,
one native OpenTelemetry span, and the traced HTTP clients.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import time
from typing import Any

import zope.sqlalchemy
from opentelemetry import trace
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadGateway, HTTPNotFound
from pyramid.renderers import render
from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

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


log = logging.getLogger("demo.backend")


class Base(DeclarativeBase):
    """The backend's tables."""


class Item(Base):
    """An item of the shop, with the number of times it was viewed."""

    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    views: Mapped[int] = mapped_column(default=0)


@traced(tags={"db.system": "sqlite"})
def load_item(session: Session, item_id: int) -> Item:
    """The item, with its query (a SELECT span) inside this child span."""
    item = session.scalars(select(Item).where(Item.id == item_id)).one_or_none()
    if item is None:
        raise HTTPNotFound(f"no item {item_id}")
    return item


def item(request: Any) -> dict[str, Any]:
    """SQL under @traced, a native OpenTelemetry span, a Jinja2 render, an UPDATE at commit."""
    loaded = load_item(request.dbsession, int(request.matchdict["id"]))
    # Flushed by pyramid_tm's commit: the UPDATE is a child of the commit span.
    loaded.views += 1
    provider = otel.tracer_provider(request.tracing.tracer)
    with trace.get_tracer("demo.cache", tracer_provider=provider).start_as_current_span(
        "cache.set", attributes={"cache.key": f"item:{loaded.id}"}
    ):
        time.sleep(0.001)
    card = render("templates/item.jinja2", {"item": loaded}, request=request)
    log.info("item %s viewed %d times", loaded.id, loaded.views)
    return {"id": str(loaded.id), "name": loaded.name, "card": card}


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


def _database() -> sessionmaker[Session]:
    """An in-memory sqlite database with 99 items, and its session factory."""
    # One connection shared by waitress's threads (StaticPool): only /items uses it, once.
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    Base.metadata.create_all(engine)
    factory = sessionmaker(bind=engine)
    with factory.begin() as session:
        session.add_all(Item(id=number, name=f"item {number}") for number in range(1, 100))
    return factory


def backend(global_config: dict[str, str], **settings: str) -> Any:
    """The backend's WSGI app, made by ``backend.ini`` (SQLAlchemy, pyramid_tm, Jinja2)."""
    # What pserve does before it loads the app (run.py loads it with get_app): the INI's
    # logging sections, whose formatter puts the trace id in each line. Existing loggers
    # (pyramid_tracing's own) stay enabled.
    logging.config.fileConfig(
        global_config["__file__"], dict(global_config), disable_existing_loggers=False
    )
    session_factory = _database()

    def dbsession(request: Any) -> Session:
        session = session_factory()
        zope.sqlalchemy.register(session, transaction_manager=request.tm)
        return session

    with Configurator(settings=settings) as config:
        config.add_request_method(dbsession, "dbsession", reify=True)
        config.add_route("item", "/items/{id}")
        config.add_view(item, route_name="item", renderer="json")
        config.add_route("price", "/prices/{fruit}")
        config.add_view(price, route_name="price", renderer="json")
        config.add_route("payments", "/payments")
        config.add_view(payment, route_name="payments", renderer="json")
        config.add_view(payment_failed, context=PaymentDeclined, renderer="json")
        return config.make_wsgi_app()
