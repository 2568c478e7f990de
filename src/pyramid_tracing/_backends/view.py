"""The OpenTracing view of OpenTelemetry spans, built on the OpenTracing shim's public API.

Only what app code asks for is built here: ``Tracing.tracer`` used as an OpenTracing tracer,
``request.tracing.span`` / ``active_span``, and the span a hook receives. Needs
``opentelemetry-opentracing-shim`` (the ``otel`` extra); without it, :func:`view_tracer`
raises one :class:`ImportError` that names what to install.

The shim's tracer gets three adjustments, each through a public method:

* its active span is always OpenTelemetry's current span (the shim's own scope manager only
  knows the scopes it activated, so under a span made current by OpenTelemetry code or by the
  backend it would report none): :class:`_ViewScopeManager`;
* the OpenTracing ``span.kind`` tag sets the OpenTelemetry span kind (:class:`_KindTracer`),
  an ``error=true`` tag the ERROR status, and log values OpenTelemetry cannot hold are
  stored as text (:class:`_ViewSpan`);
* baggage behaves as OpenTracing says: inherited by children, sent and received in the
  global propagator's headers (W3C ``baggage``), and the request's own baggage (what the
  caller sent) is the server span's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import Token
from typing import Any, Final

import opentracing
from opentracing import Format

from .conventions import kind_and_attributes, plain_attributes

try:
    from opentelemetry import baggage as otel_baggage
    from opentelemetry import trace as otel_trace
    from opentelemetry.context import Context, attach, create_key, detach, get_value, set_value
    from opentelemetry.propagate import get_global_textmap
    from opentelemetry.shim.opentracing_shim import (
        SpanContextShim,
        SpanShim,
        TracerShim,
    )
    from opentelemetry.trace import Link, SpanKind, StatusCode
    from opentelemetry.util.types import Attributes
except ImportError as exc:
    msg = (
        "The OpenTracing view of OpenTelemetry spans (Tracing.tracer, request.tracing.span "
        "and active_span, the span given to the hooks, OpenTracing code in the app) needs "
        f"the OpenTracing shim ({exc}): pip install 'pyramid_tracing[otel]' (or "
        "opentelemetry-opentracing-shim). Code on the OpenTelemetry API "
        "(opentelemetry.trace.get_current_span()) works without it."
    )
    raise ImportError(msg) from exc

__all__ = ["view_span", "view_tracer"]

_FORMATS: Final = (Format.TEXT_MAP, Format.HTTP_HEADERS)
# Where an activated OpenTracing scope sits in OpenTelemetry's context (our own key).
_SCOPE_KEY: Final = create_key("pyramid_tracing.opentracing_scope")


def view_tracer(otel_tracer: otel_trace.Tracer) -> opentracing.Tracer:
    """The OpenTracing tracer over ``otel_tracer``."""
    return _ViewTracer(_KindTracer(otel_tracer))


def view_span(tracer: opentracing.Tracer, span: otel_trace.Span) -> opentracing.Span:
    """The OpenTracing span over ``span``, carrying the current context's baggage."""
    view = _ViewSpan(tracer, SpanContextShim(span.get_span_context()), span)
    for key, value in otel_baggage.get_all().items():
        SpanShim.set_baggage_item(view, key, str(value))
    return view


class _ViewSpan(SpanShim):
    """The shim's span, with OpenTracing's conventions mapped to OpenTelemetry's.

    ``error=true`` also sets the ERROR status (what OTLP backends show as a failure), log
    values OpenTelemetry cannot hold are stored as text, and a baggage item set on the current
    span goes into OpenTelemetry's context too, so that the propagator sends it on and the
    children inherit it (until the span stops being current).
    """

    def set_tag(self, key: str, value: Any) -> _ViewSpan:
        """Set an attribute; ``error=True`` also sets the ERROR status."""
        otel_span = self.unwrap()  # type: ignore[no-untyped-call]
        otel_span.set_attribute(key, value)
        if key == "error" and value is True:
            otel_span.set_status(StatusCode.ERROR)
        return self

    def log_kv(self, key_values: Any, timestamp: float | None = None) -> _ViewSpan:
        """Add an event; values OpenTelemetry cannot hold are stored as text."""
        SpanShim.log_kv(self, plain_attributes(key_values), timestamp)
        return self

    def set_baggage_item(self, key: str, value: str) -> _ViewSpan:
        """Set a baggage item on the span, and in the context while the span is current."""
        SpanShim.set_baggage_item(self, key, value)
        if otel_trace.get_current_span() is self.unwrap():  # type: ignore[no-untyped-call]
            # Undone with the rest when the span's activation is (the request's, a scope's).
            attach(otel_baggage.set_baggage(key, value))
        return self


def _baggage_of(parent: object) -> Mapping[str, object]:
    if isinstance(parent, SpanShim):
        parent = parent.context
    if isinstance(parent, SpanContextShim):
        return otel_baggage.get_all(parent.baggage)
    return {}


class _ViewScope(opentracing.Scope):
    """A scope of the view: its span is current in OpenTelemetry's context until closed."""

    def __init__(
        self, manager: _ViewScopeManager, span: opentracing.Span, finish_on_close: bool
    ) -> None:
        super().__init__(manager, span)
        self._finish_on_close = finish_on_close
        self.otel_span = span.unwrap()  # type: ignore[attr-defined]
        self._token: Token[Context] | None = attach(
            set_value(_SCOPE_KEY, self, otel_trace.set_span_in_context(self.otel_span))
        )

    def close(self) -> None:
        """Restore the context that was current before; end the span if asked to."""
        token = self._token
        if token is not None:
            self._token = None
            detach(token)
        if self._finish_on_close:
            self.span.finish()


