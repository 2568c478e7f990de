"""The OpenTelemetry backend: spans on the OpenTelemetry API, no OpenTracing shim on the path.

The request's server span, its child spans, ``@traced`` spans and client spans are started
with the OpenTelemetry tracer of :class:`OtelTracer` (instrumentation scope
``pyramid_tracing``) and made current in OpenTelemetry's context, so that
``opentelemetry.trace.get_current_span()`` in a view is the request's span and spans of
OpenTelemetry instrumentations nest under it. Propagation is the global propagator's.

A handle is an :class:`OtelScope`: the OpenTelemetry span and the token of its activation.
Its ``span`` attribute, the OpenTracing view that hooks and ``request.tracing`` hand to app
code, is built only when read (:mod:`.view`, which needs the OpenTracing shim).

A span the sampler does not record costs almost nothing: it gets no attribute, and no child
span is started under it (render, transaction, SQL, ``@traced``, outbound): they reuse its
non-recording context, which still carries the trace id and the sampled flag downstream.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final

import opentracing
from opentelemetry import baggage as otel_baggage
from opentelemetry.context import Context, attach, detach, get_current
from opentelemetry.propagate import get_global_textmap
from opentelemetry.trace import Span as OtelSpan
from opentelemetry.trace import (
    SpanKind,
    Status,
    StatusCode,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace import Tracer as OtelApiTracer

from .._semconv import OPENTRACING, STABLE
from .._tags import TagPolicy, _safe_str, error_log
from .base import Backend, Ids
from .conventions import kind_and_attributes, plain_attributes

__all__ = ["OpenTelemetryBackend", "OtelScope", "OtelTracer"]

_SERVER: Final = SpanKind.SERVER
_INTERNAL: Final = SpanKind.INTERNAL
_ERROR: Final = StatusCode.ERROR
# An OpenTracing log without an "event" field (the shim's name for it, kept).
_DEFAULT_EVENT: Final = "log"


class OtelTracer(opentracing.Tracer):
    """An OpenTelemetry tracer, with an OpenTracing face built the first time it is used.

    :func:`pyramid_tracing.otel.tracer_from_settings` returns one; given as
    ``tracing.tracer`` it selects the OpenTelemetry backend. Its OpenTracing methods
    (``start_active_span``, ``start_span``, ``inject``, ``extract``, ``scope_manager``,
    ``active_span``) are those of a view over the same OpenTelemetry spans, built on the
    OpenTracing shim (``opentelemetry-opentracing-shim``) when first called; without the shim
    they raise an :class:`ImportError` naming the extra to install, and everything else
    (every span pyramid_tracing makes) works.

    Args:
        otel_tracer: the OpenTelemetry tracer (instrumentation scope ``pyramid_tracing``).
        provider: the tracer provider it comes from.
        late_attributes: the sampler decides without the start attributes (the SDK's own
            samplers do): a span starts without them and gets them only if it records.

    .. versionadded:: 0.2.0
    """

    # tracing.semconv defaults to OpenTelemetry's conventions for this tracer (_settings.py).
    _pyramid_tracing_otel = True

    def __init__(
        self, otel_tracer: OtelApiTracer, provider: Any, *, late_attributes: bool = False
    ) -> None:
        super().__init__(scope_manager=opentracing.ScopeManager())
        #: The OpenTelemetry tracer every span of pyramid_tracing is started with.
        self.otel_tracer = otel_tracer
        #: The tracer provider (the SDK's, or the global one).
        self.provider = provider
        #: The sampler ignores start attributes (see the class docstring).
        self.late_attributes = late_attributes
        #: The in-memory exporter (``tracing.otel.exporter = memory``), if any.
        self.memory: Any = None
        #: The HTTP server metrics' instruments (``tracing.otel.metrics``), if any.
        self.metrics: Any = None
        #: The meter provider built for the metrics, and its in-memory reader, if any.
        self.meters: Any = None
        self._view: opentracing.Tracer | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider!r}>"

    def opentracing_view(self) -> opentracing.Tracer:
        """The OpenTracing view of this tracer (the shim's tracer, adjusted), made once.

        Raises:
            ImportError: ``opentelemetry-opentracing-shim`` is not installed.
        """
        view = self._view
        if view is None:
            from .view import view_tracer

            view = self._view = view_tracer(self.otel_tracer)
        return view

    def span_view(self, span: OtelSpan) -> opentracing.Span:
        """The OpenTracing view of ``span`` (with the current context's baggage)."""
        from .view import view_span

        return view_span(self.opentracing_view(), span)

    @property
    def scope_manager(self) -> opentracing.ScopeManager:
        """The view's scope manager: its active scope is OpenTelemetry's current span."""
        manager: opentracing.ScopeManager = self.opentracing_view().scope_manager
        return manager

    @property
    def active_span(self) -> opentracing.Span | None:
        """OpenTelemetry's current span, as an OpenTracing span."""
        span: opentracing.Span | None = self.opentracing_view().active_span
        return span

    def start_active_span(self, *args: Any, **kwargs: Any) -> opentracing.Scope:
        """OpenTracing's ``start_active_span``, on the view."""
        return self.opentracing_view().start_active_span(*args, **kwargs)

    def start_span(self, *args: Any, **kwargs: Any) -> opentracing.Span:
        """OpenTracing's ``start_span``, on the view."""
        return self.opentracing_view().start_span(*args, **kwargs)

    def inject(self, span_context: Any, format: Any, carrier: Any) -> None:
        """OpenTracing's ``inject``, on the view (the global propagator, with baggage)."""
        self.opentracing_view().inject(span_context, format, carrier)

    def extract(self, format: Any, carrier: Any) -> opentracing.SpanContext:
        """OpenTracing's ``extract``, on the view (the global propagator, with baggage)."""
        return self.opentracing_view().extract(format, carrier)


class OtelScope(opentracing.Scope):
    """The handle of an OpenTelemetry span: the span, and its activation if it has one.

    ``span`` is its OpenTracing view, made the first time it is read.
    """

    __slots__ = ("_tracer", "_view", "otel_span", "token")

    def __init__(self, tracer: OtelTracer, otel_span: OtelSpan, token: object) -> None:
        # Not Scope.__init__: the OpenTracing span is made only when asked for.
        self._tracer = tracer
        self._view: opentracing.Span | None = None
        #: The OpenTelemetry span.
        self.otel_span = otel_span
        #: The token of its activation (``None`` when not active, or deactivated).
        self.token = token

    @property
    def manager(self) -> opentracing.ScopeManager:
        """The OpenTracing view's scope manager."""
        return self._tracer.scope_manager

    @property
    def span(self) -> opentracing.Span:
        """The OpenTracing view of the span, made once."""
        view = self._view
        if view is None:
            view = self._view = self._tracer.span_view(self.otel_span)
        return view

    def close(self) -> None:
        """Restore the context that was current before (if active), then end the span."""
        token = self.token
        if token is not None:
            self.token = None
            detach(token)  # type: ignore[arg-type]
        self.otel_span.end()


class OpenTelemetryBackend(Backend):
    """Spans on the OpenTelemetry API, for :class:`OtelTracer`."""

    __slots__ = ("_otel", "_policy", "_semconv", "_tracer")

    def __init__(self, tracer: OtelTracer, semconv: str, policy: TagPolicy) -> None:
        self._tracer = tracer
        self._otel = tracer.otel_tracer
        self._semconv = semconv
        self._policy = policy

    #: Its ids are W3C's (128-bit trace id, 64-bit span id) whatever their value.
    w3c_ids = True

    @property
    def tracer(self) -> OtelTracer:
        """The :class:`OtelTracer` (its OpenTracing view is built only when used)."""
        return self._tracer

    def start_child(
        self, name: str, tags: Mapping[str, object] | None, *, active: bool, root: bool
    ) -> OtelScope | None:
        """A span under the current span (see :meth:`Backend.start_child`)."""
        parent = get_current_span()
        context = parent.get_span_context()
        if context.is_valid:
            if not context.trace_flags.sampled and not parent.is_recording():
                return None  # dropped: the child would be dropped too
        elif not root:
            return None
        kind, attributes = kind_and_attributes(tags)
        span = self._otel.start_span(name, kind=kind, attributes=attributes)
        if attributes and attributes.get("error") is True:
            span.set_status(_ERROR)
        token = attach(set_span_in_context(span)) if active else None
        return OtelScope(self._tracer, span, token)

    def active_recorded(self) -> bool | None:
        """``None`` outside a trace or in a dropped one, else whether the span records."""
        parent = get_current_span()
        context = parent.get_span_context()
        if not context.is_valid:
            return None
        if parent.is_recording():
            return True
        return False if context.trace_flags.sampled else None

    def start_server_span(
        self, name: str, context: Context | None, attributes: dict[str, object] | None
    ) -> OtelSpan:
        """Start a SERVER span under ``context`` (the current context when ``None``)."""
        return self._otel.start_span(name, context, _SERVER, attributes)  # type: ignore[arg-type]

    def rename(self, handle: OtelScope, name: str) -> None:
        """``update_name``."""
        handle.otel_span.update_name(name)

    def set_attributes(self, handle: OtelScope, attributes: Mapping[str, object]) -> None:
        """``set_attributes``; ``error=True`` (OpenTracing's vocabulary) sets ERROR too."""
        span = handle.otel_span
        span.set_attributes(attributes)  # type: ignore[arg-type]
        if attributes.get("error") is True:
            span.set_status(_ERROR)

    def record_error(self, handle: OtelScope, exception: BaseException) -> None:
        """``error=true`` and the error event, OpenTelemetry's ``exception`` event, or both."""
        span = handle.otel_span
        semconv = self._semconv
        policy = self._policy
        if semconv != STABLE:
            fields = error_log(exception, policy)
            span.set_attribute("error", True)
            span.set_status(_ERROR)
            name = fields.get("event", _DEFAULT_EVENT)
            span.add_event(str(name), plain_attributes(fields))
        if semconv != OPENTRACING:
            span.set_attribute("error.type", type(exception).__qualname__)
            span.record_exception(exception)
            span.set_status(Status(_ERROR, policy.truncate(_safe_str(exception))))

    def fail_with_status(self, handle: OtelScope, status: int) -> None:
        """The ERROR status, with ``error.type`` the status (or ``error=true``)."""
        span = handle.otel_span
        if self._semconv == OPENTRACING:
            span.set_attribute("error", True)
        else:
            span.set_attribute("error.type", str(status))
        span.set_status(_ERROR)

    def recording(self, handle: OtelScope) -> bool:
        """``is_recording``."""
        return handle.otel_span.is_recording()

    def activate(self, handle: OtelScope) -> object:
        """Attach a context holding the span."""
        return attach(set_span_in_context(handle.otel_span))

    def deactivate(self, activation: Any) -> None:
        """Detach it."""
        detach(activation)

    def end(self, handle: OtelScope) -> None:
        """``end``."""
        handle.otel_span.end()

    def context_local(self) -> bool:
        """OpenTelemetry's context lives in contextvars."""
        return True

    def ids(self, handle: OtelScope) -> Ids | None:
        """The span context's ids."""
        return _ids(handle.otel_span)

    def active_ids(self) -> Ids | None:
        """The ids of OpenTelemetry's current span."""
        return _ids(get_current_span())

    def inject(self, carrier: MutableMapping[str, str], handle: OtelScope | None = None) -> None:
        """The global propagator injects the current context (or ``handle``'s span in it)."""
        context = None if handle is None else set_span_in_context(handle.otel_span)
        get_global_textmap().inject(carrier, context=context)

    def active_span(self, server: OtelScope | None) -> opentracing.Span | None:
        """OpenTelemetry's current span as an OpenTracing view (the server's, made once)."""
        current = get_current_span()
        if server is not None and server.otel_span is current:
            return server.span
        if not current.get_span_context().is_valid:
            return None
        return self._tracer.span_view(current)

    def baggage(self, handle: OtelScope) -> Mapping[str, object]:
        """The current context's baggage, and what was set on the span's view since."""
        items: dict[str, object] = dict(otel_baggage.get_all())
        view = handle._view
        if view is not None:
            items.update(otel_baggage.get_all(view.context.baggage))  # type: ignore[arg-type]
        return items

    def capture(self) -> Context:
        """OpenTelemetry's current context."""
        return get_current()

    def restore(self, captured: Context) -> object:
        """Attach the captured context."""
        return attach(captured)


def _ids(span: OtelSpan) -> Ids | None:
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return context.trace_id, context.span_id, bool(context.trace_flags.sampled)
