"""What the hot path knows of one tracer: the types :func:`._tracers.capabilities` returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple, Protocol

import opentracing

_SHIM_MODULE: Final = "opentelemetry.shim.opentracing_shim"

__all__ = ["Capabilities", "LateTags", "ServerSpanStarter"]


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
    #: ``may_carry(environ)``: false when no header can carry a context (the shim's).
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
