"""The request headers as ``tracer.extract`` reads them, without WebOb's per-key translation.

Tracers extract by iterating over the whole carrier (basictracer, jaeger-client, MockTracer),
and iterating over WebOb's ``request.headers`` translates every WSGI environ key on every
pass: that cost more than the span itself. :class:`HeaderCarrier` is the same mapping (an
``EnvironHeaders`` on the same environ, same names, same order, same case-insensitive lookup)
with the names translated once per distinct environ key for the life of the process.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator
from typing import Any, Final, cast

from opentracing import Format
from webob.headers import EnvironHeaders

__all__ = ["HeaderCarrier", "context_header_check", "empty_context_check", "environ_key"]

# Environ keys WebOb names irregularly ("HTTP_CONTENT_TYPE" -> "Content_Type") or in a way
# that does not map back to the same key: these requests get WebOb's own mapping.
_IRREGULAR: Final = "irregular"
_NOT_A_HEADER: Final = ""
_SPECIAL: Final = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
# Bounded: header names come from clients, and a cache keyed by them must not grow forever.
_MAX_NAMES: Final = 2048
_names: dict[str, str] = {}
# WebOb's header2key: how it turns a header name (upper-cased) into an environ key.
_HEADER_KEYS: Final = {
    "CONTENT-TYPE": "CONTENT_TYPE",
    "CONTENT-LENGTH": "CONTENT_LENGTH",
    "CONTENT_TYPE": "HTTP_CONTENT_TYPE",
    "CONTENT_LENGTH": "HTTP_CONTENT_LENGTH",
}


def environ_key(name: str) -> str:
    """WebOb's ``_trans_name``: the environ key of the header ``name``.

    For a header name that is an ASCII token this is the CGI rule (RFC 3875, section 4.1.18)
    that WSGI servers follow: ``HTTP_`` + the name upper-cased with ``_`` for ``-``.
    """
    upper = name.upper()
    key = _HEADER_KEYS.get(upper)
    return "HTTP_" + upper.replace("-", "_") if key is None else key


def _translate(key: object) -> str:
    """WebOb's header name for an environ key (``_trans_key``), checked to map back to it."""
    if not isinstance(key, str):
        return _NOT_A_HEADER
    if key in _SPECIAL:
        return _SPECIAL[key]
    if not key.startswith("HTTP_"):
        return _NOT_A_HEADER
    name = key[5:].replace("_", "-").title()
    upper = name.upper()
    if upper in ("CONTENT-TYPE", "CONTENT-LENGTH") or "HTTP_" + upper.replace("-", "_") != key:
        return _IRREGULAR
    return name


class HeaderCarrier(EnvironHeaders):
    """``request.headers`` whose names are computed in one pass, when first iterated.

    Lookups by name are WebOb's (case-insensitive, straight into the environ), so a tracer
    that only looks up its own headers (the OpenTelemetry shim) never pays for the pass.
    It is a read of the environ: use ``request.headers`` to change headers.
    """

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ  # all that EnvironHeaders.__init__ does, without the call
        self._items: dict[str, str] | None = None

    def _headers(self) -> dict[str, str] | None:
        items = self._items
        if items is None:
            items = self._items = _read(self.environ)
        return items if items is not _IRREGULAR_ENVIRON else None

    def __getitem__(self, name: str) -> str:
        items = self._items
        if items:
            try:
                return items[name]
            except KeyError:
                pass
        # Other spellings ("traceparent" for "Traceparent"): WebOb's lookup.
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        """WebOb's lookup, without raising and catching ``KeyError`` for a missing header.

        The OpenTelemetry propagators look up each of their headers with ``get``, and most
        requests carry none of them.
        """
        return self.environ.get(environ_key(name), default)

    def __iter__(self) -> Iterator[str]:
        items = self._headers()
        return super().__iter__() if items is None else iter(items)

    def __len__(self) -> int:
        items = self._headers()
        return super().__len__() if items is None else len(items)

    def keys(self) -> Iterator[str]:  # type: ignore[override]  # an iterator, as WebOb's
        items = self._headers()
        return super().keys() if items is None else iter(items)

    def items(self) -> ItemsView[str, str]:
        items = self._headers()
        return super().items() if items is None else items.items()


