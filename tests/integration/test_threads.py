"""context_propagating and ContextExecutor: the request's active span in worker threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import opentracing
import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_tracing import ContextExecutor, context_propagating
from tests.helpers.live import Services, assert_joined

_marker: contextvars.ContextVar[str] = contextvars.ContextVar("test_threads.marker", default="")


@pytest.mark.parametrize("how", ["executor", "wrapper"])
def test_call_from_a_thread_pool_worker_joins_the_request_trace(svc: Services, how: str) -> None:
    """A call made in a worker thread is a child of the request span and B joins the trace."""
    echoed = svc.get_a(f"/worker?how={how}")
    a_server = svc.one("worker")
    client = svc.one("HTTP GET")
    assert client.parent_id == a_server.context.span_id
    assert_joined(client, svc.one("echo"), echoed)


def test_a_bare_thread_does_not_see_the_active_span(tracer: MockTracer) -> None:
    """Without the helper a worker thread has no active span (why the helper exists)."""
    with tracer.start_active_span("request"), ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: tracer.active_span).result() is None


def test_wrapper_runs_under_the_span_active_at_wrap_time(tracer: MockTracer) -> None:
    """Work run after the wrapping span's scope closed is still that span's child."""
    opentracing.tracer = tracer

    def work() -> int:
        with tracer.start_active_span("work") as scope:
            return int(scope.span.parent_id)

    with tracer.start_active_span("request") as request_scope:
        wrapped = context_propagating(work)
    with ThreadPoolExecutor(2) as pool:
        parents = [pool.submit(wrapped).result() for _ in range(2)]
    assert parents == [request_scope.span.context.span_id] * 2
    assert wrapped.__name__ == "work"


def test_work_never_changes_the_callers_context(tracer: MockTracer) -> None:
    """A scope left open and a ContextVar set by the work stay in the work's copy."""

    def leaky() -> None:
        tracer.start_active_span("never-closed")
        _marker.set("from the worker")

    with tracer.start_active_span("request") as scope:
        context_propagating(leaky)()
        with ContextExecutor(1) as executor:
            executor.submit(leaky).result()
        assert tracer.active_span is scope.span
        assert _marker.get() == ""


def test_concurrent_calls_of_one_wrapper_do_not_collide(tracer: MockTracer) -> None:
    """One wrapper called from several threads at once runs each call in its own copy."""
    barrier = threading.Barrier(4)

    def work(index: int) -> str:
        _marker.set(f"call {index}")
        barrier.wait(timeout=5)
        return _marker.get()

    with tracer.start_active_span("request"):
        wrapped = context_propagating(work)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(wrapped, range(4)))
    assert results == [f"call {index}" for index in range(4)]


def test_executor_map_and_run_in_executor_carry_the_context(tracer: MockTracer) -> None:
    """map() and loop.run_in_executor() go through submit and so carry the span too."""

    def active(_: object = None) -> Any:
        return tracer.active_span

    async def from_a_task(executor: ContextExecutor) -> Any:
        with tracer.start_active_span("task") as scope:
            seen = await asyncio.get_running_loop().run_in_executor(executor, active)
            return seen is scope.span

    with ContextExecutor(2) as executor:
        with tracer.start_active_span("request") as scope:
            assert list(executor.map(active, range(3))) == [scope.span] * 3
        assert asyncio.run(from_a_task(executor)) is True


def test_work_outliving_the_request_stays_a_child_and_leaves_the_request_alone(
    tracer: MockTracer,
) -> None:
    """Work still running after the response keeps the request span as parent."""
    release = threading.Event()
    executor = ContextExecutor(1)
    seen: dict[str, Any] = {}

    def background() -> None:
        release.wait(timeout=5)
        with tracer.start_active_span("background"):
            pass
        tracer.start_active_span("left-open")

    def view(request: Any) -> Any:
        seen["future"] = executor.submit(background)
        seen["active_after_submit"] = request.tracing.active_span
        seen["request_span"] = request.tracing.span
        return {"ok": True}

    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("fire", "/fire")
        config.add_view(view, route_name="fire", renderer="json")
        app = TestApp(config.make_wsgi_app())
    try:
        app.get("/fire")
        request_span = seen["request_span"]
        assert request_span.finish_time is not None
        release.set()
        seen["future"].result(timeout=5)
    finally:
        executor.shutdown()
    background_span = next(s for s in tracer.finished_spans() if s.operation_name == "background")
    assert background_span.parent_id == request_span.context.span_id
    assert background_span.start_time > request_span.finish_time
    assert seen["active_after_submit"] is request_span
    assert tracer.active_span is None
