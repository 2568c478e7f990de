"""Baggage crosses services with the OpenTelemetry tracer: two real waitress services.

The caller sends ``baggage: user=alice``; service A reads it from ``request.tracing.baggage``,
adds ``tenant=acme`` on its span and calls service B through the requests and httpx helpers;
B sees both items on the wire and in its own ``request.tracing.baggage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pyramid.config import Configurator

pytest.importorskip("opentelemetry.sdk")

from pyramid_tracing import get_tracing, otel, traced_httpx_client
from tests.helpers.otel_globals import reset_otel_globals
from tests.helpers.serving import serve

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def backend_view(request: Any) -> dict[str, Any]:
    return {
        "baggage": dict(request.tracing.baggage),
        "header": request.headers.get("baggage", ""),
        "traceparent": request.headers.get("traceparent", ""),
    }


def frontend_view(request: Any) -> dict[str, Any]:
    incoming = dict(request.tracing.baggage)
    request.tracing.span.set_baggage_item("tenant", "acme")
    url = request.registry.settings["backend_url"]
    if request.params.get("client") == "httpx":
        with traced_httpx_client() as client:
            answer = client.get(url).json()
    else:
        answer = request.tracing.session.get(url, timeout=5).json()
    return {"incoming": incoming, "backend": answer}


def make_app(view: Any, **settings: Any) -> Any:
    settings = {
        "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
        "tracing.otel.exporter": "memory",
        **settings,
    }
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_route("call", "/call")
        config.add_view(view, route_name="call", renderer="json")
        return config.make_wsgi_app()


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, Any, Any]]:
    backend = make_app(backend_view, **{"tracing.otel.service_name": "backend"})
    with serve(backend) as backend_url:
        frontend = make_app(
            frontend_view,
            **{"tracing.otel.service_name": "frontend", "backend_url": f"{backend_url}/call"},
        )
        with serve(frontend) as frontend_url:
            yield frontend_url, frontend, backend
    reset_otel_globals()


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_baggage_reaches_the_next_service(services: tuple[str, Any, Any], client: str) -> None:
    """The caller's baggage and the item set on A's span reach B, with B a child of A."""
    url, frontend, _ = services
    memory = otel.memory_exporter(get_tracing(frontend.registry).tracer)
    memory.clear()
    answer = requests.get(
        f"{url}/call?client={client}",
        headers={"traceparent": TRACEPARENT, "baggage": "user=alice"},
        timeout=10,
    ).json()
    assert answer["incoming"] == {"user": "alice"}
    backend = answer["backend"]
    assert backend["baggage"] == {"user": "alice", "tenant": "acme"}
    assert sorted(backend["header"].split(",")) == ["tenant=acme", "user=alice"]
    # The trace continues: same trace id, B's parent is A's client span.
    assert backend["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
    (client_span,) = [span for span in memory.get_finished_spans() if span.kind.name == "CLIENT"]
    assert backend["traceparent"].split("-")[2] == f"{client_span.context.span_id:016x}"


def test_no_baggage_is_an_empty_mapping(services: tuple[str, Any, Any]) -> None:
    """Without a baggage header, A reads an empty mapping and B gets only A's item."""
    url, _, _ = services
    answer = requests.get(f"{url}/call", timeout=10).json()
    assert answer["incoming"] == {}
    assert answer["backend"]["baggage"] == {"tenant": "acme"}
