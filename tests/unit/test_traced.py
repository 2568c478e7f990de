"""pyramid_tracing.traced: a child span around functions, coroutines and generators."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import opentracing
import pytest
from opentracing.mocktracer import MockTracer
from opentracing.scope_managers import ThreadLocalScopeManager
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager, Tracing, TracingSettings, current_tracing, traced
from pyramid_tracing._state import current as _current


class RecordingTracer(MockTracer):
    """A MockTracer that records when spans start and finish, in order."""

    def __init__(self) -> None:
        super().__init__(scope_manager=ScopeManager())
        self.events: list[str] = []

    def start_span(self, operation_name: Any = None, *args: Any, **kwargs: Any) -> Any:
        self.events.append(f"start {operation_name}")
        return super().start_span(operation_name, *args, **kwargs)

    def _append_finished_span(self, span: Any) -> None:
        self.events.append(f"finish {span.operation_name}")
        super()._append_finished_span(span)


class BrokenTracer(MockTracer):
    """A tracer that fails whenever a span is started."""

    def __init__(self) -> None:
        super().__init__(scope_manager=ScopeManager())

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracer down")

    def start_active_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracer down")


@pytest.fixture(autouse=True)
def _no_current_request() -> Iterator[None]:
    """Each test starts (and ends) outside any request."""
    token = _current.set(None)
    yield
    assert current_tracing() is None
    _current.reset(token)


@pytest.fixture
def recorder() -> Iterator[RecordingTracer]:
    """A recording tracer installed as the OpenTracing global tracer, restored afterwards."""
    saved = opentracing.tracer
    tracer = RecordingTracer()
    opentracing.set_global_tracer(tracer)
    yield tracer
    opentracing.tracer = saved


def active(tracer: MockTracer) -> Any:
    scope = tracer.scope_manager.active
    return None if scope is None else scope.span


def names(tracer: MockTracer) -> list[str]:
    return [span.operation_name for span in tracer.finished_spans()]


# -- naming, tags, parent ------------------------------------------------------------------------


def test_bare_decorator_names_span_after_qualname(recorder: RecordingTracer) -> None:
    """@traced without arguments names the span after the function's __qualname__."""

    @traced
    def work(a: int, b: int = 2) -> int:
        return a * b

    assert work(3, b=4) == 12
    assert names(recorder) == ["test_bare_decorator_names_span_after_qualname.<locals>.work"]


def test_empty_parentheses(recorder: RecordingTracer) -> None:
    """@traced() behaves like bare @traced."""

    @traced()
    def work() -> str:
        return "done"

    assert work() == "done"
    assert names(recorder) == [work.__qualname__]


def test_name_and_tags(recorder: RecordingTracer) -> None:
    """@traced("name", tags=...) names the span and sets the tags."""

    @traced("db.query", tags={"db.type": "sql", "rows": 3})
    def query() -> None:
        pass

    query()
    [span] = recorder.finished_spans()
    assert span.operation_name == "db.query"
    assert span.tags == {"db.type": "sql", "rows": 3}


def test_tags_do_not_leak_between_calls(recorder: RecordingTracer) -> None:
    """Tags set on one call's span (here error=true) never show up on the next call's span."""

    @traced("flaky", tags={"kind": "job"})
    def flaky(fail: bool) -> None:
        if fail:
            raise ValueError("once")

    with pytest.raises(ValueError, match=r"^once$"):
        flaky(True)
    flaky(False)
    first, second = recorder.finished_spans()
    assert first.tags == {"kind": "job", "error": True}
    assert second.tags == {"kind": "job"}


def test_child_of_active_span_and_active_inside(recorder: RecordingTracer) -> None:
    """The span is a child of the active span and is the active span while the function runs."""
    seen: list[Any] = []

    @traced
    def work() -> None:
        seen.append(active(recorder))

    with recorder.start_active_span("parent") as parent:
        work()
        assert active(recorder) is parent.span
    [span, _] = recorder.finished_spans()
    assert seen == [span]
    assert span.parent_id == parent.span.context.span_id
    assert span.context.trace_id == parent.span.context.trace_id


def test_root_without_active_span(recorder: RecordingTracer) -> None:
    """With no active span the span is a root span and nothing is active afterwards."""

    @traced
    def work() -> None:
        pass

    work()
    [span] = recorder.finished_spans()
    assert span.parent_id is None
    assert active(recorder) is None


