"""Everything specific to one tracer: what the hot path may skip or do faster for it.

:func:`capabilities` decides once per tracer object; only exact tracer and propagator classes
qualify (a subclass or another propagator always gets the generic OpenTracing path):

* ``may_carry(environ)``: false when no header can carry a context, so extraction is skipped;
* ``is_empty(context)``: true for an extracted context that is no context;
* ``starter``: starts the server span without the tracer's own activation (the shim);
* ``batch_span_type``: the span class whose tags can be set in one call;
* ``recorded(span)`` and ``late_tags``: whether the tracer keeps the span's tags (its sampling
  decision), and how to set the start tags once the span is started and sampled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple, Protocol, cast

import opentracing
from opentracing import Format

from ._carrier import environ_key

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = ["Capabilities", "LateTags", "ServerSpanStarter", "capabilities", "span_recorded"]


class ServerSpanStarter(Protocol):
    """Starts server spans for one tracer without the tracer's own activation."""

    def nests(self) -> bool:
        """Whether a span is current already: the server span then nests under it."""

    def extract(self, environ: dict[str, Any]) -> object | None:
        """The caller's context from the request headers, or ``None`` when there is none."""

    def __call__(
        self, operation_name: str, parent: object, tags: dict[str, object] | None
    ) -> opentracing.Scope | None:
        """Start and activate the span under ``parent`` (or the current span when ``None``).

        Returns ``None`` when ``parent`` is of a kind it does not handle: the caller then
        takes the tracer's own path.
        """


class Capabilities(NamedTuple):
    """What the hot path decided for one tracer (see :func:`capabilities`)."""

    tracer: opentracing.Tracer
    #: ``may_carry(environ)``: false when no header can carry a context.
    may_carry: Callable[[dict[str, Any]], bool] | None
    #: ``is_empty(context)``: true for an extracted context that is no context.
    is_empty: Callable[[object], bool] | None
    #: Starts the server span without the tracer's own activation (the shim).
    starter: ServerSpanStarter | None
    #: The span class whose tags go in one ``unwrap().set_attributes`` call.
    batch_span_type: type | None
    #: OpenTracing's own no-op tracer: nothing can read a tag.
    noop: bool
    #: ``recorded(span)``: false when the tracer drops the span's tags (not sampled).
    recorded: Callable[[Any], bool] | None
    #: The start tags can wait until the span is started: its sampling decision ignores them.
    late_tags: LateTags | None
    #: ``carrier(environ)``: only the headers the tracer's ``extract`` reads, or ``None`` for
    #: the whole :class:`~pyramid_tracing._carrier.HeaderCarrier`.
    carrier: Callable[[dict[str, Any]], dict[str, str] | None] | None
    #: What every ``start_active_span`` of OpenTracing's own no-op tracer returns.
    noop_scope: opentracing.Scope | None


class LateTags(NamedTuple):
    """How to start a span before its start tags are built, for a tracer that allows it."""

    #: The tags the span starts with (what the tracer's own start reads), or ``None``.
    early: dict[str, object] | None
    #: ``set_tags(span, tags)``: add the start tags (but the ``early`` ones) to a started span.
    set_tags: Callable[[Any, dict[str, object]], None]


def capabilities(tracer: opentracing.Tracer) -> Capabilities:
    """Decide, once, what the hot path may skip or shortcut for ``tracer``."""
    recorded, late = sampling_checks(tracer)
    noop = type(tracer) is opentracing.Tracer
    return Capabilities(
        tracer,
        context_header_check(tracer),
        empty_context_check(tracer),
        server_span_starter(tracer),
        span_batch_type(tracer),
        noop,
        recorded,
        late,
        context_carrier(tracer),
        # Its start_active_span returns this one scope, whatever it is given.
        tracer._noop_scope if noop else None,  # type: ignore[attr-defined]
    )


