"""``@traced``: a child span around any function, coroutine or generator."""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from typing import Any, TypeVar, cast, overload

import opentracing
from typing_extensions import ParamSpec

from ._backends import Backend
from ._child_spans import SpanFactory, activate, close, deactivate, finish, tag_error
from ._failures import failures
from ._tracing import Tracing

__all__ = ["traced"]

P = ParamSpec("P")
R = TypeVar("R")


def _wrap(func: Callable[P, R], spans: SpanFactory) -> Callable[P, R]:
    # Branch once, at decoration time: the wrappers themselves never inspect.
    if inspect.isasyncgenfunction(func):
        wrapper = _wrap_async_generator(func, spans)
    elif inspect.isgeneratorfunction(func):
        wrapper = _wrap_generator(func, spans)
    elif inspect.iscoroutinefunction(func):
        wrapper = _wrap_coroutine(func, spans)
    else:
        wrapper = _wrap_function(func, spans)
    return cast("Callable[P, R]", wrapper)


def _wrap_function(func: Callable[..., Any], spans: SpanFactory) -> Callable[..., Any]:
    @functools.wraps(func)
    def traced_function(*args: Any, **kwargs: Any) -> Any:
        started = spans.start_active()
        if started is None:
            return func(*args, **kwargs)
        try:
            return func(*args, **kwargs)
        except BaseException as exc:
            tag_error(*started, exc)
            raise
        finally:
            close(started[1])

    return traced_function


def _wrap_coroutine(func: Callable[..., Any], spans: SpanFactory) -> Callable[..., Any]:
    @functools.wraps(func)
    async def traced_coroutine(*args: Any, **kwargs: Any) -> Any:
        # The span starts when the coroutine runs, not when it is created.
        started = spans.start_active()
        if started is None:
            return await func(*args, **kwargs)
        try:
            return await func(*args, **kwargs)
        except BaseException as exc:
            tag_error(*started, exc)
            raise
        finally:
            close(started[1])

    return traced_coroutine


class _Body:
    """Where a generator's body runs: its own copy of the context, its span active there.

    With a backend whose active span lives in contextvars, the body runs in a copied context
    where the generator's span stays active for the whole iteration: scopes the body holds
    across a yield stay in that context, and the consumer's active span between items is left
    alone. Other scope managers (thread-local) share one state with the consumer, so the span
    is activated around each step instead.
    """

    __slots__ = ("backend", "context", "handle", "held", "per_step")

    def __init__(self, backend: Backend, handle: Any) -> None:
        self.backend = backend
        self.handle = handle
        # Copied when the iteration starts: the body sees the consumer's context of that moment.
        self.context = contextvars.copy_context()
        try:
            local = backend.context_local()
        except Exception as exc:
            failures.report("activating a @traced span", exc)
            local = False
        self.per_step = not local
        self.held = None if self.per_step else self.context.run(activate, backend, handle)

    def step(self, method: Callable[..., Any], *args: Any) -> Any:
        """Run one step of the body (``send``, ``throw``, ``close``) in its context."""
        if not self.per_step:
            return self.context.run(method, *args)
        activation = activate(self.backend, self.handle)
        try:
            return method(*args)
        finally:
            if activation is not None:
                deactivate(self.backend, activation)

    def end(self) -> None:
        """Deactivate the span in the body's context and finish it."""
        if self.held is not None:
            self.context.run(deactivate, self.backend, self.held)
        finish(self.backend, self.handle)


class _StepIn:
    """Await ``awaitable`` with each of its steps run by ``body`` (in the body's context).

    ``await`` cannot switch contexts; driving the awaitable by hand can, and passes what it
    yields (futures) to the task unchanged, so the task and its cancellation work as usual.
    """

    __slots__ = ("awaitable", "body")

    def __init__(self, body: _Body, awaitable: Awaitable[Any]) -> None:
        self.body = body
        self.awaitable = awaitable

    def __await__(self) -> Generator[Any, Any, Any]:
        iterator = self.awaitable.__await__()
        step = self.body.step
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            try:
                if to_throw is not None:
                    thrown, to_throw = to_throw, None
                    yielded = step(iterator.throw, thrown)
                else:
                    yielded = step(iterator.send, to_send)
            except StopIteration as stop:
                return stop.value
            try:
                to_send = yield yielded
            except BaseException as exc:
                to_send, to_throw = None, exc


