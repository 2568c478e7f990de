"""Everything specific to one tracer: what the hot path may skip or do faster for it.

:func:`capabilities` decides once per tracer object; only exact tracer and propagator classes
qualify (a subclass or another propagator always gets the generic OpenTracing path):

* ``source(environ)``: the carrier of only the headers the tracer reads, ``{}`` when it reads
  none (extraction is skipped); ``may_carry(environ)`` for the shim, false when no header can
  carry a context;
* ``is_empty(context)``: true for an extracted context that is no context;
* ``recorded(span)`` and ``late_tags``: whether the tracer keeps the span's tags (its sampling
  decision), and how to set the start tags once the span is started and sampled.

The decisions themselves live in :mod:`._sampling` and :mod:`._extraction`; the types in
:mod:`._tracer_types`.
"""

from __future__ import annotations

import opentracing

from ._extraction import context_header_check, context_source, empty_context_check
from ._sampling import sampling_checks, span_recorded
from ._tracer_types import Capabilities, LateTags

__all__ = [
    "Capabilities",
    "LateTags",
    "capabilities",
    "context_header_check",
    "context_source",
    "empty_context_check",
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
        noop,
        recorded,
        late,
        context_source(tracer),
        # Its start_active_span returns one scope, whatever it is given: this one.
        tracer.start_active_span("noop") if noop else None,
    )
