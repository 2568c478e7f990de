"""Server spans for the OpenTelemetry OpenTracing shim, started on OpenTelemetry directly.

The shim's ``start_active_span`` looks the current span up twice, wraps the parent, starts
the OpenTelemetry span, then activates it through a generator context manager that attaches
two contexts (the span's, then the shim scope's). The server span needs none of that: it is
started with one ``start_span`` call on the OpenTelemetry tracer under the shim, with the
SERVER kind and its attributes, and made current with one context attach that holds both the
span and its shim scope. What OpenTracing and OpenTelemetry code sees is the same as with the
shim's own path: ``tracer.active_span`` is the request's ``SpanShim``, and
``opentelemetry.trace.get_current_span()`` its OpenTelemetry span.

Only the shim's own ``TracerShim`` qualifies, with a scope manager whose activation is the
shim's own (``ScopeManagerShim`` or a subclass that does not override ``activate``).
"""

from __future__ import annotations

from typing import Any, Protocol

import opentracing

__all__ = ["ServerSpanStarter", "server_span_starter"]


class ServerSpanStarter(Protocol):
    """Starts server spans for one tracer without the tracer's own activation."""

    def nests(self) -> bool:
        """Whether a span is current already: the server span then nests under it."""

    def __call__(
        self, operation_name: str, parent: object, tags: dict[str, object]
    ) -> opentracing.Scope | None:
        """Start and activate the span under ``parent`` (or the current span when ``None``).

        Returns ``None`` when ``parent`` is of a kind it does not handle: the caller then
        takes the tracer's own path.
        """


_SHIM_MODULE = "opentelemetry.shim.opentracing_shim"


def server_span_starter(tracer: object) -> ServerSpanStarter | None:
    """A direct server span starter for ``tracer``, or ``None`` if it is not the plain shim."""
    if type(tracer).__module__ != _SHIM_MODULE:
        return None
    from opentelemetry.context import attach, detach, set_value
    from opentelemetry.shim.opentracing_shim import (
        _SHIM_KEY,
        ScopeManagerShim,
        ScopeShim,
        SpanContextShim,
        SpanShim,
        TracerShim,
    )
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanKind,
        get_current_span,
        set_span_in_context,
    )

    if type(tracer) is not TracerShim:
        return None
    manager = tracer.scope_manager
    if not isinstance(manager, ScopeManagerShim):
        return None
    if type(manager).activate is not ScopeManagerShim.activate:
        return None

    class ServerScope(ScopeShim):
        """The shim scope of a server span, made current with a single context attach."""

        def __init__(self, span: SpanShim, otel_span: Any) -> None:
            opentracing.Scope.__init__(self, manager, span)
            self._span_cm = None
            self._otel_span = otel_span
            # What the shim's activation leaves current: the span, and this scope under the
            # shim's key (which its ScopeManagerShim.active returns).
            self._token = attach(set_value(_SHIM_KEY, self, set_span_in_context(otel_span)))

        def close(self) -> None:
            """Restore the context that was current before, then end the span."""
            detach(self._token)
            self._otel_span.end()

        def __exit__(self, *exc_info: object) -> None:
            self.close()

    otel_tracer = tracer.unwrap()  # type: ignore[no-untyped-call]
    server = SpanKind.SERVER

    class Starter:
        __slots__ = ()

        def nests(self) -> bool:
            # OpenTelemetry's current span, native or the shim's: made current by an outer
            # layer (OpenTelemetry's WSGI middleware, or a shim scope).
            return bool(get_current_span().get_span_context().is_valid)

        def __call__(
            self, operation_name: str, parent: object, tags: dict[str, object]
        ) -> opentracing.Scope | None:
            if parent is None:
                context = None  # the current context: nested under its span, if any
            elif type(parent) is SpanContextShim:
                context = set_span_in_context(NonRecordingSpan(parent.unwrap()))
            elif type(parent) is SpanShim:
                context = set_span_in_context(parent.unwrap())  # type: ignore[no-untyped-call]
            else:
                return None
            span = otel_tracer.start_span(
                operation_name, context=context, kind=server, attributes=tags
            )
            shim_span = SpanShim(tracer, SpanContextShim(span.get_span_context()), span)
            return ServerScope(shim_span, span)

    return Starter()
