"""Tracer-specific: skipping extraction, and extracting from only the headers a tracer reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from opentracing import Format

from ._carrier import environ_key

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = ["context_header_check", "context_source", "empty_context_check"]


# -- extracting from only the headers a tracer reads, or not at all --------------------------
#
# basictracer, MockTracer and jaeger-client extract by iterating over every header (MockTracer
# then raises when it found none of its own) and comparing each lowercased name with a few of
# their own names and prefixes. ``context_source(tracer)`` gives, per request, the carrier
# their extraction needs:
#
# * ``{}`` when the environ has no key for one of their context headers: an empty carrier,
#   in which extraction finds no context, so it is skipped;
# * a dict of only the headers whose names are theirs (each header appears once in either
#   carrier, named as HeaderCarrier names it, lowercased): the same context, found faster;
# * ``None`` when a header is under one of their baggage prefixes, or the tracer's propagator
#   or codec is not the one this module knows: the whole HeaderCarrier, as before.
#
# Only these exact tracer and propagator classes qualify: a subclass or another propagator
# always gets the full extraction. The propagator (or codec) is re-checked on every request,
# so one registered later is honoured.
#
# A header's environ key is "HTTP_" + its name upper-cased with "_" for "-" (the CGI rule of
# RFC 3875, section 4.1.18, that PEP 3333 adopts, and how WebOb looks a header up); header
# names are ASCII tokens (RFC 9110). An environ key that breaks the rule, such as
# "HTTP_ot-tracer-traceid", comes from no WSGI server, and its header is not extracted.

#: ``source(environ)``: the carrier to extract from (see above).
ContextSource = Callable[[dict[str, Any]], "dict[str, str] | None"]

# Both MockTracer and basictracer need ot-tracer-traceid (and ot-tracer-spanid; basictracer
# also ot-tracer-sampled) to find a context; baggage alone is no context (or a corrupt one).
_OT_TRACE_ID_KEY: Final = "HTTP_OT_TRACER_TRACEID"


def context_source(tracer: object) -> ContextSource | None:
    """``source(environ)`` for a tracer whose extraction is known, else ``None``."""
    propagator = _text_propagator(tracer)
    if propagator is not None:
        return _ot_source(tracer, propagator)
    return _jaeger_source(tracer) if _is_jaeger(tracer) else None


def context_header_check(tracer: object) -> Callable[[dict[str, Any]], bool] | None:
    """``may_carry(environ)`` for the OpenTelemetry shim, else ``None``.

    ``may_carry`` is false only when the shim's ``extract(Format.HTTP_HEADERS, ...)`` on these
    headers would find no span context. The tracers of :func:`context_source` need none.
    """
    if type(tracer).__module__ == _SHIM_MODULE:
        from opentelemetry.shim.opentracing_shim import TracerShim

        if type(tracer) is TracerShim:
            return _otel_check()
    return None


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


def _ot_source(tracer: Any, propagator_type: type) -> ContextSource:
    # MockTracer and BasicTracer keep their propagators in this dict and offer no public
    # accessor; only their exact classes get here (see _text_propagator).
    propagators = tracer._propagators

    (trace_id_key, trace_id), (span_id_key, span_id), (sampled_key, sampled) = _OT_KEYS

    def source(environ: dict[str, Any]) -> dict[str, str] | None:
        if type(propagators.get(Format.HTTP_HEADERS)) is not propagator_type:
            return None
        value = environ.get(trace_id_key)
        if value is None:
            return {}  # no trace id: no context (baggage alone is none)
        if _prefixed(environ, _OT_BAGGAGE):
            return None
        # _picked(environ, _OT_KEYS), unrolled for its three fixed keys: 30 bytecodes fewer
        # on every request that carries a context (benchmarks.bytecodes, service requests).
        found = {trace_id: value}
        value = environ.get(span_id_key)
        if value is not None:
            found[span_id] = value
        value = environ.get(sampled_key)
        if value is not None:
            found[sampled] = value
        return found

    return source


def _text_codec_names(codec: Any) -> tuple[object, object, object, object]:
    """jaeger-client's header names (trace id, debug id, baggage, baggage prefix).

    Read on each request, so that a codec reconfigured later is honoured.
    """
    return (
        codec.trace_id_header,
        codec.debug_id_header,
        codec.baggage_header,
        codec.baggage_prefix,
    )


def _jaeger_plan(
    names: tuple[object, ...],
) -> tuple[tuple[tuple[str, str], ...], str] | None:
    """``((environ key, carrier name) of its 3 headers, newline + baggage key prefix)``.

    ``None`` when a name is not ASCII text, or does not map to an ``HTTP_`` key: the
    tracer's own extraction then decides.
    """
    if not all(isinstance(name, str) and name.isascii() for name in names):
        return None
    keys = [environ_key(cast("str", name)) for name in names]
    if not all(key.startswith("HTTP_") for key in keys):
        return None
    return tuple((key, _header_name(key)) for key in keys[:3]), "\n" + keys[3]


def _jaeger_source(tracer: Any) -> ContextSource:
    """``source`` for jaeger-client's text codec.

    It finds a context in uber-trace-id, jaeger-debug-id, jaeger-baggage or any uberctx-*
    header (the names its codec was configured with): the codec's names are checked and
    turned into environ keys once per change.
    """
    from jaeger_client.codecs import TextCodec

    codecs = tracer.codecs
    # [the codec's names, their plan]: compared on each request, recomputed when they change.
    known: list[Any] = [None, None]

    def source(environ: dict[str, Any]) -> dict[str, str] | None:
        codec: Any = codecs.get(Format.HTTP_HEADERS)
        if type(codec) is not TextCodec:
            return None
        names = _text_codec_names(codec)
        if names != known[0]:
            known[:] = [names, _jaeger_plan(names)]
        plan = known[1]
        if plan is None:
            return None
        pairs, prefix = plan
        if _prefixed(environ, prefix):
            return None  # baggage headers: the whole carrier
        return _picked(environ, pairs)

    return source


_W3C_FIELDS: Final = frozenset({"traceparent", "tracestate", "baggage"})


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
            # Its public fields: the headers of its propagators, W3C's three by default.
            return not propagator.fields <= _W3C_FIELDS
        return not known(propagator)

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
