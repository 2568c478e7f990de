"""The OpenTracing backend: any OpenTracing tracer, its spans and scopes as the handles.

A handle is the tracer's own ``Scope`` (a span started active) or ``Span`` (started
inactive). What the hot path may skip or shortcut for one tracer (extraction, late tags,
sampling) is decided once per tracer by :func:`~pyramid_tracing._tracers.capabilities`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import opentracing
from opentracing import Format, Scope, Span
from opentracing.ext import tags as ext_tags
from opentracing.scope_managers.contextvars import ContextVarsScopeManager

from .._failures import logger
from .._scope import ScopeManager
from .._semconv import OPENTRACING, STABLE
from .._semconv import fail_with_status as stable_status
from .._semconv import record_error as stable_error
from .._server_span import ServerSpans
from .._server_start import StartPhase
from .._settings import TracingSettings
from .._state import RequestState, current
from .._tags import TagPolicy, error_log
from .._trace_ids import span_ids
from .._tracers import Capabilities, capabilities, span_recorded
from .base import Backend, Ids

if TYPE_CHECKING:
    from .._tracing import Tracing
    from ..typing import Request, StartSpanHook

__all__ = ["OpenTracingBackend", "OpenTracingSpans", "record_span_error"]

R = TypeVar("R")

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
    def tracer(self) -> opentracing.Tracer:
        """The tracer given, or else the OpenTracing global tracer at this moment."""
        tracer = self._given
        return opentracing.global_tracer() if tracer is None else tracer

    def server_spans(
        self, tracing: Tracing, settings: TracingSettings, start_hook: StartSpanHook | None
    ) -> ServerSpans:
        """The phases, with what the hot path decided for the given tracer."""
        return OpenTracingSpans(tracing, self, self._given, settings, start_hook)

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
        _span(handle).set_operation_name(name)

    def set_attributes(self, handle: Any, attributes: Mapping[str, object]) -> None:
        """``set_tag`` for each attribute."""
        span = _span(handle)
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


class OpenTracingSpans(StartPhase, ServerSpans):
    """The three phases with an OpenTracing tracer, and its shortcuts."""

    def __init__(
        self,
        tracing: Tracing,
        backend: OpenTracingBackend,
        tracer: opentracing.Tracer | None,
        settings: TracingSettings,
        start_hook: StartSpanHook | None,
    ) -> None:
        ServerSpans.__init__(self, tracing, backend, settings, start_hook)
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
                    "pyramid_tracing: no tracer is configured (tracing.tracer is not set) and "
                    "the OpenTracing global tracer is its no-op tracer: spans are dropped. Set "
                    "tracing.tracer, or install a global tracer with opentracing.set_global_tracer"
                )
        return found

    def start(self, request: Request, state: RequestState) -> Scope | None:
        """Start and activate the server span with the tracer (see :class:`StartPhase`)."""
        scope = self.start_with(self._fixed or self.capabilities(), request, state)
        if scope is not None and type(scope.span) is Span:
            state._recorded = False  # OpenTracing's own no-op span keeps nothing
        return scope

    def run(
        self,
        request: Request,
        state: RequestState,
        view: Callable[..., R],
        args: tuple[object, ...],
        kwargs: dict[str, Any],
        routed: bool,
        attributes: tuple[str, ...],
    ) -> R:
        """:meth:`ServerSpans.run`, with OpenTracing's no-op tracer short-cut."""
        caps = self._fixed or self.capabilities()
        noop_scope = caps.noop_scope
        if noop_scope is not None and self._no_hooks:
            # OpenTracing's own no-op tracer and no hooks: nothing can read a tag, so none is
            # built, and the no-op scope cannot fail. The span is still the request's span.
            state._scope = noop_scope
            state._routed = True
            current.set(self._tracing)  # in the context copy made by run(): it dies with it
            try:
                return view(*args, **kwargs)
            finally:
                state._scope = None
        return ServerSpans.run(self, request, state, view, args, kwargs, routed, attributes)

    def _record_late(self, state: RequestState, request: Request, scope: Scope) -> bool:
        caps = self._fixed or self._global
        return (
            caps is not None
            and caps.late_tags is not None
            # Sampled since the start (a hook or the view set sampling.priority): the span
            # gets the tags it went without.
            and self.late_tags(state, request, scope.span, caps.late_tags)
        )
