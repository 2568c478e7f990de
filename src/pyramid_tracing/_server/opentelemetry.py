"""The three phases on OpenTelemetry: one ``start_span`` and one ``attach`` per request.

The caller's context comes from the global propagator, read from the WSGI environ itself
(only when a header it reads is there); with a sampler that decides without the attributes,
a span starts without them and gets them only if it records.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context, attach
from opentelemetry.propagate import get_global_textmap
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import get_current_span, set_span_in_context

from .._backends.opentelemetry import OpenTelemetryBackend, OtelScope
from .._carrier import HeaderCarrier, environ_key
from .._failures import failures
from .._settings import TracingSettings
from .._state import RequestState
from .._tags import TagPolicy
from ..typing import Request, StartSpanHook
from .phases import ServerSpans

__all__ = ["OtelSpans"]


class _EnvironGetter(Getter[dict[str, Any]]):
    """What a propagator reads of the request headers, from the WSGI environ itself."""

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        """The header's value, as the one-item list propagators take."""
        keys = self._keys
        environ_name = keys.get(key)
        if environ_name is None:
            environ_name = environ_key(key)
            if len(keys) < 64:  # the propagators' own few names
                keys[key] = environ_name
        value = carrier.get(environ_name)
        return None if value is None else [value]

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        """Every header name (for propagators that search them)."""
        return list(HeaderCarrier(carrier).keys())


class OtelSpans(ServerSpans):
    """The three phases on OpenTelemetry: one ``start_span``, one ``attach`` per request."""

    def __init__(
        self,
        tracing: object,
        backend: OpenTelemetryBackend,
        policy: TagPolicy,
        settings: TracingSettings,
        start_hook: StartSpanHook | None,
    ) -> None:
        super().__init__(tracing, backend, policy, settings, start_hook, kind_tag=False)
        self._otel_backend = backend
        self._tracer = backend.tracer
        self._late = backend.tracer.late_attributes
        self._getter = _EnvironGetter()
        # The environ keys of the headers the global propagator reads (its ``fields``), for
        # the propagator they were computed for: no header, no extraction.
        self._propagator: object = None
        self._carrier_keys: tuple[str, ...] = ()

    def _extract(self, environ: dict[str, Any]) -> Context | None:
        """The caller's context (trace and baggage), or ``None`` when no header carries one."""
        propagator = get_global_textmap()
        if propagator is not self._propagator:
            self._carrier_keys = tuple(environ_key(name) for name in propagator.fields)
            self._propagator = propagator
        keys = self._carrier_keys
        if keys:
            for key in keys:
                if key in environ:
                    break
            else:
                return None  # no header the propagator reads

        try:
            return propagator.extract(environ, getter=self._getter)
        except Exception as exc:
            failures.report("extracting the trace context from the request headers", exc)
            return None

    def start(self, request: Request, state: RequestState) -> OtelScope | None:
        """Start the SERVER span under the caller's context (or an outer layer's span)."""
        try:
            method = request.method
            # An outer WSGI layer that already traces this request: nest under its span.
            context = (
                None
                if get_current_span().get_span_context().is_valid
                else self._extract(request.environ)
            )
            backend = self._otel_backend
            if self._late:
                # The sampler decides without the attributes: build them only if it records.
                span = backend.start_server_span(method, context, None)
                recorded = span.is_recording()
                if recorded:
                    span.set_attributes(self.start_tags(request, method))  # type: ignore[arg-type]
            else:
                span = backend.start_server_span(method, context, self.start_tags(request, method))
                recorded = span.is_recording()
            # The caller's baggage stays in the context the view and the outbound calls see.
            token = attach(set_span_in_context(span, context))
        except Exception as exc:
            failures.report("starting the server span", exc)
            return None
        scope = OtelScope(self._tracer, span, token)
        state._scope = scope
        state._spans = self
        state._routed = False
        state._recorded = recorded
        return scope
