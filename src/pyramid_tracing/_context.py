"""Carrying the active span (and every other context variable) into worker threads."""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from typing_extensions import ParamSpec

from ._backends import Backend
from ._child_spans import resolve_backend
from ._failures import failures

__all__ = ["ContextExecutor", "context_propagating"]

P = ParamSpec("P")
R = TypeVar("R")


class _Captured:
    """The context of the code handing work off, and the span active in it."""

    __slots__ = ("backend", "context", "span")

    def __init__(self) -> None:
        self.context = contextvars.copy_context()
        self.backend: Backend | None = None
        self.span: Any = None
        try:
            backend = resolve_backend()
            captured = backend.capture()
        except Exception as exc:
            failures.report("reading the active span to hand to a worker", exc)
            return
        if captured is not None:
            self.backend, self.span = backend, captured

    def call(self, func: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """Call ``func`` under the captured span; run it inside (a copy of) ``self.context``."""
        activation = self._reactivate()
        try:
            return func(*args, **kwargs)
        finally:
            if activation is not None:
                try:
                    self.backend.deactivate(activation)  # type: ignore[union-attr]
                except Exception as exc:
                    failures.report("deactivating the span handed to a worker", exc)

    def _reactivate(self) -> Any:
        # The copied context holds the span's scope, but the request may close that scope
        # at any moment (work that outlives the request), and some tracers keep scopes per
        # thread: a scope of the work's own, in this copy only, keeps the span active for
        # the whole run, so that the work's spans are always its children.
        backend = self.backend
        if backend is None:
            return None
        try:
            return backend.restore(self.span)
        except Exception as exc:
            failures.report("activating the span handed to a worker", exc)
            return None


def context_propagating(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``func`` so that it runs in the context current now, wherever it is called.

    The context (:mod:`contextvars`: the active span, the request's Tracing) is captured when
    ``context_propagating`` is called, typically in the view, and each call of the wrapper
    runs ``func`` in a fresh copy of it. So work handed to a thread runs under the request's
    active span, and spans it starts are children of it::

        executor.submit(context_propagating(fetch_prices), order_id)

    The span active at wrap time (in the tracer of the request being served, else in the
    OpenTracing global tracer) stays the parent of the work's spans even when the work runs
    after the request's span has finished, and with tracers whose scope manager is per thread.

    What ``func`` changes in its context stays in its copy: the request's context is untouched
    while and after the work runs, even when the work outlives the request. The wrapper may be
    called any number of times, from any thread, concurrently.

    Args:
        func: the callable to wrap.

    Returns:
        The wrapper, with ``func``'s signature and metadata.
    """
    captured = _Captured()

    @functools.wraps(func)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        # A copy per call: one Context cannot be entered twice at once (concurrent calls
        # would raise RuntimeError), and calls must not see each other's changes.
        result: R = captured.context.copy().run(captured.call, func, args, kwargs)
        return result

    return run_in_context


class ContextExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that runs each submitted callable in a copy of the submitter's context.

    A :class:`~concurrent.futures.ThreadPoolExecutor` whose ``submit`` (and so ``map`` and
    ``loop.run_in_executor``) captures a copy of the current :mod:`contextvars` context and
    runs the callable in it, so work submitted from a view runs under the request's active
    span, even when it runs after the request has finished (as with
    :func:`context_propagating`). What the work changes stays in its copy: the request's
    context is untouched. The constructor arguments are those of ``ThreadPoolExecutor``.
    """

    def submit(
        self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[R]:
        """Schedule ``fn(*args, **kwargs)`` in a copy of the current context.

        Returns:
            The future of the call.
        """
        captured = _Captured()
        # captured.context is this submit's own copy: no second copy needed.
        call: Callable[[], R] = functools.partial(captured.call, fn, args, kwargs)
        return super().submit(captured.context.run, call)
