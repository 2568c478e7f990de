"""The *start* phase with an OpenTracing tracer: the caller's context, the span, its tags.

A mixin of :class:`~pyramid_tracing._backends.opentracing.OpenTracingSpans`, which holds the
attributes it reads; split out so that each phase's module stays readable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

import opentracing
from opentracing import Format, Scope

from ._carrier import HeaderCarrier
from ._failures import failures
from ._server_tags import StartTags
from ._state import RequestState
from ._tags import TagPolicy
from ._tracers import Capabilities, LateTags
from .typing import Request

if TYPE_CHECKING:
    from ._tracing import Tracing

__all__ = ["StartPhase"]


_EXPECTED_EXTRACT_ERRORS: Final = (
    opentracing.InvalidCarrierException,
    opentracing.SpanContextCorruptedException,
    opentracing.UnsupportedFormatException,
)


def _give_up_parent(exc: Exception, parent: Any) -> None:
    """Raise ``exc`` again if the span had no parent; else report it, to start as a root.

    A context the tracer extracted but cannot use must not cost the request its span. Called
    in the ``except`` block of a start (no closure on the happy path).
    """
    if parent is None:
        raise exc
    failures.report("starting the server span under the extracted context", exc)


def _start_active(
    tracer: opentracing.Tracer, name: str, parent: Any, tags: dict[str, object] | None
) -> Scope:
    """The tracer's own ``start_active_span`` under ``parent``; a new root if it fails there."""
    try:
        return tracer.start_active_span(
            name, child_of=parent, tags=tags, finish_on_close=True, ignore_active_span=True
        )
    except Exception as exc:
        _give_up_parent(exc, parent)
    return tracer.start_active_span(name, tags=tags, finish_on_close=True, ignore_active_span=True)


class StartPhase:
    """Starting a server span: extraction, the tracer's own path or a direct start, tags."""

    # Set by ServerSpans.__init__.
    _tracing: Tracing
    policy: TagPolicy
    _fixed: Capabilities | None
    capabilities: Callable[[], Capabilities]
    #: ``start_tags(request, method)``: every start tag, in the app's vocabulary.
    start_tags: StartTags

    def start_with(
        self, caps: Capabilities, request: Request, state: RequestState
    ) -> Scope | None:
        """Start and activate the server span of ``request``; ``None`` if the tracer fails.

        With a tracer whose sampling decision ignores the start tags (``caps.late_tags``), the
        span starts without them, and they are built only if the tracer records the span.
        """
        tracer = caps.tracer
        late = caps.late_tags
        try:
            method = request.method
            if caps.noop:
                # OpenTracing's own no-op tracer: its spans drop every tag and context, so none
                # is extracted or built (this path runs only when hooks want the span).
                scope = tracer.start_active_span(
                    method, finish_on_close=True, ignore_active_span=True
                )
            else:
                active = tracer.scope_manager.active
                # An outer WSGI layer that already traces this request: nest under it.
                parent = active.span if active is not None else _extract(caps, request.environ)
                scope = _start_active(
                    tracer, method, parent, self._first_tags(caps, request, method)
                )
        except Exception as exc:
            failures.report("starting the server span", exc)
            return None
        state._scope = scope
        state._spans = self  # type: ignore[assignment]  # ServerSpans: the one class with it
        state._routed = False
        recorded = caps.recorded
        if recorded is None:
            state._recorded = True
        else:
            span = scope.span
            state._recorded = recorded(span)
            if late is not None and state._recorded:
                try:
                    late.set_tags(span, self.start_tags(request, method))
                except Exception as exc:
                    failures.report("tagging the server span", exc)
        return scope

    def _first_tags(
        self, caps: Capabilities, request: Request, method: str
    ) -> dict[str, object] | None:
        """The tags the span starts with: all start tags, or only what the tracer reads."""
        late = caps.late_tags
        if late is None:
            return self.start_tags(request, method)
        early = late.early
        # A copy: jaeger-client adds its sampler's tags to the dict it is given.
        return None if early is None else dict(early)

    def late_tags(
        self, state: RequestState, request: Request, span: Any, late: LateTags | None
    ) -> bool:
        """Give a span started without its start tags these tags, if the tracer records it.

        Returns whether it records.
        """
        recorded = (self._fixed or self.capabilities()).recorded
        if recorded is not None and not recorded(span):
            return False
        state._recorded = True
        try:
            if late is not None:
                late.set_tags(span, self.start_tags(request, request.method))
        except Exception as exc:
            failures.report("tagging the server span", exc)
        return True


def _extract(caps: Capabilities, environ: dict[str, Any]) -> Any:
    """The caller's context in the request headers, or ``None``; never raises."""
    source = caps.source
    may_carry = caps.may_carry
    try:
        carrier = None if source is None else source(environ)
        if carrier is None:
            if may_carry is not None and not may_carry(environ):
                return None  # no header that can carry a context
            carrier = cast("dict[str, str]", HeaderCarrier(environ))
        elif not carrier:
            return None  # no header that this tracer reads: nothing to extract
        context = caps.tracer.extract(Format.HTTP_HEADERS, carrier)
        is_empty = caps.is_empty
        return None if is_empty is not None and is_empty(context) else context
    except _EXPECTED_EXTRACT_ERRORS:
        return None
    except Exception as exc:
        failures.report("extracting the trace context from the request headers", exc)
        return None
