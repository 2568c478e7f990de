"""Public type aliases and Protocols of pyramid_tracing.

Pyramid ships no type information, so its request and response objects are typed as ``Any``
here; the Protocols describe what the add-on calls.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

from opentracing import Span, Tracer

__all__ = [
    "FinishSpanHook",
    "OperationNameFunc",
    "Request",
    "Response",
    "StartSpanHook",
    "TracerFactory",
]

#: A :class:`pyramid.request.Request` (Pyramid is untyped).
Request: TypeAlias = Any
#: A :class:`pyramid.response.Response` or any WebOb response (Pyramid is untyped).
Response: TypeAlias = Any


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
