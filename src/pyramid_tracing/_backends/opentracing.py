"""The OpenTracing backend: any OpenTracing tracer, its spans and scopes as the handles.

A handle is the tracer's own ``Scope`` (a span started active) or ``Span`` (started
inactive). The server span's phases for these tracers, with what the hot path may skip for
one of them, are :class:`~pyramid_tracing._server.opentracing.OpenTracingSpans`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final

import opentracing
from opentracing import Format, Scope, Span
from opentracing.ext import tags as ext_tags
from opentracing.scope_managers.contextvars import ContextVarsScopeManager

from .._scope import ScopeManager
from .._semconv import OPENTRACING, STABLE
from .._semconv import fail_with_status as stable_status
from .._semconv import record_error as stable_error
from .._tags import TagPolicy, error_log
from .._trace_ids import span_ids
from .._tracers import span_recorded
from .base import Backend, Ids

__all__ = ["OpenTracingBackend", "record_span_error"]


# Scope managers that keep the active span in a ContextVar (see context_local).
_CONTEXT_SCOPE_MANAGERS: Final = (ScopeManager, ContextVarsScopeManager)


def _span(handle: Any) -> Span:
    span: Span = handle.span if isinstance(handle, Scope) else handle
    return span


def record_span_error(
    span: Span, exception: BaseException, semconv: str, policy: TagPolicy
) -> None:
    """Mark ``span`` failed with ``exception`` in the vocabulary ``semconv`` names."""
    if semconv != STABLE:
        span.set_tag(ext_tags.ERROR, True)
        span.log_kv(error_log(exception, policy))
    if semconv != OPENTRACING:
        stable_error(span, exception, policy)


class OpenTracingBackend(Backend):
    """Spans of an OpenTracing tracer: the given one, else the global tracer at each use."""

    __slots__ = ("_given", "_policy", "_semconv")

    def __init__(self, tracer: opentracing.Tracer | None, semconv: str, policy: TagPolicy) -> None:
        self._given = tracer
        self._semconv = semconv
        self._policy = policy

    #: Its ids are W3C's (128-bit trace id, 64-bit span id) whatever their value.
    w3c_ids = False

    @property
    def given(self) -> opentracing.Tracer | None:
        """The tracer given (``None``: the global tracer, looked up at each use)."""
        return self._given

    @property
    def tracer(self) -> opentracing.Tracer:
        """The tracer given, or else the OpenTracing global tracer at this moment."""
        tracer = self._given
        return opentracing.global_tracer() if tracer is None else tracer

    def start_child(
        self, name: str, tags: Mapping[str, object] | None, *, active: bool, root: bool
    ) -> Any:
        """A span of the tracer under its active span (see :meth:`Backend.start_child`)."""
        tracer = self.tracer
        if type(tracer) is opentracing.Tracer:
            # OpenTracing's own no-op tracer: its scope manager always has a (no-op) span.
            return None
        parent = tracer.active_span
        if parent is None and not root:
            return None
        # A copy per span: tracers may keep the dict as the span's own tags (MockTracer
        # does). A parent that is not sampled: the child keeps its decision, drops its tags.
        own = (
            None if not tags or (parent is not None and not span_recorded(parent)) else dict(tags)
        )
        if active:
            return tracer.start_active_span(name, child_of=parent, tags=own, finish_on_close=True)
        return tracer.start_span(name, child_of=parent, tags=own)

    def active_recorded(self) -> bool | None:
        """``None`` outside a trace, else whether the tracer records the active span."""
        tracer = self.tracer
        if type(tracer) is opentracing.Tracer:
            return None
        parent = tracer.active_span
        return None if parent is None else span_recorded(parent)

    def rename(self, handle: Any, name: str) -> None:
        """``set_operation_name``."""
        # The isinstance written out (not _span): rename and set_attributes run per request.
        (handle.span if isinstance(handle, Scope) else handle).set_operation_name(name)

    def set_attributes(self, handle: Any, attributes: Mapping[str, object]) -> None:
        """``set_tag`` for each attribute."""
        span = handle.span if isinstance(handle, Scope) else handle
        for key, value in attributes.items():
            span.set_tag(key, value)  # type: ignore[arg-type]  # any value the tracer takes

    def record_error(self, handle: Any, exception: BaseException) -> None:
        """``error=true`` and the error log, OpenTelemetry's ``exception`` event, or both."""
        record_span_error(_span(handle), exception, self._semconv, self._policy)

    def fail_with_status(self, handle: Any, status: int) -> None:
        """``error=true``; in the stable conventions, ``error.type`` the status too."""
        span = _span(handle)
        if self._semconv == OPENTRACING:
            span.set_tag(ext_tags.ERROR, True)
        else:
            stable_status(span, status)

    def recording(self, handle: Any) -> bool:
        """The tracer's sampling decision, where it is known (else ``True``)."""
        return span_recorded(_span(handle))

    def activate(self, handle: Any) -> Scope:
        """The tracer's scope manager activates the span (without finishing it on close)."""
        return self.tracer.scope_manager.activate(_span(handle), False)

    def deactivate(self, activation: Any) -> None:
        """Close the scope."""
        activation.close()

    def end(self, handle: Any) -> None:
        """``finish``."""
        _span(handle).finish()

    def context_local(self) -> bool:
        """Whether the tracer's active span lives in a ContextVar (not per thread)."""
        return isinstance(self.tracer.scope_manager, _CONTEXT_SCOPE_MANAGERS)

    def ids(self, handle: Any) -> Ids | None:
        """The ids in the span's context, whatever the tracer."""
        return span_ids(_span(handle))

    def active_ids(self) -> Ids | None:
        """The ids of the tracer's active span."""
        tracer = self.tracer
        if type(tracer) is opentracing.Tracer:
            return None
        span = tracer.active_span
        return None if span is None else span_ids(span)

    def inject(self, carrier: MutableMapping[str, str], handle: Any = None) -> None:
        """The tracer's ``inject`` in the HTTP headers format."""
        tracer = self.tracer
        if handle is None:
            span = tracer.active_span
            if span is None:
                return
        else:
            span = _span(handle)
        # The stubs say dict; any mutable mapping works with every tracer tested.
        tracer.inject(span.context, Format.HTTP_HEADERS, carrier)  # type: ignore[arg-type]

    def active_span(self, server: Any) -> Span | None:
        """The scope manager's active span."""
        scope = self.tracer.scope_manager.active
        return None if scope is None else scope.span

    def baggage(self, handle: Any) -> Mapping[str, object]:
        """The span context's baggage (the shim keeps it in an OpenTelemetry Context)."""
        bag: object = _span(handle).context.baggage
        if type(bag).__module__ == "opentelemetry.context.context":
            from opentelemetry.baggage import get_all

            bag = get_all(bag)  # type: ignore[arg-type]
        return bag if isinstance(bag, Mapping) else {}

    def capture(self) -> Any:
        """The tracer and its active span."""
        tracer = self.tracer
        scope = tracer.scope_manager.active
        return None if scope is None else (tracer, scope.span)

    def restore(self, captured: Any) -> Any:
        """Activate the captured span in the captured tracer."""
        if captured is None:
            return None
        tracer, span = captured
        return tracer.scope_manager.activate(span, False)
