"""Child spans that fail open: the tracer to use outside the tween, and each tracer call guarded.

Shared by ``@traced``, the context helpers and the outbound core, so that every span outside
the server span picks its tracer and reports a tracer failure the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import opentracing
from opentracing import Scope, Span

from ._failures import failures
from ._state import current as _current
from ._tracing import Tracing

__all__ = [
    "SpanFactory",
    "activate",
    "close",
    "default_tracing",
    "finish",
    "resolve_tracer",
    "tag_error",
]


def resolve_tracer(tracing: Tracing | opentracing.Tracer | None = None) -> opentracing.Tracer:
    """The tracer to use outside the tween: the current request's, else ``tracing``'s, else global.

    Args:
        tracing: a :class:`~pyramid_tracing.Tracing` or tracer to use when no request is being
            served in the current context.
    """
    current = _current.get()
    if current is not None:
        return current.tracer
    if isinstance(tracing, Tracing):
        return tracing.tracer
    if tracing is not None:
        return tracing
    return opentracing.global_tracer()


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

    def _tags(self) -> dict[str, object] | None:
        # A copy per span: tracers may keep the dict as the span's own tags (MockTracer does),
        # and one call's set_tag("error", True) must not reach the next call's span.
        tags = self.tags
        return None if tags is None else dict(tags)

    def start_active(self) -> Scope | None:
        try:
            tracer = resolve_tracer(self.tracing)
            return tracer.start_active_span(self.name, tags=self._tags(), finish_on_close=True)
        except Exception as exc:
            failures.report("starting a @traced span", exc)
            return None

    def start(self) -> tuple[opentracing.Tracer, Span] | None:
        try:
            tracer = resolve_tracer(self.tracing)
            return tracer, tracer.start_span(self.name, tags=self._tags())
        except Exception as exc:
            failures.report("starting a @traced span", exc)
            return None


def tag_error(span: Span, exc: BaseException, spans: SpanFactory) -> None:
    try:
        # The policy of the Tracing whose tracer made the span (see resolve_tracer).
        current = _current.get()
        if current is None and isinstance(spans.tracing, Tracing):
            current = spans.tracing
        (current or default_tracing()).record_error(span, exc)
    except Exception as error:
        failures.report("tagging a @traced span with its error", error)


@functools.cache
def default_tracing() -> Tracing:
    return Tracing()


def close(scope: Scope) -> None:
    try:
        scope.close()
    except Exception as exc:
        failures.report("finishing a @traced span", exc)


def finish(span: Span) -> None:
    try:
        span.finish()
    except Exception as exc:
        failures.report("finishing a @traced span", exc)


def activate(tracer: opentracing.Tracer, span: Span) -> Scope | None:
    try:
        return tracer.scope_manager.activate(span, False)
    except Exception as exc:
        failures.report("activating a @traced span", exc)
        return None