def test_methods_and_recursion(recorder: RecordingTracer) -> None:
    """Methods are traced under Class.method; recursive calls nest as parent and child."""

    class Repository:
        @traced
        def depth(self, n: int) -> int:
            return 0 if n == 0 else 1 + self.depth(n - 1)

    assert Repository().depth(2) == 2
    inner, middle, outer = recorder.finished_spans()
    assert {s.operation_name for s in (inner, middle, outer)} == {
        "test_methods_and_recursion.<locals>.Repository.depth"
    }
    assert outer.parent_id is None
    assert middle.parent_id == outer.context.span_id
    assert inner.parent_id == middle.context.span_id


def test_partials_and_callable_objects(recorder: RecordingTracer) -> None:
    """A functools.partial is named after its function, a callable object after its class."""

    def scale(factor: int, value: int) -> int:
        return factor * value

    class Doubler:
        def __call__(self, value: int) -> int:
            return 2 * value

    assert traced(functools.partial(scale, 3))(2) == 6
    assert traced(Doubler())(5) == 10
    assert traced("named")(Doubler())(1) == 2
    assert names(recorder) == [
        "test_partials_and_callable_objects.<locals>.scale",
        "test_partials_and_callable_objects.<locals>.Doubler",
        "named",
    ]


def test_rejects_non_string_name() -> None:
    """A name that is neither a string nor a function is a TypeError."""
    with pytest.raises(
        TypeError, match=r"^traced\(\) takes an operation name or a function, got 42$"
    ):
        traced(42)  # type: ignore[call-overload]


# -- exceptions ----------------------------------------------------------------------------------


def assert_error_logged(span: Any, exc: BaseException, function_name: str) -> None:
    assert span.tags["error"] is True
    [log] = span.logs
    fields = log.key_values
    assert fields["event"] == "error"
    assert fields["error.kind"] == type(exc).__name__
    assert fields["error.object"] is exc
    assert fields["message"] == str(exc)
    assert f"{type(exc).__name__}: {exc}" in fields["stack"]
    assert f"in {function_name}" in fields["stack"]
    assert set(fields) == {"event", "error.kind", "error.object", "message", "stack"}


def test_sync_exception_tagged_and_propagated(recorder: RecordingTracer) -> None:
    """An exception tags error=true with the error log fields and propagates unchanged."""
    error = KeyError("missing")

    @traced
    def fail() -> None:
        raise error

    with recorder.start_active_span("parent") as parent:
        with pytest.raises(KeyError) as info:
            fail()
        assert active(recorder) is parent.span
    assert info.value is error
    span = recorder.finished_spans()[0]
    assert_error_logged(span, error, "fail")


def test_async_exception_tagged_and_propagated(recorder: RecordingTracer) -> None:
    """An exception in a coroutine tags its span and propagates unchanged."""
    error = ValueError("async bad")

    @traced
    async def fail() -> None:
        await asyncio.sleep(0)
        raise error

    with pytest.raises(ValueError, match=r"^async bad$") as info:
        asyncio.run(fail())
    assert info.value is error
    assert_error_logged(recorder.finished_spans()[0], error, "fail")


def test_generator_exception_tagged_and_propagated(recorder: RecordingTracer) -> None:
    """An exception raised in a generator's body tags its span and reaches the consumer."""
    error = RuntimeError("gen bad")

    @traced
    def items() -> Iterator[int]:
        yield 1
        raise error

    got: list[int] = []
    with pytest.raises(RuntimeError) as info:
        got.extend(items())
    assert got == [1]
    assert info.value is error
    assert_error_logged(recorder.finished_spans()[0], error, "items")


def test_async_generator_exception_tagged_and_propagated(recorder: RecordingTracer) -> None:
    """An exception raised in an async generator's body tags its span and reaches the consumer."""
    error = RuntimeError("agen bad")

    @traced
    async def items() -> AsyncIterator[int]:
        yield 1
        raise error

    async def consume() -> list[int]:
        return [item async for item in items()]

    with pytest.raises(RuntimeError) as info:
        asyncio.run(consume())
    assert info.value is error
    assert_error_logged(recorder.finished_spans()[0], error, "items")