# -- the sampling decision: skip the tags of a span the tracer will drop ---------------------
#
# A span that is not sampled keeps no tag (jaeger-client's set_tag drops them, OpenTelemetry's
# NonRecordingSpan has no attributes) or is not meant to be reported (basictracer's
# ``sampled`` flag, which its recorders check). Building its tags (the URL, the redaction of
# the query and the captured headers) is work thrown away. The tracers decide at the start,
# and their decision does not read the tags pyramid_tracing builds:
#
# * jaeger-client samples a new trace by trace id and operation name, a child by its parent's
#   flags; it reads one tag at the start, ``span.kind`` (for ``one_span_per_rpc``), which the
#   span starts with;
# * basictracer samples by trace id or from the parent;
# * the OpenTelemetry SDK gives the start attributes to its sampler, but its own samplers
#   (``ALWAYS_ON``/``ALWAYS_OFF``, ``TraceIdRatioBased``, ``ParentBased`` over those) ignore
#   them and return them unchanged: with one of those, the span starts without attributes and
#   gets them in one ``set_attributes`` call when it records. Any other sampler may read the
#   attributes: the span then starts with them all, as before, and only the later work
#   (name, route, status, error, captured response headers) is skipped when it does not record.
#
# A span that becomes sampled later (a hook or the view setting ``sampling.priority`` on a
# jaeger-client or basictracer span) is asked again at the finish, and then gets every tag.


def sampling_checks(tracer: object) -> tuple[Callable[[Any], bool] | None, LateTags | None]:
    """``(recorded, late_tags)`` for ``tracer``; ``(None, None)`` when every span records."""
    module = type(tracer).__module__
    if module == "jaeger_client.tracer":
        from jaeger_client.tracer import Tracer as JaegerTracer

        if type(tracer) is JaegerTracer:
            from jaeger_client.span import Span as JaegerSpan
            from opentracing.ext import tags as ext_tags

            kind: dict[str, object] = {ext_tags.SPAN_KIND: ext_tags.SPAN_KIND_RPC_SERVER}

            def set_jaeger_tags(span: Any, tags: dict[str, object]) -> None:
                set_tag = span.set_tag
                for key, value in tags.items():
                    if key not in kind:
                        set_tag(key, value)

            def jaeger_recorded(span: Any) -> bool:
                # Another span class (a scope manager's own wrapper): assume it records.
                return type(span) is not JaegerSpan or bool(span.is_sampled())

            return jaeger_recorded, LateTags(kind, set_jaeger_tags)
    elif module == "basictracer.tracer":
        from basictracer import BasicTracer  # type: ignore[import-untyped]
        from basictracer.span import BasicSpan  # type: ignore[import-untyped]

        if type(tracer) is BasicTracer:

            def set_basic_tags(span: Any, tags: dict[str, object]) -> None:
                if type(span) is BasicSpan:
                    # Its set_tag is a locked dict item; one locked update is the same.
                    with span._lock:
                        span.tags.update(tags)
                else:
                    for key, value in tags.items():
                        span.set_tag(key, value)

            def basic_recorded(span: Any) -> bool:
                return type(span) is not BasicSpan or span.context.sampled is not False

            return basic_recorded, LateTags(None, set_basic_tags)
    elif module == _SHIM_MODULE:
        from opentelemetry.shim.opentracing_shim import SpanShim, TracerShim

        if type(tracer) is TracerShim:
            recorded = _recorded_check(SpanShim, _shim_recording)
            sampler = getattr(tracer.unwrap(), "sampler", None)  # type: ignore[no-untyped-call]
            if not _builtin_sampler(sampler):
                return recorded, None

            def set_shim_tags(span: Any, tags: dict[str, object]) -> None:
                span.unwrap().set_attributes(tags)

            return recorded, LateTags(None, set_shim_tags)
    return None, None


