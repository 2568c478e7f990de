"""Live servers for the outbound tests: Pyramid apps under waitress on ephemeral ports.

Service B ("server") echoes the headers it received, fails, redirects; service A ("client")
has views that call B through the outbound helpers. Both trace with the same MockTracer, so
one list of finished spans holds the whole cross-service trace; B only learns its parent from
the headers on the wire, because it serves in its own waitress threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response

import pyramid_tracing
from pyramid_tracing import ContextExecutor, context_propagating, traced_httpx_async_client
from tests.helpers.serving import serve


def new_tracer() -> MockTracer:
    return MockTracer(scope_manager=pyramid_tracing.ScopeManager())


def assert_joined(client: Any, server: Any, echoed: dict[str, Any]) -> None:
    """B's server span is the child of A's client span, learnt from the headers on the wire."""
    assert server.parent_id == client.context.span_id
    assert server.context.trace_id == client.context.trace_id
    assert echoed["headers"]["ot-tracer-spanid"] == f"{client.context.span_id:x}"
    assert echoed["headers"]["ot-tracer-traceid"] == f"{client.context.trace_id:x}"


class BrokenTracer(MockTracer):
    """A MockTracer whose start_span or inject raises (inject after writing the carrier)."""

    def __init__(self, fail_on: str) -> None:
        super().__init__(scope_manager=pyramid_tracing.ScopeManager())
        self.fail_on = fail_on

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        if self.fail_on == "start":
            raise RuntimeError("start broke")
        return super().start_span(*args, **kwargs)

    def inject(self, *args: Any, **kwargs: Any) -> None:
        if self.fail_on == "inject":
            super().inject(*args, **kwargs)
            raise RuntimeError("inject broke half-way")
        super().inject(*args, **kwargs)


def refused_url() -> str:
    """A URL on a 127.0.0.1 port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing"


# -- service B -------------------------------------------------------------------------------


def echo(request: Any) -> Any:
    delay = float(request.params.get("delay", 0))
    if delay:
        time.sleep(delay)
    request.response.set_cookie("sid", "user-1")
    return {"path": request.path_qs, "headers": {k.lower(): v for k, v in request.headers.items()}}


def fail(request: Any) -> Response:
    return Response("B failed", status=500)


def redirect(request: Any) -> HTTPFound:
    hops = int(request.matchdict["hops"])
    target = "/echo" if hops <= 1 else f"/redirect/{hops - 1}"
    return HTTPFound(location=target)


def make_server_app(tracer: MockTracer) -> Any:
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("echo", "/echo")
        config.add_route("fail", "/fail")
        config.add_route("redirect", "/redirect/{hops}")
        config.add_view(echo, route_name="echo", renderer="json")
        config.add_view(fail, route_name="fail")
        config.add_view(redirect, route_name="redirect")
        return config.make_wsgi_app()


# -- service A -------------------------------------------------------------------------------


class ClientViews:
    """A's views; ``server`` is B's base URL, ``errors`` collects the exceptions A saw."""

    def __init__(self, server: str, refused: str) -> None:
        self.server = server
        self.refused = refused
        self.errors: list[BaseException] = []
        self.sessions: list[requests.Session] = []

    def call(self, request: Any) -> Any:
        session = request.tracing.session
        self.sessions.append(session)
        return session.get(f"{self.server}/echo").json()

    def redirects(self, request: Any) -> Any:
        response = request.tracing.session.get(f"{self.server}/redirect/3")
        return {"history": [r.status_code for r in response.history], **response.json()}

    def refused_call(self, request: Any) -> Any:
        try:
            request.tracing.session.get(self.refused, timeout=5)
        except requests.ConnectionError as exc:
            self.errors.append(exc)
            return {"error": type(exc).__name__}
        return {"error": None}

    def failing(self, request: Any) -> Any:
        response = request.tracing.session.get(f"{self.server}/fail")
        return {"status": response.status_code, "body": response.text}

    def fan_out(self, request: Any) -> Any:
        delay = request.params.get("delay", "0.2")
        per_task_span = request.params.get("task_spans") == "1"
        tracer = request.tracing.tracer

        async def one(client: Any, index: int) -> Any:
            url = f"{self.server}/echo?delay={delay}&task={index}"
            if not per_task_span:
                return (await client.get(url)).json()
            with tracer.start_active_span(f"task-{index}"):
                return (await client.get(url)).json()

        async def main() -> list[Any]:
            async with traced_httpx_async_client() as client:
                return list(await asyncio.gather(*(one(client, i) for i in range(3))))

        return asyncio.run(main())

    def worker(self, request: Any) -> Any:
        session = request.tracing.session
        url = f"{self.server}/echo"
        if request.params.get("how") == "executor":
            with ContextExecutor(max_workers=1) as executor:
                return executor.submit(session.get, url).result().json()
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(context_propagating(session.get), url).result().json()


def make_client_app(tracer: MockTracer, views: ClientViews) -> Any:
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        for name, view in [
            ("call", views.call),
            ("redirects", views.redirects),
            ("refused", views.refused_call),
            ("failing", views.failing),
            ("fan_out", views.fan_out),
            ("worker", views.worker),
        ]:
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name, renderer="json")
        return config.make_wsgi_app()


class Services:
    """A and B running, with their shared tracer."""

    def __init__(self, tracer: MockTracer, a: str, b: str, views: ClientViews) -> None:
        self.tracer = tracer
        self.a = a
        self.b = b
        self.views = views

    def get_a(self, path: str) -> Any:
        """Call A from outside any trace (a plain, untraced request)."""
        response = requests.get(f"{self.a}{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def spans(self) -> list[Any]:
        return list(self.tracer.finished_spans())

    def one(self, name: str, **tags: object) -> Any:
        """The one finished span named ``name`` whose tags include ``tags``."""
        found = [
            span
            for span in self.spans()
            if span.operation_name == name
            and all(span.tags.get(key) == value for key, value in tags.items())
        ]
        assert len(found) == 1, [(s.operation_name, s.tags) for s in self.spans()]
        return found[0]


@contextlib.contextmanager
def services() -> Iterator[Services]:
    tracer = new_tracer()
    with serve(make_server_app(tracer), threads=6) as b:
        views = ClientViews(b, refused_url())
        with serve(make_client_app(tracer, views)) as a:
            yield Services(tracer, a, b, views)