def test_error_message_cut_by_the_given_tracing_policy() -> None:
    """Outside a request, the error log is cut by the policy of the Tracing given as tracing=."""
    tracer = MockTracer(scope_manager=ScopeManager())
    settings = TracingSettings.from_settings({"tracing.max_tag_length": "20"})

    @traced(tracing=Tracing(tracer, settings=settings))
    def fail() -> None:
        raise ValueError("m" * 100)

    with pytest.raises(ValueError, match=r"^m+$"):
        fail()
    [log] = tracer.finished_spans()[0].logs
    assert log.key_values["message"] == "mmmmmm...[truncated]"
    assert len(log.key_values["stack"]) == 20


# -- metadata and signature ----------------------------------------------------------------------


def sample_function(a: int, /, b: str = "x", *args: int, c: float, **kwargs: bytes) -> str:
    """Sync docstring."""
    return b


async def sample_coroutine(a: int, *, b: str = "x") -> str:
    """Async docstring."""
    return b


def sample_generator(limit: int) -> Iterator[int]:
    """Generator docstring."""
    yield from range(limit)


async def sample_async_generator(limit: int) -> AsyncIterator[int]:
    """Async generator docstring."""
    for i in range(limit):
        yield i


@pytest.mark.parametrize(
    ("func", "predicate"),
    [
        (sample_function, inspect.isfunction),
        (sample_coroutine, inspect.iscoroutinefunction),
        (sample_generator, inspect.isgeneratorfunction),
        (sample_async_generator, inspect.isasyncgenfunction),
    ],
)
@pytest.mark.parametrize("bare", [True, False])
def test_metadata_and_signature(
    func: Callable[..., Any], predicate: Callable[[Any], bool], bare: bool
) -> None:
    """functools.wraps metadata, inspect.signature and the function's kind are preserved."""
    func.__dict__["marker"] = "kept"
    wrapped = traced(func) if bare else traced("named", tags={"a": 1})(func)
    assert wrapped is not func
    assert wrapped.__wrapped__ is func  # type: ignore[attr-defined]
    for attribute in functools.WRAPPER_ASSIGNMENTS:
        assert getattr(wrapped, attribute) == getattr(func, attribute)
    assert wrapped.__dict__["marker"] == "kept"
    assert inspect.signature(wrapped) == inspect.signature(func)
    assert predicate(wrapped)


# -- coroutines ----------------------------------------------------------------------------------


def test_coroutine_span_covers_the_awaited_run(recorder: RecordingTracer) -> None:
    """Creating the coroutine starts no span; the span starts when it runs and ends after it."""

    @traced("fetch")
    async def fetch() -> str:
        recorder.events.append("body start")
        await asyncio.sleep(0.01)
        recorder.events.append("body end")
        return "data"

    coroutine = fetch()
    assert recorder.events == []
    recorder.events.append("created")

    async def main() -> str:
        recorder.events.append("awaiting")
        return await coroutine

    assert asyncio.run(main()) == "data"
    assert recorder.events == [
        "created",
        "awaiting",
        "start fetch",
        "body start",
        "body end",
        "finish fetch",
    ]
    [span] = recorder.finished_spans()
    assert span.finish_time - span.start_time >= 0.01


def test_coroutine_fan_out_children_of_parent(recorder: RecordingTracer) -> None:
    """Coroutines gathered inside a span are its children, each active in its own task."""

    @traced
    async def fetch(i: int) -> Any:
        await asyncio.sleep(0)
        return active(recorder)

    async def main() -> None:
        with recorder.start_active_span("request") as parent:
            spans = await asyncio.gather(*(fetch(i) for i in range(4)))
            assert active(recorder) is parent.span
        children = [s for s in recorder.finished_spans() if s.operation_name != "request"]
        assert {id(s) for s in spans} == {id(s) for s in children}
        assert all(s.parent_id == parent.span.context.span_id for s in children)

    asyncio.run(main())


def test_coroutine_cancelled_finishes_span(recorder: RecordingTracer) -> None:
    """A cancelled coroutine still finishes its span, and the cancellation propagates."""

    @traced("slow")
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert names(recorder) == ["slow"]


# -- generators ----------------------------------------------------------------------------------


def test_generator_span_covers_the_iteration(recorder: RecordingTracer) -> None:
    """The span starts at the first item (not at creation) and finishes when exhausted."""

    @traced("numbers")
    def numbers(limit: int) -> Iterator[int]:
        for i in range(limit):
            recorder.events.append(f"yield {i}")
            yield i

    generator = numbers(2)
    assert recorder.events == []
    for item in generator:
        recorder.events.append(f"got {item}")
    assert recorder.events == [
        "start numbers",
        "yield 0",
        "got 0",
        "yield 1",
        "got 1",
        "finish numbers",
    ]


