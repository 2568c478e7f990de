"""Tracer-specific: skipping extraction, and extracting from only the headers a tracer reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from opentracing import Format

from ._carrier import environ_key

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = ["context_carrier", "context_header_check", "empty_context_check"]


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
    propagator = _text_propagator(tracer)
    if propagator is not None:
        return _ot_check(tracer, propagator)
    if type(tracer).__module__ == "opentelemetry.shim.opentracing_shim":
        from opentelemetry.shim.opentracing_shim import TracerShim

        if type(tracer) is TracerShim:
            return _otel_check()
    return _jaeger_check(tracer) if _is_jaeger(tracer) else None


def _text_propagator(tracer: object) -> type | None:
    """The text propagator class of an exact BasicTracer or MockTracer, else ``None``."""
    module = type(tracer).__module__
    if module == "basictracer.tracer":
        from basictracer import BasicTracer  # type: ignore[import-untyped]
        from basictracer.text_propagator import (  # type: ignore[import-untyped]
            TextPropagator as BasicPropagator,
        )

        return BasicPropagator if type(tracer) is BasicTracer else None
    if module == "opentracing.mocktracer.tracer":
        from opentracing.mocktracer import MockTracer
        from opentracing.mocktracer.text_propagator import TextPropagator as MockPropagator

        return MockPropagator if type(tracer) is MockTracer else None
    return None


def _is_jaeger(tracer: object) -> bool:
    """Whether ``tracer`` is jaeger-client's own Tracer (not a subclass)."""
    if type(tracer).__module__ != "jaeger_client.tracer":
        return False
    from jaeger_client.tracer import Tracer as JaegerTracer

    return type(tracer) is JaegerTracer


def _ot_check(tracer: Any, propagator_type: type) -> Callable[[dict[str, Any]], bool]:
    propagators = tracer._propagators

    def may_carry(environ: dict[str, Any]) -> bool:
        propagator = propagators.get(Format.HTTP_HEADERS)
        if type(propagator) is not propagator_type:
            return True
        return _OT_TRACE_ID_KEY in environ

    return may_carry


# -- extracting from the headers the tracer reads, not from all of them ---------------------
#
# The same tracers' extract iterates over the whole carrier and compares each name, lowercased,
# with its own few names and prefixes. Given a carrier of only the headers that equal one of
# its names, it finds the same context (each header appears once in either carrier, named as
# HeaderCarrier names it, lowercased). A request with a header under one of its prefixes
# (baggage) gets the whole carrier.


def context_carrier(
    tracer: object,
) -> Callable[[dict[str, Any]], dict[str, str] | None] | None:
    """``carrier(environ)`` for a tracer whose extraction is known, else ``None``."""
    propagator = _text_propagator(tracer)
    if propagator is not None:
        return _ot_carrier(tracer, propagator)
    return _jaeger_carrier(tracer) if _is_jaeger(tracer) else None


def _header_name(key: str) -> str:
    # How HeaderCarrier names an HTTP_ environ key, lowercased (as the tracers compare it).
    return key[5:].replace("_", "-").lower()


_OT_KEYS: Final = tuple(
    (key, _header_name(key))
    for key in ("HTTP_OT_TRACER_TRACEID", "HTTP_OT_TRACER_SPANID", "HTTP_OT_TRACER_SAMPLED")
)
_OT_BAGGAGE: Final = "\nHTTP_OT_BAGGAGE_"


def _prefixed(environ: dict[str, Any], prefix: str) -> bool:
    try:
        # "\n" marks where a key starts; one join is cheaper than a loop over the keys.
        return prefix in "\n" + "\n".join(environ)
    except TypeError:  # a key that is not a string
        return True


def _picked(environ: dict[str, Any], pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The carrier of only these headers: ``{carrier name: value}`` for each environ key set."""
    found = {}
    for key, name in pairs:
        value = environ.get(key)
        if value is not None:
            found[name] = value
    return found


def _ot_carrier(
    tracer: Any, propagator_type: type
) -> Callable[[dict[str, Any]], dict[str, str] | None]:
    propagators = tracer._propagators

    def carrier(environ: dict[str, Any]) -> dict[str, str] | None:
        if type(propagators.get(Format.HTTP_HEADERS)) is not propagator_type:
            return None
        if _prefixed(environ, _OT_BAGGAGE):
            return None
        return _picked(environ, _OT_KEYS)

    return carrier


def _text_codec_names(codecs: Any, text_codec: type) -> tuple[str, str, str, str] | None:
    """jaeger-client's header names (trace id, debug id, baggage, baggage prefix).

    ``None`` when its HTTP-headers codec is not its own text codec, or a name is not ASCII
    text: the tracer's own extraction then decides. Read on each call, so that a codec
    reconfigured later is honoured.
    """
    codec: Any = codecs.get(Format.HTTP_HEADERS)
    kind = type(codec)  # compared apart: narrowing codec to `type` would lose its attributes
    if kind is not text_codec:
        return None
    names = (
        codec.trace_id_header,
        codec.debug_id_header,
        codec.baggage_header,
        codec.baggage_prefix,
    )
    if not all(isinstance(name, str) and name.isascii() for name in names):
        return None
    return cast("tuple[str, str, str, str]", names)


def _jaeger_carrier(tracer: Any) -> Callable[[dict[str, Any]], dict[str, str] | None]:
    from jaeger_client.codecs import TextCodec

    codecs = tracer.codecs
    # (the codec's names, ((environ key, carrier name), ...), the baggage key prefix)
    known: list[tuple[tuple[object, ...], tuple[tuple[str, str], ...], str]] = []

    def carrier(environ: dict[str, Any]) -> dict[str, str] | None:
        names = _text_codec_names(codecs, TextCodec)
        if names is None:
            return None
        if not known or known[0][0] != names:
            keys = [environ_key(name) for name in names]
            if not all(key.startswith("HTTP_") for key in keys):
                return None
            known[:] = [(names, tuple((key, _header_name(key)) for key in keys[:3]), keys[3])]
        _, pairs, prefix = known[0]
        if _prefixed(environ, "\n" + prefix):
            return None
        return _picked(environ, pairs)

    return carrier


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
        names = _text_codec_names(codecs, TextCodec)
        if names is None:
            return True
        if not known or known[0][0] != names:
            keys = tuple(environ_key(name) for name in names)
            # Searched for in all keys joined by newlines: "\n" marks where a key starts.
            known[:] = [(names, keys[:3], "\n" + keys[3])]
        _, keys, prefix = known[0]
        for key in keys:
            if key in environ:
                return True
        # A key that is not a string counts as a match: the tracer decides.
        return _prefixed(environ, prefix)

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
