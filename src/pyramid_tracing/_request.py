"""``request.tracing``: the request's view of tracing."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TypeVar, cast

import opentracing
from opentracing import Format, Scope, Span

from ._config import get_tracing
from ._failures import failures
from ._tracing import Tracing
from .typing import Request

__all__ = ["RequestTracing"]

H = TypeVar("H", bound=MutableMapping[str, str])


class RequestTracing:
    """What ``request.tracing`` returns: the active span, the request's span, the tracer.

    It is created once per request (a reified request property) and reads the tracer through
    the application's :class:`~pyramid_tracing.Tracing`.
    """

    __slots__ = ("_request", "tracing")

    def __init__(self, request: Request) -> None:
        self._request = request
        #: The application's :class:`~pyramid_tracing.Tracing`.
        self.tracing: Tracing = get_tracing(request)

    @property
    def tracer(self) -> opentracing.Tracer:
        """The application's tracer."""
        return self.tracing.tracer

    @property
    def active_span(self) -> Span | None:
        """The active span in the current context (a child span, or this request's span)."""
        scope = self.tracing.tracer.scope_manager.active
        return None if scope is None else scope.span

    @property
    def span(self) -> Span | None:
        """This request's server span; ``None`` when the request is not traced."""
        return self.tracing.get_span(self._request)

    def start_active_span(
        self,
        operation_name: str,
        *,
        tags: Mapping[str, object] | None = None,
        finish_on_close: bool = True,
    ) -> Scope:
        """Start a span, child of the active span, and make it active.

        Use it as a context manager: ``with request.tracing.start_active_span("db"):``.

        Args:
            operation_name: the span's name.
            tags: tags to set on the span.
            finish_on_close: whether closing the scope finishes the span.

        Returns:
            The scope of the new span.
        """
        return self.tracing.tracer.start_active_span(
            operation_name, tags=dict(tags) if tags else None, finish_on_close=finish_on_close
        )

    def inject(self, headers: H) -> H:
        """Write the active span's context into ``headers`` (HTTP headers) and return them.

        Without an active span, or when the tracer fails, ``headers`` is returned unchanged.
        """
        tracer = self.tracing.tracer
        scope = tracer.scope_manager.active
        if scope is not None:
            try:
                # The stubs say dict; any mutable mapping works with every tracer tested.
                carrier = cast("dict[str, str]", headers)
                tracer.inject(scope.span.context, Format.HTTP_HEADERS, carrier)
            except Exception as exc:
                failures.report("injecting the trace context into headers", exc)
        return headers