def test_generator_active_span_inside_and_between_items(recorder: RecordingTracer) -> None:
    """The generator's span is active in its body only; the consumer's span between items; spans
    started in the body are children of the generator's span."""
    inside: list[Any] = []

    @traced("rows")
    def rows() -> Iterator[int]:
        for i in range(3):
            inside.append(active(recorder))
            with recorder.start_active_span(f"fetch {i}"):
                pass
            yield i

    with recorder.start_active_span("consumer") as consumer:
        for _ in rows():
            assert active(recorder) is consumer.span
        assert active(recorder) is consumer.span
    spans = {s.operation_name: s for s in recorder.finished_spans()}
    generator_span = spans["rows"]
    assert inside == [generator_span] * 3
    assert generator_span.parent_id == consumer.span.context.span_id
    for i in range(3):
        assert spans[f"fetch {i}"].parent_id == generator_span.context.span_id


def test_generator_span_held_across_yields_stays_inside(recorder: RecordingTracer) -> None:
    """A span the generator body keeps open across its yields is active in the body only:
    the consumer's active span between items is still its own."""
    inside: list[Any] = []

    @traced("cursor")
    def rows() -> Iterator[int]:
        with recorder.start_active_span("db.query") as query:
            for i in range(3):
                yield i
                inside.append(active(recorder) is query.span)

    with recorder.start_active_span("consumer") as consumer:
        for _ in rows():
            assert active(recorder) is consumer.span
            with recorder.start_active_span("per-item") as item:
                assert item.span.parent_id == consumer.span.context.span_id
        assert active(recorder) is consumer.span
    assert inside == [True, True, True]
    spans = {s.operation_name: s for s in recorder.finished_spans()}
    assert spans["db.query"].parent_id == spans["cursor"].context.span_id


def test_thread_local_scope_manager_generators() -> None:
    """With a thread-local scope manager the generator's span is active around each step of
    the body only, for generators and async generators alike."""
    tracer = MockTracer()  # ThreadLocalScopeManager
    inside: list[Any] = []

    @traced("sync", tracing=tracer)
    def items() -> Iterator[int]:
        for i in range(2):
            inside.append(active(tracer))
            yield i

    @traced("async", tracing=tracer)
    async def aitems() -> AsyncIterator[int]:
        for i in range(2):
            await asyncio.sleep(0)
            inside.append(active(tracer))
            yield i

    async def consume(consumer: Any) -> None:
        async for _ in aitems():
            assert active(tracer) is consumer

    with tracer.start_active_span("consumer") as consumer:
        for _ in items():
            assert active(tracer) is consumer.span
        asyncio.run(consume(consumer.span))
        assert active(tracer) is consumer.span
    spans = {s.operation_name: s for s in tracer.finished_spans()}
    assert inside == [spans["sync"]] * 2 + [spans["async"]] * 2
    assert spans["sync"].parent_id == consumer.span.context.span_id


def test_generator_closed_early_finishes_span(recorder: RecordingTracer) -> None:
    """Closing a generator before it is exhausted finishes its span without an error tag."""
    cleaned: list[bool] = []

    @traced("partial")
    def items() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            cleaned.append(True)

    generator = items()
    assert next(generator) == 0
    assert recorder.finished_spans() == []
    generator.close()
    assert cleaned == [True]
    [span] = recorder.finished_spans()
    assert span.operation_name == "partial"
    assert "error" not in span.tags
    assert active(recorder) is None


def test_generator_abandoned_finishes_span(recorder: RecordingTracer) -> None:
    """A generator left after a break and dropped is closed by Python: its span finishes."""

    @traced("abandoned")
    def items() -> Iterator[int]:
        yield from range(10)

    for item in items():
        if item == 1:
            break
    assert names(recorder) == ["abandoned"]


def test_async_generator_abandoned_finishes_span(recorder: RecordingTracer) -> None:
    """An async generator left after a break is finalized by the event loop: its span finishes."""

    @traced("aabandoned")
    async def items() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    async def main() -> None:
        async for item in items():
            if item == 1:
                break

    asyncio.run(main())
    assert names(recorder) == ["aabandoned"]


