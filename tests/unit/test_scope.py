"""pyramid_tracing.ScopeManager: the active span on contextvars.

The ``tracer`` fixture (conftest) gives each test a fresh ScopeManager, hence its own ContextVar:
no context state carries over between tests.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

import opentracing
import pytest
from opentracing.mocktracer import MockTracer

from pyramid_tracing import ScopeManager

T = TypeVar("T")


def active_span(tracer: MockTracer) -> opentracing.Span | None:
    scope = tracer.scope_manager.active
    return None if scope is None else scope.span


def run_in_thread(func: Callable[[], T]) -> T:
    """Run ``func`` in a bare thread (a fresh context) and return its result or raise."""
    results: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(func())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
    return results[0]


class FailingSpan(opentracing.Span):
    """A span whose finish() raises, as a broken tracer's would."""

    def finish(self, finish_time: float | None = None) -> None:
        raise RuntimeError("finish failed")


# -- activate / active / close -------------------------------------------------------------------


def test_nothing_active_initially(tracer: MockTracer) -> None:
    """A new ScopeManager has no active scope."""
    assert tracer.scope_manager.active is None
    assert tracer.active_span is None


def test_activate_makes_active(tracer: MockTracer) -> None:
    """activate() returns a scope of this manager holding the span, and makes it active."""
    span = tracer.start_span("op")
    scope = tracer.scope_manager.activate(span, True)
    assert scope.span is span
    assert scope.manager is tracer.scope_manager
    assert tracer.scope_manager.active is scope
    assert tracer.active_span is span
    scope.close()


def test_close_finishes_with_finish_on_close(tracer: MockTracer) -> None:
    """Closing deactivates and, with finish_on_close, finishes the span."""
    span = tracer.start_span("op")
    tracer.scope_manager.activate(span, True).close()
    assert tracer.scope_manager.active is None
    assert tracer.finished_spans() == [span]


def test_close_without_finish_on_close(tracer: MockTracer) -> None:
    """Without finish_on_close, closing deactivates but leaves the span open."""
    span = tracer.start_span("op")
    tracer.scope_manager.activate(span, False).close()
    assert tracer.scope_manager.active is None
    assert tracer.finished_spans() == []


def test_context_manager(tracer: MockTracer) -> None:
    """A scope used in a with-block is active inside and closed after it."""
    with tracer.start_active_span("op") as scope:
        assert tracer.scope_manager.active is scope
    assert tracer.scope_manager.active is None
    assert [s.operation_name for s in tracer.finished_spans()] == ["op"]


def test_nested_scopes(tracer: MockTracer) -> None:
    """Nested scopes are parent and child; closing the inner one restores the outer one."""
    with tracer.start_active_span("outer") as outer:
        with tracer.start_active_span("inner") as inner:
            assert tracer.scope_manager.active is inner
            assert inner.span.parent_id == outer.span.context.span_id
        assert tracer.scope_manager.active is outer
    assert tracer.scope_manager.active is None


# -- out of order, twice, failing ----------------------------------------------------------------


def test_out_of_order_close_finishes_and_keeps_active(tracer: MockTracer) -> None:
    """Closing a non-active scope finishes its span and leaves the active scope in place."""
    a = tracer.start_active_span("a")
    b = tracer.start_active_span("b")
    c = tracer.start_active_span("c")
    b.close()
    assert [s.operation_name for s in tracer.finished_spans()] == ["b"]
    assert tracer.scope_manager.active is c
    c.close()
    # b is closed: the nearest still-open ancestor is a.
    assert tracer.scope_manager.active is a
    a.close()
    assert tracer.scope_manager.active is None
    assert [s.operation_name for s in tracer.finished_spans()] == ["b", "c", "a"]


def test_outermost_closed_first(tracer: MockTracer) -> None:
    """Closing the root first, then the rest innermost first, ends with nothing active."""
    a = tracer.start_active_span("a")
    b = tracer.start_active_span("b")
    c = tracer.start_active_span("c")
    a.close()
    assert tracer.scope_manager.active is c
    c.close()
    assert tracer.scope_manager.active is b
    b.close()
    assert tracer.scope_manager.active is None


def test_all_ancestors_closed_out_of_order(tracer: MockTracer) -> None:
    """When every ancestor was closed out of order, closing the last scope leaves none active."""
    a = tracer.start_active_span("a")
    b = tracer.start_active_span("b")
    c = tracer.start_active_span("c")
    b.close()
    a.close()
    c.close()
    assert tracer.scope_manager.active is None


def test_new_scope_after_out_of_order_close(tracer: MockTracer) -> None:
    """A scope opened after an out-of-order close returns to the nearest open scope."""
    a = tracer.start_active_span("a")
    b = tracer.start_active_span("b")
    a.close()
    with tracer.start_active_span("c") as c:
        assert c.span.parent_id == b.span.context.span_id
    assert tracer.scope_manager.active is b
    b.close()
    assert tracer.scope_manager.active is None


def test_close_twice_is_noop(tracer: MockTracer) -> None:
    """A second close neither finishes the span again nor changes the active scope."""
    a = tracer.start_active_span("a")
    b = tracer.start_active_span("b")
    b.close()
    c = tracer.start_active_span("c")
    b.close()
    assert tracer.scope_manager.active is c
    assert [s.operation_name for s in tracer.finished_spans()] == ["b"]
    c.close()
    a.close()
    a.close()
    assert [s.operation_name for s in tracer.finished_spans()] == ["b", "c", "a"]
    assert tracer.scope_manager.active is None


