"""What the hot path knows of one tracer: the types :func:`._tracers.capabilities` returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

import opentracing

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = ["Capabilities", "LateTags"]


class Capabilities(NamedTuple):
    """What the hot path decided for one tracer (see :func:`capabilities`)."""

    tracer: opentracing.Tracer
    #: ``may_carry(environ)``: false when no header can carry a context (the shim's).
    may_carry: Callable[[dict[str, Any]], bool] | None
    #: ``is_empty(context)``: true for an extracted context that is no context.
    is_empty: Callable[[object], bool] | None
    #: OpenTracing's own no-op tracer: nothing can read a tag.
    noop: bool
    #: ``recorded(span)``: false when the tracer drops the span's tags (not sampled).
    recorded: Callable[[Any], bool] | None
    #: The start tags can wait until the span is started: its sampling decision ignores them.
    late_tags: LateTags | None
    #: ``source(environ)``: only the headers the tracer's ``extract`` reads (``{}``: none, so
    #: extraction is skipped), or ``None`` for the whole
    #: :class:`~pyramid_tracing._carrier.HeaderCarrier`.
    source: Callable[[dict[str, Any]], dict[str, str] | None] | None
    #: What every ``start_active_span`` of OpenTracing's own no-op tracer returns.
    noop_scope: opentracing.Scope | None


class LateTags(NamedTuple):
    """How to start a span before its start tags are built, for a tracer that allows it."""

    #: The tags the span starts with (what the tracer's own start reads), or ``None``.
    early: dict[str, object] | None
    #: ``set_tags(span, tags)``: add the start tags (but the ``early`` ones) to a started span.
    set_tags: Callable[[Any, dict[str, object]], None]