def test_generator_send_throw_and_return(recorder: RecordingTracer) -> None:
    """send() and throw() reach the body, and the return value ends the iteration."""

    @traced("echo")
    def echo() -> Any:
        received = []
        while True:
            try:
                value = yield len(received)
            except KeyError:
                received.append("thrown")
                continue
            if value is None:
                return received
            received.append(value)

    generator = echo()
    assert next(generator) == 0
    assert generator.send("a") == 1
    assert generator.throw(KeyError("k")) == 2
    with pytest.raises(StopIteration) as info:
        generator.send(None)
    assert info.value.value == ["a", "thrown"]
    [span] = recorder.finished_spans()
    assert "error" not in span.tags


def test_async_generator_span_covers_the_iteration(recorder: RecordingTracer) -> None:
    """The span starts at the first item, not at creation, and finishes when exhausted."""

    @traced("stream")
    async def stream(limit: int) -> AsyncIterator[int]:
        for i in range(limit):
            await asyncio.sleep(0)
            recorder.events.append(f"yield {i}")
            yield i

    async def main() -> None:
        generator = stream(2)
        assert recorder.events == []
        async for item in generator:
            recorder.events.append(f"got {item}")

    asyncio.run(main())
    assert recorder.events == [
        "start stream",
        "yield 0",
        "got 0",
        "yield 1",
        "got 1",
        "finish stream",
    ]


def test_async_generator_active_span_inside_and_between(recorder: RecordingTracer) -> None:
    """The async generator's span is active in its body only; spans started there are its
    children."""
    inside: list[Any] = []

    @traced("arows")
    async def rows() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0)
            inside.append(active(recorder))
            with recorder.start_active_span(f"fetch {i}"):
                pass
            yield i

    async def main() -> Any:
        with recorder.start_active_span("consumer") as consumer:
            async for _ in rows():
                assert active(recorder) is consumer.span
            assert active(recorder) is consumer.span
        return consumer.span

    consumer_span = asyncio.run(main())
    spans = {s.operation_name: s for s in recorder.finished_spans()}
    generator_span = spans["arows"]
    assert inside == [generator_span] * 3
    assert generator_span.parent_id == consumer_span.context.span_id
    for i in range(3):
        assert spans[f"fetch {i}"].parent_id == generator_span.context.span_id


def test_async_generator_span_held_across_yields_stays_inside(
    recorder: RecordingTracer,
) -> None:
    """A span the async generator body keeps open across yields (and awaits) is active in the
    body and in tasks it starts, never in the consumer between items."""
    inside: list[Any] = []

    @traced("acursor")
    async def rows() -> AsyncIterator[int]:
        with recorder.start_active_span("db.query") as query:
            for i in range(3):
                await asyncio.sleep(0)
                child = await asyncio.create_task(asyncio.sleep(0, result=active(recorder)))
                inside.append(child is query.span)
                yield i
                inside.append(active(recorder) is query.span)

    async def main() -> None:
        with recorder.start_active_span("consumer") as consumer:
            async for _ in rows():
                assert active(recorder) is consumer.span
                await asyncio.sleep(0)
                with recorder.start_active_span("per-item") as item:
                    assert item.span.parent_id == consumer.span.context.span_id
            assert active(recorder) is consumer.span

    asyncio.run(main())
    assert inside == [True] * 6
    spans = {s.operation_name: s for s in recorder.finished_spans()}
    assert spans["db.query"].parent_id == spans["acursor"].context.span_id


def test_async_generator_closed_early_finishes_span(recorder: RecordingTracer) -> None:
    """aclose() before exhaustion runs the body's cleanup and finishes the span, no error tag."""
    cleaned: list[bool] = []

    @traced("apartial")
    async def items() -> AsyncIterator[int]:
        try:
            for i in range(10):
                yield i
        finally:
            cleaned.append(True)

    async def main() -> None:
        generator = items()
        assert await generator.__anext__() == 0
        assert recorder.finished_spans() == []
        await generator.aclose()

    asyncio.run(main())
    assert cleaned == [True]
    [span] = recorder.finished_spans()
    assert "error" not in span.tags


def test_async_generator_cancelled_mid_step(recorder: RecordingTracer) -> None:
    """Cancelling the consumer while the body awaits reaches the body; the span finishes."""
    cleaned: list[str] = []

    @traced("acancel")
    async def items() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.sleep(10)
            yield 2
        finally:
            cleaned.append("body cleanup")

    async def consume() -> None:
        async for _ in items():
            pass

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cleaned == ["body cleanup"]
    assert names(recorder) == ["acancel"]