# An environ with a key that WebOb names irregularly: such requests get WebOb's iteration.
_IRREGULAR_ENVIRON: Final[dict[str, str]] = {}


def _read(environ: dict[str, Any]) -> dict[str, str]:
    names = _names
    items: dict[str, str] = {}
    for key, value in environ.items():
        name = names.get(key)
        if name is None:
            name = _translate(key)
            if len(names) < _MAX_NAMES:
                names[key] = name
        if name:
            if name is _IRREGULAR:
                return _IRREGULAR_ENVIRON
            items[name] = value
    return items


# -- skipping extraction when no header can carry a context ----------------------------------
#
# basictracer, MockTracer and jaeger-client extract by iterating over every header (MockTracer
# then raises when it found none of its own), which costs more than the rest of the request's
# glue. Their code reads only headers whose lowercase names equal or start with a few known
# strings; when the environ has no key for one of them, extraction finds no context, and is
# skipped. Only these exact tracer and propagator classes qualify: a subclass or another
# propagator always gets the full extraction.
#
# A header's environ key is "HTTP_" + its name upper-cased with "_" for "-" (the CGI rule of
# RFC 3875, section 4.1.18, that PEP 3333 adopts, and how WebOb looks a header up); header
# names are ASCII tokens (RFC 9110). An environ key that breaks the rule, such as
# "HTTP_ot-tracer-traceid", comes from no WSGI server, and its header is not extracted.

# Both MockTracer and basictracer need ot-tracer-traceid (and ot-tracer-spanid; basictracer
# also ot-tracer-sampled) to find a context; baggage alone is no context (or a corrupt one).
_OT_TRACE_ID_KEY: Final = "HTTP_OT_TRACER_TRACEID"


def context_header_check(tracer: object) -> Callable[[dict[str, Any]], bool] | None:
    """``may_carry(environ)`` for a tracer whose extraction is known, else ``None``.

    ``may_carry`` is false only when the tracer's ``extract(Format.HTTP_HEADERS, ...)`` on
    these headers would find no span context (return ``None`` or raise
    ``SpanContextCorruptedException``). It re-checks the tracer's propagator on each call,
    so a propagator registered later is honoured.
    """
    module = type(tracer).__module__
    if module == "basictracer.tracer":
        from basictracer import BasicTracer  # type: ignore[import-untyped]
        from basictracer.text_propagator import (  # type: ignore[import-untyped]
            TextPropagator as BasicPropagator,
        )

        if type(tracer) is BasicTracer:
            return _ot_check(tracer, BasicPropagator)
    elif module == "opentracing.mocktracer.tracer":
        from opentracing.mocktracer import MockTracer
        from opentracing.mocktracer.text_propagator import TextPropagator as MockPropagator

        if type(tracer) is MockTracer:
            return _ot_check(tracer, MockPropagator)
    elif module == "opentelemetry.shim.opentracing_shim":
        from opentelemetry.shim.opentracing_shim import TracerShim

        if type(tracer) is TracerShim:
            return _otel_check()
    elif module == "jaeger_client.tracer":
        from jaeger_client.tracer import Tracer as JaegerTracer

        if type(tracer) is JaegerTracer:
            return _jaeger_check(tracer)
    return None


def _ot_check(tracer: Any, propagator_type: type) -> Callable[[dict[str, Any]], bool]:
    propagators = tracer._propagators

    def may_carry(environ: dict[str, Any]) -> bool:
        propagator = propagators.get(Format.HTTP_HEADERS)
        if type(propagator) is not propagator_type:
            return True
        return _OT_TRACE_ID_KEY in environ

    return may_carry