def _wrap_generator(func: Callable[..., Any], spans: SpanFactory) -> Callable[..., Any]:
    @functools.wraps(func)
    def traced_generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        started = spans.start()
        if started is None:
            return (yield from func(*args, **kwargs))
        body = _Body(*started)
        generator = func(*args, **kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                try:
                    if to_throw is not None:
                        thrown, to_throw = to_throw, None
                        value = body.step(generator.throw, thrown)
                    else:
                        value = body.step(generator.send, to_send)
                except StopIteration as stop:
                    return stop.value
                try:
                    to_send = yield value
                except GeneratorExit:
                    body.step(generator.close)
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            raise
        except BaseException as exc:
            tag_error(body.backend, body.handle, exc)
            raise
        finally:
            body.end()

    return traced_generator


def _wrap_async_generator(func: Callable[..., Any], spans: SpanFactory) -> Callable[..., Any]:
    @functools.wraps(func)
    async def traced_async_generator(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        started = spans.start()
        if started is None:
            async for item in func(*args, **kwargs):
                yield item
            return
        body = _Body(*started)
        generator = func(*args, **kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                try:
                    if to_throw is not None:
                        thrown, to_throw = to_throw, None
                        value = await _StepIn(body, generator.athrow(thrown))
                    else:
                        value = await _StepIn(body, generator.asend(to_send))
                except StopAsyncIteration:
                    return
                try:
                    to_send = yield value
                except GeneratorExit:
                    await _StepIn(body, generator.aclose())
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            raise
        except BaseException as exc:
            tag_error(body.backend, body.handle, exc)
            raise
        finally:
            body.end()

    return traced_async_generator


def _default_name(func: object) -> str:
    """``__qualname__``; a partial's function's, or a callable object's class's."""
    name = getattr(func, "__qualname__", None)
    if isinstance(name, str):
        return name
    wrapped = getattr(func, "func", None)  # functools.partial
    if wrapped is not None:
        return _default_name(wrapped)
    return type(func).__qualname__


@overload
def traced(operation_name: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced(
    operation_name: str | None = None,
    /,
    *,
    tags: Mapping[str, object] | None = None,
    tracing: Tracing | opentracing.Tracer | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced(
    operation_name: str | Callable[..., Any] | None = None,
    /,
    *,
    tags: Mapping[str, object] | None = None,
    tracing: Tracing | opentracing.Tracer | None = None,
) -> Any:
    """Trace a function with a child span of the active span.

    Use it bare (``@traced``) or with arguments (``@traced("name", tags={...})``). It works
    on plain functions, ``async def`` coroutines (the span covers the awaited run, not the
    coroutine's creation), generators and async generators (the span covers the iteration,
    and is active only while the generator body runs). An exception tags the span with
    ``error=true`` and the error log fields, and propagates unchanged.

    The wrapped function keeps its signature and metadata (:func:`functools.wraps`).

    Args:
        operation_name: the span's name; defaults to the function's ``__qualname__``.
        tags: tags set on every span.
        tracing: the :class:`~pyramid_tracing.Tracing` or tracer to use when no request is
            being served in the current context (the request's tracer wins); defaults to the
            OpenTracing global tracer.

    Returns:
        The decorated function, or a decorator when called with arguments.
    """
    if callable(operation_name):
        func = operation_name
        return _wrap(func, SpanFactory(_default_name(func), tags, tracing))
    if operation_name is not None and not isinstance(cast("object", operation_name), str):
        msg = f"traced() takes an operation name or a function, got {operation_name!r}"
        raise TypeError(msg)
    name = operation_name

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        return _wrap(func, SpanFactory(name or _default_name(func), tags, tracing))

    return decorator