def test_async_generator_asend_and_athrow(recorder: RecordingTracer) -> None:
    """asend() and athrow() reach the async generator's body."""

    @traced("aecho")
    async def echo() -> AsyncIterator[str]:
        value = "start"
        while True:
            try:
                value = yield value
            except KeyError:
                value = "thrown"

    async def main() -> list[str]:
        generator = echo()
        got = [await generator.__anext__()]
        got.append(await generator.asend("a"))
        got.append(await generator.athrow(KeyError("k")))
        await generator.aclose()
        return got

    assert asyncio.run(main()) == ["start", "a", "thrown"]
    assert names(recorder) == ["aecho"]


# -- tracer resolution ---------------------------------------------------------------------------


def test_global_tracer_by_default(recorder: RecordingTracer) -> None:
    """Without a request or tracing=, the OpenTracing global tracer at call time is used."""

    @traced("global")
    def work() -> None:
        pass

    work()
    later = MockTracer(scope_manager=ScopeManager())
    opentracing.set_global_tracer(later)
    work()
    assert names(recorder) == ["global"]
    assert names(later) == ["global"]


def test_tracing_argument_tracer(recorder: RecordingTracer) -> None:
    """tracing= a Tracer wins over the global tracer outside a request."""
    own = MockTracer(scope_manager=ScopeManager())

    @traced("own", tracing=own)
    def work() -> None:
        pass

    work()
    assert names(own) == ["own"]
    assert names(recorder) == []


def test_tracing_argument_tracing(recorder: RecordingTracer) -> None:
    """tracing= a Tracing uses that Tracing's tracer."""
    own = MockTracer(scope_manager=ScopeManager())

    @traced("own", tracing=Tracing(own))
    def work() -> None:
        pass

    work()
    assert names(own) == ["own"]
    assert names(recorder) == []


def test_tracing_argument_without_tracer_follows_global(recorder: RecordingTracer) -> None:
    """tracing=Tracing() (no tracer) uses the global tracer of the moment of the call."""

    @traced("late", tracing=Tracing())
    def work() -> None:
        pass

    later = MockTracer(scope_manager=ScopeManager())
    opentracing.set_global_tracer(later)
    work()
    assert names(later) == ["late"]
    assert names(recorder) == []


def test_request_tracer_wins(tracer: MockTracer, make_app: Callable[..., TestApp]) -> None:
    """Inside a request, the app's tracer is used even when tracing= names another one, and
    the span is a child of the request's span; outside, tracing= applies again."""
    other = MockTracer(scope_manager=ScopeManager())
    global_tracer = MockTracer(scope_manager=ScopeManager())
    opentracing.set_global_tracer(global_tracer)

    @traced("lookup", tracing=other)
    def lookup(name: str) -> str:
        return name.upper()

    def view(request: Any) -> Response:
        assert current_tracing() is not None
        return Response(lookup(request.matchdict["name"]))

    def configure(config: Configurator) -> None:
        config.add_route("lookup_route", "/lookup/{name}")
        config.add_view(view, route_name="lookup_route")

    app = make_app({}, configure)
    assert app.get("/lookup/ada").text == "ADA"
    assert names(tracer) == ["lookup", "lookup_route"]
    child, server = tracer.finished_spans()
    assert child.tags == {}
    assert server.tags["span.kind"] == "server"
    assert child.parent_id == server.context.span_id
    assert other.finished_spans() == []
    assert global_tracer.finished_spans() == []

    assert lookup("x") == "X"
    assert names(other) == ["lookup"]