def _otel_check() -> Callable[[dict[str, Any]], bool]:
    """The OpenTelemetry shim extracts with the global propagator, by looking headers up.

    With OpenTelemetry's default propagators (W3C trace context and baggage) it reads
    ``traceparent`` (then ``tracestate``) and ``baggage`` with ``carrier.get``, which is
    ``environ.get("HTTP_TRACEPARENT")`` and ``environ.get("HTTP_BAGGAGE")``: without these
    keys there is no context to extract. Any other global propagator gets the full extraction.
    """
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagate import get_global_textmap
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    def known(propagator: object) -> bool:
        kind = type(propagator)
        return kind is TraceContextTextMapPropagator or kind is W3CBaggagePropagator

    def may_carry(environ: dict[str, Any]) -> bool:
        if "HTTP_TRACEPARENT" in environ or "HTTP_BAGGAGE" in environ:
            return True
        propagator = get_global_textmap()
        if type(propagator) is CompositePropagator:
            inner: list[object] = list(propagator._propagators)
            return not all(known(each) for each in inner)
        return not known(propagator)

    return may_carry


def _jaeger_check(tracer: Any) -> Callable[[dict[str, Any]], bool]:
    """``may_carry`` for jaeger-client's text codec.

    It finds a context in uber-trace-id, jaeger-debug-id, jaeger-baggage or any uberctx-*
    header (the names its codec was configured with).
    """
    from jaeger_client.codecs import TextCodec

    codecs = tracer.codecs
    # (the codec's names, their environ keys, the environ key prefix of the baggage headers)
    known: list[tuple[tuple[object, ...], tuple[str, ...], str]] = []

    def may_carry(environ: dict[str, Any]) -> bool:
        codec = codecs.get(Format.HTTP_HEADERS)
        if type(codec) is not TextCodec:
            return True
        names = (
            codec.trace_id_header,
            codec.debug_id_header,
            codec.baggage_header,
            codec.baggage_prefix,
        )
        if not known or known[0][0] != names:
            if not all(isinstance(name, str) and name.isascii() for name in names):
                return True
            keys = tuple(environ_key(cast("str", name)) for name in names)
            # Searched for in all keys joined by newlines: "\n" marks where a key starts.
            known[:] = [(names, keys[:3], "\n" + keys[3])]
        _, keys, prefix = known[0]
        for key in keys:
            if key in environ:
                return True
        try:
            return prefix in "\n" + "\n".join(environ)
        except TypeError:  # a key that is not a string: let the tracer decide
            return True

    return may_carry


def empty_context_check(tracer: object) -> Callable[[object], bool] | None:
    """``is_empty(context)`` for a tracer whose extracted "no context" is known, else ``None``.

    The OpenTelemetry shim's ``extract`` returns a context wrapping ``INVALID_SPAN_CONTEXT``
    when the request carries none; starting a span under it gives a new root span, exactly as
    starting it without a parent does, only slower (the shim wraps it in a non-recording span
    and the SDK looks it up again).
    """
    if type(tracer).__module__ == "opentelemetry.shim.opentracing_shim":
        from opentelemetry.shim.opentracing_shim import SpanContextShim, TracerShim
        from opentelemetry.trace import INVALID_SPAN_CONTEXT

        if type(tracer) is TracerShim:

            def is_empty(context: object) -> bool:
                if type(context) is not SpanContextShim:
                    return False
                return context.unwrap() is INVALID_SPAN_CONTEXT

            return is_empty
    return None


def span_batch_type(tracer: object) -> type | None:
    """The span class of ``tracer`` whose tags can be set in one ``unwrap().set_attributes``.

    Only the OpenTelemetry shim's own ``SpanShim`` under its own ``TracerShim``: its
    ``set_tag(key, value)`` is ``unwrap().set_attribute(key, value)``, and one
    ``set_attributes`` sets the same attributes in the same order with one lock.
    """
    if type(tracer).__module__ == "opentelemetry.shim.opentracing_shim":
        from opentelemetry.shim.opentracing_shim import SpanShim, TracerShim

        if type(tracer) is TracerShim:
            return SpanShim
    return None