def _recorded_check(span_type: type, check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def recorded(span: Any) -> bool:
        # Another span class (a scope manager's own wrapper): assume it records.
        return type(span) is not span_type or check(span)

    return recorded


def _jaeger_sampled(span: Any) -> bool:
    return bool(span.is_sampled())


def _basic_sampled(span: Any) -> bool:
    return span.context.sampled is not False


def _shim_recording(span: Any) -> bool:
    return bool(span.unwrap().is_recording())


def _builtin_sampler(sampler: object) -> bool:
    """Whether ``sampler`` is one of the SDK's own, which decide without the attributes."""
    if sampler is None:
        return False
    from opentelemetry.sdk.trace import sampling

    kind = type(sampler)
    if kind in (sampling.StaticSampler, sampling._AlwaysOff, sampling._AlwaysOn):
        return True
    if kind is sampling.TraceIdRatioBased:
        return True
    if kind in (
        sampling.ParentBased,
        sampling.ParentBasedTraceIdRatio,
        sampling._ParentBasedAlwaysOff,
        sampling._ParentBasedAlwaysOn,
    ):
        delegates = (
            "_root",
            "_remote_parent_sampled",
            "_remote_parent_not_sampled",
            "_local_parent_sampled",
            "_local_parent_not_sampled",
        )
        return all(_builtin_sampler(getattr(sampler, name, None)) for name in delegates)
    return False


_SPAN_RECORDED: dict[type, Callable[[Any], bool] | None] = {}


def span_recorded(span: object) -> bool:
    """Whether the tracer keeps ``span``'s tags (``False`` for a span it did not sample).

    For the child spans of the instrumentation: a span of a tracer whose sampling is known
    (jaeger-client, basictracer, the OpenTelemetry shim), else ``True``.
    """
    kind = type(span)
    try:
        check = _SPAN_RECORDED[kind]
    except KeyError:
        check = _SPAN_RECORDED[kind] = _span_check(kind)
    return True if check is None else check(span)


def _span_check(kind: type) -> Callable[[Any], bool] | None:
    module, name = kind.__module__, kind.__qualname__
    if (module, name) == ("jaeger_client.span", "Span"):
        return _jaeger_sampled
    if (module, name) == ("basictracer.span", "BasicSpan"):
        return _basic_sampled
    if (module, name) == (_SHIM_MODULE, "SpanShim"):
        return _shim_recording
    return None


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
        from basictracer import BasicTracer
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
    module = type(tracer).__module__
    if module == "basictracer.tracer":
        from basictracer import BasicTracer
        from basictracer.text_propagator import TextPropagator as BasicPropagator

        if type(tracer) is BasicTracer:
            return _ot_carrier(tracer, BasicPropagator)
    elif module == "opentracing.mocktracer.tracer":
        from opentracing.mocktracer import MockTracer
        from opentracing.mocktracer.text_propagator import TextPropagator as MockPropagator

        if type(tracer) is MockTracer:
            return _ot_carrier(tracer, MockPropagator)
    elif module == "jaeger_client.tracer":
        from jaeger_client.tracer import Tracer as JaegerTracer

        if type(tracer) is JaegerTracer:
            return _jaeger_carrier(tracer)
    return None


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


def _ot_carrier(
    tracer: Any, propagator_type: type
) -> Callable[[dict[str, Any]], dict[str, str] | None]:
    propagators = tracer._propagators

    def carrier(environ: dict[str, Any]) -> dict[str, str] | None:
        if type(propagators.get(Format.HTTP_HEADERS)) is not propagator_type:
            return None
        if _prefixed(environ, _OT_BAGGAGE):
            return None
        found = {}
        for key, name in _OT_KEYS:
            value = environ.get(key)
            if value is not None:
                found[name] = value
        return found

    return carrier


def _jaeger_carrier(tracer: Any) -> Callable[[dict[str, Any]], dict[str, str] | None]:
    from jaeger_client.codecs import TextCodec

    codecs = tracer.codecs
    # (the codec's names, ((environ key, carrier name), ...), the baggage key prefix)
    known: list[tuple[tuple[object, ...], tuple[tuple[str, str], ...], str]] = []

    def carrier(environ: dict[str, Any]) -> dict[str, str] | None:
        codec = codecs.get(Format.HTTP_HEADERS)
        if type(codec) is not TextCodec:
            return None
        names = (
            codec.trace_id_header,
            codec.debug_id_header,
            codec.baggage_header,
            codec.baggage_prefix,
        )
        if not known or known[0][0] != names:
            if not all(isinstance(name, str) and name.isascii() for name in names):
                return None
            keys = [environ_key(cast("str", name)) for name in names]
            if not all(key.startswith("HTTP_") for key in keys):
                return None
            known[:] = [(names, tuple((key, _header_name(key)) for key in keys[:3]), keys[3])]
        _, pairs, prefix = known[0]
        if _prefixed(environ, "\n" + prefix):
            return None
        found = {}
        for key, name in pairs:
            value = environ.get(key)
            if value is not None:
                found[name] = value
        return found

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
