"""Tracer-specific: the OpenTelemetry shim's server spans, started on OpenTelemetry directly."""

from __future__ import annotations

from typing import Any, Final

import opentracing

from ._carrier import environ_key
from ._tracer_types import ServerSpanStarter

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = ["server_span_starter"]


# -- the OpenTelemetry shim's server spans, started on OpenTelemetry directly ----------------
#
# Server spans for the OpenTelemetry OpenTracing shim, started on OpenTelemetry directly.
#
# The shim's ``start_active_span`` looks the current span up twice, wraps the parent, starts
# the OpenTelemetry span, then activates it through a generator context manager that attaches
# two contexts (the span's, then the shim scope's). The server span needs none of that: it is
# started with one ``start_span`` call on the OpenTelemetry tracer under the shim, with the
# SERVER kind and its attributes, and made current with one context attach that holds both the
# span and its shim scope. What OpenTracing and OpenTelemetry code sees is the same as with the
# shim's own path: ``tracer.active_span`` is the request's ``SpanShim``, and
# ``opentelemetry.trace.get_current_span()`` its OpenTelemetry span.
#
# Only the shim's own ``TracerShim`` qualifies, with a scope manager whose activation is the
# shim's own (``ScopeManagerShim`` or a subclass that does not override ``activate``).


def server_span_starter(tracer: object) -> ServerSpanStarter | None:
    """A direct server span starter for ``tracer``, or ``None`` if it is not the plain shim."""
    if type(tracer).__module__ != _SHIM_MODULE:
        return None
    from opentelemetry import baggage as otel_baggage
    from opentelemetry.context import Context, attach, detach, set_value
    from opentelemetry.propagate import get_global_textmap
    from opentelemetry.propagators.textmap import Getter
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
    keys: dict[str, str] = {}

    class EnvironGetter(Getter[dict[str, Any]]):
        """What the shim's extract reads through ``HeaderCarrier``, from the environ itself."""

        def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
            environ_name = keys.get(key)
            if environ_name is None:
                environ_name = environ_key(key)
                if len(keys) < 64:  # the propagators' own few names
                    keys[key] = environ_name
            value = carrier.get(environ_name)
            return None if value is None else [value]

        def keys(self, carrier: dict[str, Any]) -> list[str]:
            from ._carrier import HeaderCarrier

            return list(HeaderCarrier(carrier).keys())

    getter = EnvironGetter()

    class Starter:
        __slots__ = ()

        def nests(self) -> bool:
            # OpenTelemetry's current span, native or the shim's: made current by an outer
            # layer (OpenTelemetry's WSGI middleware, or a shim scope).
            return bool(get_current_span().get_span_context().is_valid)

        def extract(self, environ: dict[str, Any]) -> object | None:
            # The shim's extract is the global propagator's, then get_current_span, wrapped
            # in a SpanContextShim that the start unwraps and wraps again: the context the
            # propagator returns is already what start_span takes.
            context = get_global_textmap().extract(environ, getter=getter)
            if not get_current_span(context).get_span_context().is_valid:
                return None  # no context: a new root, as with the shim's empty context
            return context

        def __call__(
            self, operation_name: str, parent: object, tags: dict[str, object] | None
        ) -> opentracing.Scope | None:
            if parent is None:
                context = None  # the current context: nested under its span, if any
            elif type(parent) is Context:
                context = parent  # from extract()
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
            # The caller's baggage (issue 12): inherited, as the tracer's start_span does.
            if parent is not None:
                shim_context: Any = shim_span.context
                if type(parent) is Context:
                    # Extracted: the baggage is in the context, and the shim keeps a span
                    # context's baggage as a Context of its own.
                    bag = Context()
                    for key, value in otel_baggage.get_all(parent).items():
                        bag = otel_baggage.set_baggage(key, value, bag)
                    shim_context._baggage = bag
                else:
                    source: Any = parent
                    if type(parent) is not SpanContextShim:
                        source = source.context
                    shim_context._baggage = source.baggage
            return ServerScope(shim_span, span)

    return Starter()
