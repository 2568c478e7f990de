"""Public type aliases and Protocols of pyramid_tracing.

Pyramid ships no type information, so its request and response objects are typed as ``Any``
here; the Protocols describe what the add-on calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol, TypeAlias

from opentracing import Span, Tracer

__all__ = [
    "FinishSpanHook",
    "OperationNameFunc",
    "Request",
    "Response",
    "ScopeLike",
    "SpanContextLike",
    "SpanLike",
    "StartSpanHook",
    "TracerFactory",
    "TracerLike",
]

#: A :class:`pyramid.request.Request` (Pyramid is untyped).
Request: TypeAlias = Any
#: A :class:`pyramid.response.Response` or any WebOb response (Pyramid is untyped).
Response: TypeAlias = Any


# What RequestTracing returns is typed with these Protocols, not with opentracing's classes:
# opentracing ships no type information, so without the types-opentracing stubs its classes
# are Any, and request.tracing.active_span would silently be Any too.


class SpanContextLike(Protocol):
    """An OpenTracing span context, as ``span.context`` gives it.

    .. versionadded:: 0.2.0
    """

    @property
    def baggage(self) -> Mapping[str, str]:
        """The baggage items that travel with the context."""


class SpanLike(Protocol):
    """An OpenTracing span: what :attr:`RequestTracing.span` and ``.active_span`` give.

    Any :class:`opentracing.Span` (of any tracer) is one.

    .. versionadded:: 0.2.0
    """

    @property
    def context(self) -> SpanContextLike:
        """The span's context (ids and baggage)."""

    def set_operation_name(self, operation_name: str) -> SpanLike:
        """Rename the span."""

    def set_tag(self, key: str, value: str | bool | float) -> SpanLike:
        """Set a tag."""

    def log_kv(self, key_values: dict[str, Any], timestamp: float | None = None) -> SpanLike:
        """Add a structured log to the span."""

    def set_baggage_item(self, key: str, value: str) -> SpanLike:
        """Set a baggage item, which travels with the context to the span's descendants."""

    def get_baggage_item(self, key: str) -> str | None:
        """A baggage item, or ``None``."""

    def finish(self, finish_time: float | None = None) -> None:
        """End the span."""


class ScopeLike(Protocol):
    """An OpenTracing scope: an active span, closed by ``with`` or :meth:`close`.

    .. versionadded:: 0.2.0
    """

    @property
    def span(self) -> SpanLike:
        """The span the scope made active."""

    def close(self) -> None:
        """Deactivate the span (and finish it if the scope finishes on close)."""

    def __enter__(self) -> ScopeLike:
        """The scope itself."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """Close the scope."""


class TracerLike(Protocol):
    """An OpenTracing tracer: what :attr:`RequestTracing.tracer` gives.

    .. versionadded:: 0.2.0
    """

    @property
    def active_span(self) -> SpanLike | None:
        """The active span of the current context, or ``None``."""

    def start_active_span(
        self,
        operation_name: str,
        child_of: Any = None,
        references: Any = None,
        tags: Any = None,
        start_time: float | None = None,
        ignore_active_span: bool = False,
        finish_on_close: bool = True,
    ) -> ScopeLike:
        """Start a span and make it active."""

    def start_span(
        self,
        operation_name: str | None = None,
        child_of: Any = None,
        references: Any = None,
        tags: Any = None,
        start_time: float | None = None,
        ignore_active_span: bool = False,
    ) -> SpanLike:
        """Start a span without activating it."""

    def inject(self, span_context: Any, format: str, carrier: Any) -> None:
        """Write ``span_context`` into ``carrier`` in ``format``."""

    def extract(self, format: str, carrier: Any) -> Any:
        """Read a span context from ``carrier`` in ``format``."""


class StartSpanHook(Protocol):
    """``tracing.start_span_hook``: called after the server span starts."""

    def __call__(self, span: Span, request: Request, /) -> object:
        """Inspect or tag the span; exceptions are logged and swallowed."""


class FinishSpanHook(Protocol):
    """``tracing.finish_span_hook``: called before the server span finishes."""

    def __call__(
        self,
        span: Span,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        /,
    ) -> object:
        """Inspect or tag the span; exceptions are logged and swallowed."""


class OperationNameFunc(Protocol):
    """A ``tracing.operation_name`` callable: the server span's name for a request."""

    def __call__(self, request: Request, /) -> str:
        """Return the operation name."""


class TracerFactory(Protocol):
    """A ``tracing.tracer`` factory: called once with the app settings as keyword arguments."""

    def __call__(self, **settings: Any) -> Tracer:
        """Create the tracer."""