def test_failing_finish_still_deactivates(tracer: MockTracer) -> None:
    """A span whose finish() raises is deactivated anyway; the error reaches the caller."""
    outer = tracer.start_active_span("outer")
    scope = tracer.scope_manager.activate(FailingSpan(tracer, None), True)
    with pytest.raises(RuntimeError, match=r"^finish failed$"):
        scope.close()
    assert tracer.scope_manager.active is outer
    scope.close()  # already closed: finish() is not called again
    outer.close()
    assert tracer.scope_manager.active is None


# -- state per instance --------------------------------------------------------------------------


def test_instances_do_not_share_state() -> None:
    """Two ScopeManagers (two tracers) each see only their own active span."""
    first = MockTracer(scope_manager=ScopeManager())
    second = MockTracer(scope_manager=ScopeManager())
    with first.start_active_span("first") as scope:
        assert first.scope_manager.active is scope
        assert second.scope_manager.active is None
        with second.start_active_span("second") as other:
            # The second tracer's span is a root: it never sees the first tracer's span.
            assert other.span.parent_id is None
            assert first.scope_manager.active is scope
        assert second.scope_manager.active is None
    assert first.scope_manager.active is None


# -- other contexts: closing ---------------------------------------------------------------------


def test_close_from_another_thread(tracer: MockTracer) -> None:
    """A scope closed from a bare thread does not raise, finishes its span, and stops being active
    in the context that opened it."""
    parent = tracer.start_active_span("parent")
    child = tracer.start_active_span("child")
    run_in_thread(child.close)
    assert [s.operation_name for s in tracer.finished_spans()] == ["child"]
    assert tracer.scope_manager.active is parent
    with tracer.start_active_span("next") as following:
        assert following.span.parent_id == parent.span.context.span_id
    parent.close()
    assert tracer.scope_manager.active is None


def test_close_from_another_task(tracer: MockTracer) -> None:
    """A scope opened in one asyncio task and closed in another never raises."""

    async def main() -> None:
        opened: asyncio.Future[opentracing.Scope] = asyncio.get_running_loop().create_future()
        closed = asyncio.Event()

        async def opener() -> opentracing.Scope | None:
            opened.set_result(tracer.start_active_span("task-span"))
            await closed.wait()
            return tracer.scope_manager.active

        async def closer() -> None:
            scope = await opened
            assert tracer.scope_manager.active is None  # its own context never saw it
            scope.close()
            closed.set()

        active_in_opener, _ = await asyncio.gather(opener(), closer())
        assert active_in_opener is None

    asyncio.run(main())
    assert [s.operation_name for s in tracer.finished_spans()] == ["task-span"]


def test_close_inside_child_task_of_the_scope(tracer: MockTracer) -> None:
    """A task that inherited the scope can close it; the parent context then sees it closed."""

    async def main() -> None:
        with tracer.start_active_span("root") as root:
            scope = tracer.start_active_span("handed-over")

            async def close_it() -> None:
                assert tracer.scope_manager.active is scope
                scope.close()
                assert tracer.scope_manager.active is root

            await asyncio.create_task(close_it())
            assert tracer.scope_manager.active is root

    asyncio.run(main())
    assert [s.operation_name for s in tracer.finished_spans()] == ["handed-over", "root"]


# -- other contexts: propagation -----------------------------------------------------------------


def test_asyncio_tasks_see_the_scope(tracer: MockTracer) -> None:
    """Tasks started inside a scope see its span as active; their spans are its children and
    their own scopes do not leak back."""

    async def work(name: str) -> tuple[opentracing.Span | None, int | None]:
        seen = active_span(tracer)
        with tracer.start_active_span(name) as scope:
            await asyncio.sleep(0)
            assert tracer.scope_manager.active is scope
            parent_id = scope.span.parent_id
        return seen, parent_id

    async def main() -> None:
        with tracer.start_active_span("request") as request:
            results = await asyncio.gather(*(work(f"task-{i}") for i in range(5)))
            assert tracer.scope_manager.active is request
        for seen, parent_id in results:
            assert seen is request.span
            assert parent_id == request.span.context.span_id

    asyncio.run(main())
    assert len(tracer.finished_spans()) == 6


def test_to_thread_sees_the_scope(tracer: MockTracer) -> None:
    """asyncio.to_thread runs with a copy of the context: the span is active there."""

    async def main() -> None:
        with tracer.start_active_span("request") as scope:
            seen = await asyncio.to_thread(active_span, tracer)
            assert seen is scope.span

    asyncio.run(main())


def test_copied_context_thread_sees_the_scope(tracer: MockTracer) -> None:
    """A thread running contextvars.copy_context().run sees the span; its own scopes stay there."""
    with tracer.start_active_span("request") as scope:
        context = contextvars.copy_context()

        def in_thread() -> tuple[opentracing.Span | None, int | None]:
            seen = active_span(tracer)
            with tracer.start_active_span("in-thread") as child:
                return seen, child.span.parent_id

        seen, parent_id = run_in_thread(lambda: context.run(in_thread))
        assert seen is scope.span
        assert parent_id == scope.span.context.span_id
        assert tracer.scope_manager.active is scope


def test_bare_thread_sees_nothing(tracer: MockTracer) -> None:
    """A bare threading.Thread starts with an empty context: no active span."""
    with tracer.start_active_span("request"):
        assert run_in_thread(lambda: active_span(tracer)) is None