def test_request_tracer_in_asyncio_fan_out_and_threads(
    tracer: MockTracer, make_app: Callable[..., TestApp]
) -> None:
    """In a view, coroutines run with asyncio and threads with a copied context use the app's
    tracer under the request span; a bare thread falls back to tracing=."""
    other = MockTracer(scope_manager=ScopeManager())

    @traced("fetch", tracing=other)
    async def fetch(i: int) -> int:
        await asyncio.sleep(0)
        return i

    @traced("in_thread", tracing=other)
    def in_thread() -> None:
        pass

    def view(request: Any) -> Response:
        async def fan_out() -> list[int]:
            return await asyncio.gather(*(fetch(i) for i in range(3)))

        assert asyncio.run(fan_out()) == [0, 1, 2]
        context = contextvars.copy_context()
        for target in (lambda: context.run(in_thread), in_thread):
            thread = threading.Thread(target=target)
            thread.start()
            thread.join(5)
        return Response("ok")

    def configure(config: Configurator) -> None:
        config.add_route("fan", "/fan")
        config.add_view(view, route_name="fan")

    make_app({}, configure).get("/fan")
    spans = tracer.finished_spans()
    server = spans[-1]
    assert server.operation_name == "fan"
    assert sorted(s.operation_name for s in spans[:-1]) == ["fetch"] * 3 + ["in_thread"]
    assert all(s.parent_id == server.context.span_id for s in spans[:-1])
    [bare] = other.finished_spans()
    assert bare.operation_name == "in_thread"
    assert bare.parent_id is None


# -- fail open -----------------------------------------------------------------------------------


def test_broken_tracer_fails_open_sync(caplog: pytest.LogCaptureFixture) -> None:
    """A tracer whose start_active_span raises: the function runs and returns; logged once."""
    calls: list[int] = []

    @traced(tracing=BrokenTracer())
    def work(x: int) -> int:
        calls.append(x)
        return x + 1

    with caplog.at_level(logging.WARNING, logger="pyramid_tracing"):
        assert work(1) == 2
        assert work(2) == 3
    assert calls == [1, 2]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "starting a @traced span failed with RuntimeError; the request goes "
        "on untouched (0 more such failures since the last message)"
    ]


def test_broken_tracer_keeps_exceptions() -> None:
    """With a broken tracer the function's own exception still propagates unchanged."""
    error = LookupError("app error")

    @traced(tracing=BrokenTracer())
    def fail() -> None:
        raise error

    with pytest.raises(LookupError) as info:
        fail()
    assert info.value is error


def test_broken_tracer_fails_open_async_and_generators() -> None:
    """Coroutines, generators and async generators run normally when the tracer fails."""
    broken = BrokenTracer()

    @traced(tracing=broken)
    async def coroutine() -> str:
        await asyncio.sleep(0)
        return "c"

    @traced(tracing=broken)
    def generator() -> Iterator[int]:
        yield from (1, 2)

    @traced(tracing=broken)
    async def async_generator() -> AsyncIterator[int]:
        for i in (3, 4):
            yield i

    async def consume() -> list[int]:
        return [i async for i in async_generator()]

    assert asyncio.run(coroutine()) == "c"
    assert list(generator()) == [1, 2]
    assert asyncio.run(consume()) == [3, 4]


class FailingActivate(ScopeManager):
    def activate(self, span: Any, finish_on_close: bool) -> Any:
        raise RuntimeError("activate failed")


class FailingThreadLocalActivate(ThreadLocalScopeManager):
    def activate(self, span: Any, finish_on_close: bool) -> Any:
        raise RuntimeError("activate failed")


@pytest.mark.parametrize("manager", [FailingActivate, FailingThreadLocalActivate])
def test_failing_activation_fails_open_for_generators(manager: type[Any]) -> None:
    """When the scope manager cannot activate the span, generators still yield every item and
    their spans are still finished."""
    tracer = MockTracer(scope_manager=manager())

    @traced("sync", tracing=tracer)
    def items() -> Iterator[int]:
        yield from (1, 2)

    @traced("async", tracing=tracer)
    async def aitems() -> AsyncIterator[int]:
        for i in (3, 4):
            yield i

    async def consume() -> list[int]:
        return [i async for i in aitems()]

    assert list(items()) == [1, 2]
    assert asyncio.run(consume()) == [3, 4]
    assert names(tracer) == ["sync", "async"]


def test_failing_finish_fails_open(recorder: RecordingTracer) -> None:
    """A span whose finish() raises does not change the function's result."""
    tracer = MockTracer(scope_manager=ScopeManager())
    original = tracer.start_span

    def start_span(*args: Any, **kwargs: Any) -> Any:
        span = original(*args, **kwargs)

        def finish(finish_time: float | None = None) -> None:
            raise RuntimeError("finish failed")

        span.finish = finish
        return span

    tracer.start_span = start_span  # type: ignore[method-assign]

    @traced(tracing=tracer)
    def work() -> str:
        return "ok"

    @traced(tracing=tracer)
    def items() -> Iterator[int]:
        yield 1

    assert work() == "ok"
    assert list(items()) == [1]
    assert active(tracer) is None
