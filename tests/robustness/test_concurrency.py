"""No cross-talk: concurrent requests each get their own trace, span by span.

App A runs under waitress with 8 threads and is hit by 16 client threads. Each request starts
nested spans in the view, in worker threads (a shared pool, with a copied context), in asyncio
tasks, and calls app B over HTTP through a traced session. Every span records the request it
was started for (from the view's own arguments, not from the context), so a span that ended up
in another request's trace, or under another request's span, is caught.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response

from pyramid_tracing import ContextExecutor, ScopeManager, traced, traced_requests_session
from tests.helpers.faults import Probe, report_figures, scaled
from tests.helpers.serving import serve

pytestmark = pytest.mark.stress

CLIENTS = 16
REQUESTS = scaled(320, 20_000)
# Spans per request in A: server, view child, 2 pooled + 2 inner, 2 tasks + 2 inner, 1 client.
SPANS_PER_REQUEST = 11

POOL = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="view-pool")
CONTEXT_POOL = ContextExecutor(4, thread_name_prefix="context-pool")


@traced("pooled-inner")
def pooled_inner(rid: str) -> None:
    tag_rid(rid)


@traced("pooled")
def pooled(rid: str) -> str:
    tag_rid(rid)
    pooled_inner(rid)
    return rid


@traced("task-inner")
async def task_inner(rid: str) -> None:
    tag_rid(rid)
    await asyncio.sleep(0)


@traced("task")
async def task(rid: str) -> str:
    tag_rid(rid)
    await asyncio.sleep(0)
    await task_inner(rid)
    return rid


async def tasks(rid: str) -> list[str]:
    return list(await asyncio.gather(task(rid), task(rid)))


def tag_rid(rid: str) -> None:
    tracer = TRACERS["a"]
    scope = tracer.scope_manager.active
    assert scope is not None
    scope.span.set_tag("rid", rid)


def view_a(request: Any) -> Response:
    rid = request.matchdict["rid"]
    settings = request.registry.settings
    with request.tracing.start_active_span("view-child", tags={"rid": rid}):
        futures = [
            POOL.submit(contextvars.copy_context().run, pooled, rid),
            CONTEXT_POOL.submit(pooled, rid),
        ]
        done = asyncio.run(tasks(rid))
        answer = settings["test.session"].get(f"{settings['test.b']}/b/{rid}").text
        results = [future.result() for future in futures]
    return Response(f"{rid} {answer} {done == [rid] * 2} {results == [rid] * 2}")


def view_b(request: Any) -> Response:
    return Response(f"b{request.matchdict['rid']}")


TRACERS: dict[str, MockTracer] = {}


def build_a(tracer: MockTracer, b_url: str) -> Probe:
    settings = {
        "tracing.tracer": tracer,
        "test.b": b_url,
        "test.session": traced_requests_session(),
    }
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_route("a", "/a/{rid}")
        config.add_view(view_a, route_name="a")
        app = config.make_wsgi_app()
    return Probe(app, tracer)


def build_b(tracer: MockTracer) -> Probe:
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("b", "/b/{rid}")
        config.add_view(view_b, route_name="b")
        app = config.make_wsgi_app()
    return Probe(app, tracer)


@pytest.fixture
def tracers() -> Iterator[dict[str, MockTracer]]:
    TRACERS.update(a=MockTracer(ScopeManager()), b=MockTracer(ScopeManager()))
    yield TRACERS
    TRACERS.clear()


def rid_of(span: Any) -> str:
    """The request a span was started for: its ``rid`` tag, or the rid in its URL."""
    if "rid" in span.tags:
        return str(span.tags["rid"])
    return urlsplit(span.tags["http.url"]).path.rsplit("/", 1)[1]


def test_concurrent_requests_never_share_spans(tracers: dict[str, MockTracer]) -> None:
    """Every span's trace and parent belong to its own request; none unfinished or active."""
    failures: list[str] = []
    answers: list[bool] = []
    lock = threading.Lock()

    def client(number: int, base: str) -> None:
        with requests.Session() as session:
            for index in range(number, REQUESTS, CLIENTS):
                rid = f"r{index}"
                response = session.get(f"{base}/a/{rid}")
                with lock:
                    answers.append(response.text == f"{rid} b{rid} True True")

    probe_b = build_b(tracers["b"])
    with serve(probe_b, threads=8) as b_url:
        probe_a = build_a(tracers["a"], b_url)
        with serve(probe_a, threads=8) as a_url:
            threads = [
                threading.Thread(target=client, args=(number, a_url)) for number in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    assert answers == [True] * REQUESTS
    assert probe_a.problems == probe_b.problems == []
    spans_a = tracers["a"].finished_spans()
    spans_b = tracers["b"].finished_spans()
    # Nothing left unfinished: every span each request starts was finished and reported.
    assert len(spans_a) == SPANS_PER_REQUEST * REQUESTS
    assert len(spans_b) == REQUESTS
    by_id = {span.context.span_id: span for span in spans_a}
    assert len(by_id) == len(spans_a)
    servers = {rid_of(s): s for s in spans_a if s.tags.get("span.kind") == "server"}
    clients = {rid_of(s): s for s in spans_a if s.tags.get("span.kind") == "client"}
    assert len(servers) == len(clients) == REQUESTS

    per_request: collections.Counter[str] = collections.Counter()
    for span in spans_a:
        rid = rid_of(span)
        per_request[rid] += 1
        root = servers[rid]
        if span.context.trace_id != root.context.trace_id:
            failures.append(f"{span.operation_name} of {rid} is in another trace")
        current = span
        while current is not root:
            parent = by_id.get(current.parent_id)
            if parent is None or rid_of(parent) != rid:
                failures.append(f"{span.operation_name} of {rid} hangs under another request")
                break
            current = parent
    for span in spans_b:
        rid = rid_of(span)
        client_span = clients[rid]
        if (span.context.trace_id, span.parent_id) != (
            client_span.context.trace_id,
            client_span.context.span_id,
        ):
            failures.append(f"B's span of {rid} is not the child of A's client span")
    assert failures == []
    assert set(per_request.values()) == {SPANS_PER_REQUEST}
    report_figures(
        "concurrency",
        requests=REQUESTS * 2,
        spans_checked=len(spans_a) + len(spans_b),
        clients=CLIENTS,
        server_threads=8,
    )
