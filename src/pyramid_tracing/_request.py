"""``request.tracing``: the request's view of tracing."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

import opentracing

from ._failures import failures
from ._state import REQUEST_ATTR, RequestState
from ._tracing import Tracing, get_tracing
from .typing import Request, ScopeLike, SpanLike, TracerLike

if TYPE_CHECKING:
    import requests

__all__ = ["PerRequest", "RequestTracing", "request_tracing"]

H = TypeVar("H", bound=MutableMapping[str, str])

_NO_BAGGAGE: Mapping[str, str] = MappingProxyType({})

# OpenTracing's base Tracer does nothing: its scopes are what a failed start returns.
_NOOP_TRACER = opentracing.Tracer()


class RequestTracing(RequestState):
    """What ``request.tracing`` returns: the active span, the request's span, the tracer.

    It is created once per request (see :class:`PerRequest`), holds the request's server
    scope while the request is traced, and reads the tracer through the application's
    :class:`~pyramid_tracing.Tracing`. It keeps no reference to the request, so the request is
    still freed as soon as it is served.

    Args:
        request: the request; only its ``registry`` is kept.
    """

    __slots__ = ()

    def __init__(self, request: Request) -> None:
        self._registry = request.registry
        self._scope = None
        self._spans = None
        self._routed = False

    @property
    def tracing(self) -> Tracing:
        """The application's :class:`~pyramid_tracing.Tracing`.

        Raises:
            LookupError: pyramid_tracing is not set up for the request's application.
        """
        return get_tracing(self._registry)

    @property
    def tracer(self) -> TracerLike:
        """The application's tracer."""
        return self.tracing.tracer

    @property
    def active_span(self) -> SpanLike | None:
        """The active span in the current context (a child span, or this request's span)."""
        return self.tracing._backend.active_span(self._scope)

    @property
    def span(self) -> SpanLike | None:
        """This request's server span; ``None`` when the request is not traced."""
        scope = self._scope
        return None if scope is None else scope.span

    @property
    def baggage(self) -> Mapping[str, str]:
        """The baggage of this request's span, read-only: what the caller sent, and since.

        With the OpenTelemetry tracer of :mod:`pyramid_tracing.otel` the caller's W3C
        ``baggage`` header (or what ``OTEL_PROPAGATORS`` names) is read; other tracers carry
        baggage in their own headers. Items set with ``span.set_baggage_item(key, value)``
        are added, and are sent on to the next service by the outbound helpers. Empty when
        the request is not traced.

        .. versionadded:: 0.1.0
        """
        scope = self._scope
        if scope is None:
            return _NO_BAGGAGE
        try:
            bag = self.tracing._backend.baggage(scope)
            if not bag:
                return _NO_BAGGAGE
            return MappingProxyType({str(key): str(value) for key, value in bag.items()})
        except Exception as exc:
            failures.report("reading the baggage of the request's span", exc)
            return _NO_BAGGAGE

    @property
    def session(self) -> requests.Session:
        """A traced :class:`requests.Session` bound to the application's tracer.

        Made once per application (not per request) and shared by its requests, so it keeps
        no cookies between calls. Needs the ``requests`` extra.
        """
        from .requests import _app_session

        return _app_session(self.tracing)

    def start_active_span(
        self,
        operation_name: str,
        *,
        tags: Mapping[str, object] | None = None,
        finish_on_close: bool = True,
    ) -> ScopeLike:
        """Start a span, child of the active span, and make it active.

        Use it as a context manager: ``with request.tracing.start_active_span("db"):``.

        Args:
            operation_name: the span's name.
            tags: tags to set on the span.
            finish_on_close: whether closing the scope finishes the span.

        Returns:
            The scope of the new span; a no-op scope when the tracer fails to start it.
        """
        try:
            backend = self.tracing._backend
            if finish_on_close:
                scope: ScopeLike | None = backend.start_child(
                    operation_name, tags, active=True, root=True
                )
                if scope is not None:
                    return scope
                # A dropped trace: the block runs under its non-recording span.
                return _NOOP_TRACER.start_active_span(operation_name)
            return backend.tracer.start_active_span(
                operation_name, tags=dict(tags) if tags else None, finish_on_close=False
            )
        except Exception as exc:
            failures.report("starting a span with request.tracing.start_active_span", exc)
            # Fail open: the view's `with` block runs, without a span.
            return _NOOP_TRACER.start_active_span(operation_name)

    def inject(self, headers: H) -> H:
        """Write the active span's context into ``headers`` (HTTP headers) and return them.

        Without an active span, or when the tracer fails, ``headers`` is returned unchanged.
        """
        try:
            self.tracing._backend.inject(headers)
        except Exception as exc:
            failures.report("injecting the trace context into headers", exc)
        return headers


def request_tracing(request: object) -> RequestTracing:
    """``request.tracing``, typed: mypy sees it without stubs for Pyramid or opentracing.

    Pyramid ships no type information, so ``request.tracing`` is ``Any`` to a type checker;
    this function's result is a :class:`RequestTracing`, whose spans, scopes and tracer are
    typed with the Protocols of :mod:`pyramid_tracing.typing`::

        from pyramid_tracing import request_tracing

        def view(request):
            span = request_tracing(request).active_span  # SpanLike | None

    Args:
        request: a request of an application that includes pyramid_tracing (or a test's
            ``DummyRequest`` after ``pyramid.request.apply_request_extensions``).

    Raises:
        LookupError: the request has no ``request.tracing``: pyramid_tracing is not included
            in its application, or the request's extensions were not applied.

    .. versionadded:: 0.2.0
    """
    state = getattr(request, "__dict__", {}).get(REQUEST_ATTR)
    if not isinstance(state, RequestTracing):
        state = getattr(request, REQUEST_ATTR, None)
    if isinstance(state, RequestTracing):
        return state
    msg = (
        f"{request!r} has no request.tracing: include pyramid_tracing in its application "
        "(config.include('pyramid_tracing')), or, for a test's DummyRequest, call "
        "pyramid.request.apply_request_extensions(request) first."
    )
    raise LookupError(msg)


class PerRequest:
    """``request.tracing`` as a request *method* extension rather than a reified property.

    Pyramid applies a request property by creating a new class for every request (a
    ``type()`` call that costs tens of microseconds, more than a tracer's whole span), while
    it binds a method extension with ``__get__`` and a plain ``setattr``. Binding this object
    gives the request's :class:`RequestTracing`, created once per request as before.
    """

    __slots__ = ()

    def __get__(self, request: Request, owner: object = None) -> RequestTracing:
        return RequestTracing(request)
