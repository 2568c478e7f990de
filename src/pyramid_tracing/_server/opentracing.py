"""The three phases with an OpenTracing tracer: its own start, and its shortcuts.

What the hot path may skip or shortcut for one tracer (extraction, late tags, sampling, the
no-op tracer) is decided once per tracer by :func:`~pyramid_tracing._tracers.capabilities`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import opentracing
from opentracing import Format, Scope

from .._backends.opentracing import OpenTracingBackend
from .._carrier import HeaderCarrier
from .._failures import failures, logger
from .._settings import TracingSettings
from .._state import RequestState
from .._tags import TagPolicy
from .._tracers import Capabilities, LateTags, capabilities
from ..typing import Request, StartSpanHook
from .phases import ServerSpans
from .tags import StartTags

__all__ = ["OpenTracingSpans"]

R = TypeVar("R")


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

    # Set by ServerSpans.__init__ and OpenTracingSpans.
    policy: TagPolicy
    _no_hooks: bool
    _fixed: Capabilities | None
    capabilities: Callable[[], Capabilities]
    #: ``start_tags(request, method)``: every start tag, in the app's vocabulary.
    start_tags: StartTags

    def start(self, request: Request, state: RequestState) -> Scope | None:
        """Start and activate the server span of ``request``; ``None`` if the tracer fails.

        With a tracer whose sampling decision ignores the start tags (``caps.late_tags``), the
        span starts without them, and they are built only if the tracer records the span.
        """
        caps = self._fixed or self.capabilities()
        noop_scope = caps.noop_scope
        if noop_scope is not None and self._no_hooks:
            # OpenTracing's own no-op tracer and no hooks: nothing can read a tag, so none is
            # built, and the no-op scope cannot fail. The span is still the request's span.
            state._scope = noop_scope
            state._spans = self  # type: ignore[assignment]  # ServerSpans: the one class
            state._routed = True
            state._recorded = False
            return noop_scope
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
            state._recorded = not caps.noop  # OpenTracing's own no-op span keeps nothing
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


class OpenTracingSpans(StartPhase, ServerSpans):
    """The three phases with an OpenTracing tracer, and its shortcuts."""

    def __init__(
        self,
        tracing: object,
        backend: OpenTracingBackend,
        policy: TagPolicy,
        settings: TracingSettings,
        start_hook: StartSpanHook | None,
    ) -> None:
        ServerSpans.__init__(self, tracing, backend, policy, settings, start_hook)
        tracer = backend.given
        # Decided once for a given tracer; for the global tracer, once per tracer installed
        # (one tuple, so that a thread never pairs a tracer with another's capabilities).
        self._fixed = None if tracer is None else capabilities(tracer)
        self._global: Capabilities | None = None

    def routes_at_start(self) -> bool:
        """Whether every span is routed as it starts (a given no-op tracer, no hooks)."""
        fixed = self._fixed
        return fixed is not None and fixed.noop and self._no_hooks

    def capabilities(self) -> Capabilities:
        """The tracer to use now, with what the hot path decided for it."""
        fixed = self._fixed
        if fixed is not None:
            return fixed
        tracer = opentracing.global_tracer()
        found = self._global
        if found is None or found.tracer is not tracer:
            found = self._global = capabilities(tracer)
            if found.noop:
                logger.warning(
                    "no tracer is configured (tracing.tracer is not set) and "
                    "the OpenTracing global tracer is its no-op tracer: spans are dropped. Set "
                    "tracing.tracer, or install a global tracer with opentracing.set_global_tracer"
                )
        return found

    def _record_late(self, state: RequestState, request: Request, scope: Scope) -> bool:
        caps = self._fixed or self._global
        return (
            caps is not None
            and caps.late_tags is not None
            # Sampled since the start (a hook or the view set sampling.priority): the span
            # gets the tags it went without.
            and self.late_tags(state, request, scope.span, caps.late_tags)
        )
