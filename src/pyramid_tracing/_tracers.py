"""Everything specific to one tracer: what the hot path may skip or do faster for it.

:func:`capabilities` decides once per tracer object; only exact tracer and propagator classes
qualify (a subclass or another propagator always gets the generic OpenTracing path):

* ``source(environ)``: the carrier of only the headers the tracer reads, ``{}`` when it reads
  none (extraction is skipped); ``may_carry(environ)`` for the shim, false when no header can
  carry a context;
* ``is_empty(context)``: true for an extracted context that is no context;
* ``starter``: starts the server span without the tracer's own activation (the shim);
* ``batch_span_type``: the span class whose tags can be set in one call;
* ``recorded(span)`` and ``late_tags``: whether the tracer keeps the span's tags (its sampling
  decision), and how to set the start tags once the span is started and sampled.

The decisions themselves live in :mod:`._sampling`, :mod:`._extraction` and
:mod:`._shim_start`; the types in :mod:`._tracer_types`.
"""

from __future__ import annotations

from typing import Final

import opentracing

from ._extraction import context_header_check, context_source, empty_context_check
from ._sampling import sampling_checks, span_recorded
from ._shim_start import server_span_starter
from ._tracer_types import Capabilities, LateTags, ServerSpanStarter

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = [
    "Capabilities",
    "LateTags",
    "ServerSpanStarter",
    "capabilities",
    "context_header_check",
    "context_source",
    "empty_context_check",
    "server_span_starter",
    "span_batch_type",
    "span_recorded",
]


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
        context_source(tracer),
        # Its start_active_span returns this one scope, whatever it is given.
        tracer._noop_scope if noop else None,  # type: ignore[attr-defined]
    )


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
