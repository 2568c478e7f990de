"""Child spans that fail open: the backend to use outside the tween, each call guarded.

Shared by ``@traced``, the context helpers and the outbound core, so that every span outside
the server span picks its backend and reports a tracer failure the same way.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import Any

import opentracing

from ._backends import Backend, backend_for
from ._failures import failures
from ._semconv import OPENTRACING
from ._tracing import Tracing, current_tracing

__all__ = [
    "SpanFactory",
    "activate",
    "close",
    "default_tracing",
    "resolve_backend",
    "resolve_tracer",
    "tag_error",
]

# The backends of tracers given to a helper directly (not through a Tracing).
_given: weakref.WeakKeyDictionary[opentracing.Tracer, Backend] = weakref.WeakKeyDictionary()


def resolve_backend(tracing: Tracing | opentracing.Tracer | None = None) -> Backend:
    """The backend to use outside the tween: the current request's, else ``tracing``'s.

    Args:
        tracing: a :class:`~pyramid_tracing.Tracing` or tracer to use when no request is being
            served in the current context; ``None`` means the OpenTracing global tracer.
    """
    current = current_tracing()
    if current is not None:
        return current._backend
    if isinstance(tracing, Tracing):
        return tracing._backend
    if tracing is None:
        return default_tracing()._backend
    backend = _given.get(tracing)
    if backend is None:
        backend = _given[tracing] = backend_for(tracing, OPENTRACING, default_tracing().policy)
    return backend


def resolve_tracer(tracing: Tracing | opentracing.Tracer | None = None) -> opentracing.Tracer:
    """The tracer to use outside the tween: the current request's, else ``tracing``'s, else global.

    Args:
        tracing: a :class:`~pyramid_tracing.Tracing` or tracer to use when no request is being
            served in the current context.
    """
    return resolve_backend(tracing).tracer


class SpanFactory:
    """Starts the spans of one decorated function; every tracer call fails open."""

    __slots__ = ("name", "tags", "tracing")

    def __init__(
        self,
        name: str,
        tags: Mapping[str, object] | None,
        tracing: Tracing | opentracing.Tracer | None,
    ) -> None:
        self.name = name
        self.tags = dict(tags) if tags else None
        self.tracing = tracing

    def start_active(self) -> tuple[Backend, Any] | None:
        """The backend and the handle of a new active span, or ``None``: run untraced."""
        try:
            backend = resolve_backend(self.tracing)
            handle = backend.start_child(self.name, self.tags, active=True, root=True)
        except Exception as exc:
            failures.report("starting a @traced span", exc)
            return None
        return None if handle is None else (backend, handle)

    def start(self) -> tuple[Backend, Any] | None:
        """The backend and the handle of a new span, not active yet; ``None``: untraced."""
        try:
            backend = resolve_backend(self.tracing)
            handle = backend.start_child(self.name, self.tags, active=False, root=True)
        except Exception as exc:
            failures.report("starting a @traced span", exc)
            return None
        return None if handle is None else (backend, handle)


def tag_error(backend: Backend, handle: Any, exc: BaseException) -> None:
    """Record ``exc`` on a ``@traced`` span; never raises."""
    try:
        backend.record_error(handle, exc)
    except Exception as error:
        failures.report("tagging a @traced span with its error", error)


@functools.cache
def default_tracing() -> Tracing:
    """The Tracing of the OpenTracing global tracer, with the default settings."""
    return Tracing()


def close(scope: Any) -> None:
    """Close an active span's handle (deactivate and end it); never raises."""
    try:
        scope.close()
    except Exception as exc:
        failures.report("finishing a @traced span", exc)


def finish(backend: Backend, handle: Any) -> None:
    """End a span started inactive; never raises."""
    try:
        backend.end(handle)
    except Exception as exc:
        failures.report("finishing a @traced span", exc)


def activate(backend: Backend, handle: Any) -> Any:
    """Make the span active; what to deactivate, or ``None`` if the tracer failed."""
    try:
        return backend.activate(handle)
    except Exception as exc:
        failures.report("activating a @traced span", exc)
        return None


def deactivate(backend: Backend, activation: Any) -> None:
    """Undo :func:`activate`; never raises."""
    try:
        backend.deactivate(activation)
    except Exception as exc:
        failures.report("finishing a @traced span", exc)
