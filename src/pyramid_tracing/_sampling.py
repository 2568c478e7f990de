"""Tracer-specific: whether the tracer records a span (its sampling decision), and late tags."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from ._tracer_types import LateTags

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = ["sampler_ignores_attributes", "sampling_checks", "span_recorded"]


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
                    # Its set_tag is a locked dict item; one locked update is the same (its
                    # lock is the one way in: basictracer has no public bulk setter).
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
            if not sampler_ignores_attributes(sampler):
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


# The descriptions of the SDK's own samplers (``get_description()``, public), which decide from
# the trace id and the parent alone; a ParentBased over them does too.
_BUILTIN: Final = r"(?:AlwaysOnSampler|AlwaysOffSampler|TraceIdRatioBased\{[0-9.e+-]+\})"
_PARENT_BASED: Final = re.compile(
    rf"ParentBased\{{root:{_BUILTIN},remoteParentSampled:{_BUILTIN},"
    rf"remoteParentNotSampled:{_BUILTIN},localParentSampled:{_BUILTIN},"
    rf"localParentNotSampled:{_BUILTIN}\}}"
)


def sampler_ignores_attributes(sampler: object) -> bool:
    """Whether ``sampler`` is one of the SDK's own, which decide without the attributes.

    Only public names: the classes, and ``get_description()`` for what a ParentBased
    delegates to. Any other sampler may read the start attributes: spans then start with them.
    """
    if sampler is None:
        return False
    from opentelemetry.sdk.trace import sampling

    if isinstance(sampler, sampling.StaticSampler) or type(sampler) is sampling.TraceIdRatioBased:
        return True
    if type(sampler) in (sampling.ParentBased, sampling.ParentBasedTraceIdRatio):
        description = sampler.get_description()  # type: ignore[attr-defined]
        return _PARENT_BASED.fullmatch(description) is not None
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
