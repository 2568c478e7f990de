"""Per-request tracing state, and the Tracing of the current context.

A leaf module: it imports nothing of the package but :mod:`.typing`, so every other module
can use it without an import cycle. What it holds of the upper layers (the app's Tracing,
the runner of the phases) it types by the little it needs of them (:class:`ServerPhases`).
"""

from __future__ import annotations

import contextvars
from typing import Final, Protocol

from opentracing import Scope

from .typing import Request, Response

__all__ = [
    "REGISTRY_ATTR",
    "REQUEST_ATTR",
    "RequestState",
    "ServerPhases",
    "current",
    "request_state",
    "state_for",
]

# The request attribute holding its RequestTracing (a request method extension, see _request).
REQUEST_ATTR: Final = "tracing"
# Where a request without request.tracing keeps its state (requests that Pyramid's router did
# not make, such as a test's DummyRequest given to a decorated view).
_SCOPE_ATTR: Final = "_pyramid_tracing_scope"
# The registry attribute holding the app's Tracing (the registry outlives every request).
REGISTRY_ATTR: Final = "_pyramid_tracing"

# The Tracing of the request being served in this context, for @traced and the outbound helpers.
# A ContextVar (not the request) because those run in code that has no request at hand; it is
# only ever set inside the context copy that serves one request, so it needs no reset token.
# Typed as object here (a Tracing, which lives above this module): current_tracing() in
# _tracing reads it typed.
current: contextvars.ContextVar[object] = contextvars.ContextVar(
    "pyramid_tracing.current_tracing", default=None
)


class ServerPhases(Protocol):
    """What a request's state asks of the runner that started its server span."""

    def routed(
        self, state: RequestState, request: Request, attributes: tuple[str, ...] = ()
    ) -> None:
        """Name the span, record the traced attributes and run the start hook, once."""

    def finish(
        self,
        state: RequestState,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        *,
        escaped: bool = False,
    ) -> None:
        """Tag the result, run the finish hook and close; never raises."""

    def trace_headers(self, state: RequestState, response: Response) -> None:
        """Add the trace response headers for the open span now; never raises."""

    def record_body(
        self, state: RequestState, exception: BaseException | None, size: int | None
    ) -> None:
        """Record an error raised by the body, or the bytes it produced; never raises."""


class RequestState:
    """What a request carries for tracing: its registry, its server scope and its phase.

    It lives in the request's ``__dict__`` (as ``request.tracing``, a
    :class:`~pyramid_tracing.RequestTracing`, or under a private key) and holds no
    reference back to the request, so the request is freed as soon as it is served.
    """

    __slots__ = ("_recorded", "_registry", "_routed", "_scope", "_spans", "_started")

    def __init__(self, registry: object) -> None:
        self._registry = registry
        #: The server scope while the request is traced.
        self._scope: Scope | None = None
        #: The runner that started the scope; it owns the routed and finish phases.
        self._spans: ServerPhases | None = None
        #: Whether the routed phase (name, traced attributes, start hook) has run.
        self._routed = False
        #: Whether the tracer records the server span (keeps its tags): else none is built.
        self._recorded = True
        #: ``time.perf_counter()`` at the start, when the request's metrics are recorded.
        self._started = 0.0


def request_state(request: Request) -> RequestState | None:
    """The :class:`RequestState` of ``request``, or ``None`` when it has none yet."""
    attributes = request.__dict__
    state = attributes.get(REQUEST_ATTR)
    if isinstance(state, RequestState):
        return state
    state = attributes.get(_SCOPE_ATTR)
    return state if isinstance(state, RequestState) else None


def state_for(request: Request) -> RequestState:
    """The :class:`RequestState` of ``request``, made when it has none."""
    state = request_state(request)
    if state is None:
        state = RequestState(getattr(request, "registry", None))
        request.__dict__[_SCOPE_ATTR] = state
    return state
