"""The boundary between the request phases and a tracing API: :class:`Backend`.

The phases (start, routed, finish), the child spans (render, transaction, SQL), ``@traced``,
the outbound client spans, log correlation and the trace response headers never call a
tracer themselves: they call the few operations below, which is all they need of a span.
Two implementations live beside this module: :mod:`.opentracing` (any OpenTracing tracer,
whose spans are the handles) and :mod:`.opentelemetry` (the OpenTelemetry API, whose handles
are :class:`~.opentelemetry.OtelScope` objects that build an OpenTracing view only when
asked for one).

A *handle* is what a backend returns for a started span; callers never look inside it but
for ``handle.span`` (the OpenTracing span, for hooks and the public API) and
``handle.close()`` (deactivate and end, for a handle started active).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, MutableMapping
from typing import Any

import opentracing

__all__ = ["Backend", "Ids"]

#: ``(trace_id, span_id, sampled)`` of a span.
Ids = tuple[int, int, bool]


class Backend(abc.ABC):
    """What the request phases and the helpers need of a tracing API, and nothing more."""

    __slots__ = ()

    #: Whether the ids are W3C's (printed as 32 and 16 hex digits whatever their value).
    w3c_ids: bool = False

    #: The OpenTracing tracer of the public API (``Tracing.tracer``): the tracer itself, or
    #: a view that the OpenTelemetry backend builds only when it is read.
    @property
    @abc.abstractmethod
    def tracer(self) -> opentracing.Tracer:
        """The OpenTracing tracer (or view) that app code may use."""

    # -- spans inside a request ---------------------------------------------------------

    @abc.abstractmethod
    def start_child(
        self, name: str, tags: Mapping[str, object] | None, *, active: bool, root: bool
    ) -> Any:
        """Start a child of the active span; ``None`` when there is nothing to record.

        ``None`` outside a trace (unless ``root``: then a new trace starts), and, where the
        backend knows it, when the active span is not recorded (sampled out): the caller then
        goes on without a span, and the active context (its trace id and sampled flag) stays.

        Args:
            name: the span's name.
            tags: its attributes; ``span.kind`` names the kind (``client``, ...).
            active: make it the active span (close the handle to deactivate and end it).
            root: start a new trace when no span is active.
        """

    @abc.abstractmethod
    def active_recorded(self) -> bool | None:
        """Whether a child of the active span would keep its attributes.

        ``None`` when :meth:`start_child` would start no child (outside a trace, or a dropped
        one), so that a caller builds no attributes for nothing.
        """

    @abc.abstractmethod
    def context_local(self) -> bool:
        """Whether the active span lives in :mod:`contextvars` (else per thread)."""

    @abc.abstractmethod
    def rename(self, handle: Any, name: str) -> None:
        """Set the span's name."""

    @abc.abstractmethod
    def set_attributes(self, handle: Any, attributes: Mapping[str, object]) -> None:
        """Set attributes (OpenTracing tags); ``error=True`` also marks the span failed."""

    @abc.abstractmethod
    def record_error(self, handle: Any, exception: BaseException) -> None:
        """Mark the span failed with ``exception``, in the app's ``tracing.semconv``."""

    @abc.abstractmethod
    def fail_with_status(self, handle: Any, status: int) -> None:
        """Mark the span failed by a status code alone (the stable conventions' way)."""

    @abc.abstractmethod
    def recording(self, handle: Any) -> bool:
        """Whether the tracer keeps the span's attributes (it is sampled)."""

    @abc.abstractmethod
    def activate(self, handle: Any) -> Any:
        """Make a span started inactive the active one; returns what :meth:`deactivate` takes."""

    @abc.abstractmethod
    def deactivate(self, activation: Any) -> None:
        """Undo :meth:`activate` (the span stays open)."""

    @abc.abstractmethod
    def end(self, handle: Any) -> None:
        """End a span that was started inactive."""

    # -- context ------------------------------------------------------------------------------

    @abc.abstractmethod
    def ids(self, handle: Any) -> Ids | None:
        """The span's ids, or ``None`` when its tracer has none."""

    @abc.abstractmethod
    def active_ids(self) -> Ids | None:
        """The ids of the active span, or ``None`` outside a span."""

    @abc.abstractmethod
    def inject(self, carrier: MutableMapping[str, str], handle: Any = None) -> None:
        """Write the context of ``handle`` (default: the active one) into HTTP headers."""

    @abc.abstractmethod
    def active_span(self, server: Any) -> opentracing.Span | None:
        """The active span as an OpenTracing span (``server``'s own when it is active)."""

    @abc.abstractmethod
    def baggage(self, handle: Any) -> Mapping[str, object]:
        """The baggage of the span: what the caller sent, and what was set since."""

    @abc.abstractmethod
    def capture(self) -> Any:
        """The active context, to make it active again on another thread (:meth:`restore`)."""

    @abc.abstractmethod
    def restore(self, captured: Any) -> Any:
        """Make a captured context active; returns what :meth:`deactivate` takes, or ``None``."""