class _BorrowedScope(opentracing.Scope):
    """The scope of a span that the view did not activate (the backend's, or OTel code's).

    Closing it does nothing: whoever made the span current ends it and restores the context.
    """

    def close(self) -> None:
        """Do nothing: the span belongs to the code that made it current."""


class _ViewScopeManager(opentracing.ScopeManager):
    """A scope manager whose active scope is always OpenTelemetry's current span."""

    def __init__(self, tracer: opentracing.Tracer) -> None:
        super().__init__()
        self._tracer = tracer

    def activate(self, span: opentracing.Span, finish_on_close: bool) -> opentracing.Scope:
        """Make ``span`` OpenTelemetry's current span."""
        return _ViewScope(self, span, finish_on_close)

    @property
    def active(self) -> opentracing.Scope | None:
        """The scope of OpenTelemetry's current span, or ``None`` when there is none."""
        span = otel_trace.get_current_span()
        if not span.get_span_context().is_valid:
            return None
        scope = get_value(_SCOPE_KEY)
        if isinstance(scope, _ViewScope) and scope.otel_span is span:
            return scope
        return _BorrowedScope(self, view_span(self._tracer, span))


class _ViewTracer(TracerShim):
    """The shim's tracer with the scope manager and the baggage of the module docstring."""

    def __init__(self, tracer: otel_trace.Tracer) -> None:
        super().__init__(tracer)
        self._view_scopes = _ViewScopeManager(self)

    @property
    def scope_manager(self) -> opentracing.ScopeManager:
        """The scope manager that follows OpenTelemetry's current span."""
        return self._view_scopes

    @property
    def active_span(self) -> opentracing.Span | None:
        """OpenTelemetry's current span, as an OpenTracing span."""
        scope = self._view_scopes.active
        return None if scope is None else scope.span

    def start_active_span(  # type: ignore[override]  # a scope of the view, not the shim's
        self,
        operation_name: str,
        child_of: Any = None,
        references: Any = None,
        tags: Attributes = None,
        start_time: float | None = None,
        ignore_active_span: bool = False,
        finish_on_close: bool = True,
    ) -> opentracing.Scope:
        """Start a span (see :meth:`start_span`) and make it current."""
        span = self.start_span(
            operation_name, child_of, references, tags, start_time, ignore_active_span
        )
        return self._view_scopes.activate(span, finish_on_close)

    def start_span(
        self,
        operation_name: str | None = None,
        child_of: Any = None,
        references: Any = None,
        tags: Attributes = None,
        start_time: float | None = None,
        ignore_active_span: bool = False,
    ) -> SpanShim:
        """The shim's ``start_span``; the child inherits its parent's baggage."""
        shim: SpanShim = super().start_span(
            operation_name, child_of, references, tags, start_time, ignore_active_span
        )
        context: SpanContextShim = shim.context  # type: ignore[assignment]
        span = _ViewSpan(self, context, shim.unwrap())  # type: ignore[no-untyped-call]
        parent = child_of
        if parent is None and references:
            parent = references[0].referenced_context
        if parent is None and not ignore_active_span:
            parent = self.active_span
        for key, value in _baggage_of(parent).items():
            SpanShim.set_baggage_item(span, key, str(value))
        return span

    def inject(self, span_context: Any, format: object, carrier: object) -> None:
        """Write the span context and its baggage with the global propagator."""
        if format not in _FORMATS:
            raise opentracing.UnsupportedFormatException
        otel_context = span_context.unwrap() if span_context else None
        parent: Any = (
            otel_trace.NonRecordingSpan(otel_context)
            if isinstance(otel_context, otel_trace.SpanContext)
            else otel_context
        )
        context = otel_trace.set_span_in_context(parent)
        for key, value in _baggage_of(span_context).items():
            context = otel_baggage.set_baggage(key, value, context)
        get_global_textmap().inject(carrier, context=context)

    def extract(self, format: object, carrier: object) -> SpanContextShim:
        """Read a span context and its baggage with the global propagator."""
        if format not in _FORMATS:
            raise opentracing.UnsupportedFormatException
        context = get_global_textmap().extract(carrier)
        extracted = SpanContextShim(otel_trace.get_current_span(context).get_span_context())
        entries = otel_baggage.get_all(context)
        if entries:
            # The shim keeps baggage per span context; its span's public setter fills it.
            holder = SpanShim(self, extracted, otel_trace.NonRecordingSpan(extracted.unwrap()))
            for key, value in entries.items():
                holder.set_baggage_item(key, str(value))
        return extracted


class _KindTracer(otel_trace.Tracer):
    """The OpenTelemetry tracer under the view: maps OpenTracing tag conventions to OTel.

    An INTERNAL span takes the kind its ``span.kind`` tag names, and an ``error=true`` tag
    also sets the span's status to ERROR, which is what OTLP backends show as a failure.
    """

    def __init__(self, tracer: otel_trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> otel_trace.Span:
        """Start a span; an INTERNAL one gets the kind that its ``span.kind`` tag names."""
        if attributes:
            named, attributes = kind_and_attributes(attributes)
            if kind is SpanKind.INTERNAL:
                kind = named
        span = self._tracer.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        if attributes and attributes.get("error") is True:
            span.set_status(StatusCode.ERROR)
        return span

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # the API's own decorator is private
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[otel_trace.Span]:
        """Start a span as :meth:`start_span` does and make it current while in the block."""
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with otel_trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current
