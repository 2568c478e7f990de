"""The server span of a request, in three phases, by one runner built once per application.

* *start* (the tween, or the view decorator): extract the caller's context and start the span
  with the attributes known before routing, named after the HTTP method;
* *routed* (a view deriver, once Pyramid has matched the route and found the context and is
  about to call the view): name the span, record the traced attributes and run the start
  hook, so that what the hook and the view set afterwards wins;
* *finish*: the status, the error, the route and the captured response headers, then the
  finish hook, then close. A request that never reached its view is routed here first.

:class:`ServerSpans` runs the phases and talks to the span through its
:class:`~pyramid_tracing._backends.base.Backend`; the start itself is the backend's
(:meth:`ServerSpans.start`), since extraction and activation are what differ most.
"""

from __future__ import annotations

import abc
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from opentracing import Scope
from webob import Response as WebObResponse

from .._backends.base import Backend
from .._body import BODY_SIZE, MATERIALISED
from .._failures import failures
from .._naming import namer
from .._settings import TracingSettings
from .._state import RequestState, current
from .._tags import TagPolicy, header_tags
from .._trace_ids import add_trace_headers
from ..typing import Request, Response, StartSpanHook
from .tags import attribute_tags, start_tags_builder, tag_result

__all__ = ["ServerSpans"]

R = TypeVar("R")


class ServerSpans(abc.ABC):
    """Starts, routes and finishes the server spans of one :class:`~pyramid_tracing.Tracing`.

    Args:
        tracing: the Tracing, made current in the request's context.
        backend: the span backend.
        policy: the tag policy (redaction, truncation).
        settings: the parsed settings.
        start_hook: the start hook, if any.
        kind_tag: the stable start attributes include ``span.kind`` (for OpenTracing).
    """

    def __init__(
        self,
        tracing: object,
        backend: Backend,
        policy: TagPolicy,
        settings: TracingSettings,
        start_hook: StartSpanHook | None,
        *,
        kind_tag: bool = True,
    ) -> None:
        # The app's Tracing: what @traced and the helpers find current during the request.
        self._tracing = tracing
        self._backend = backend
        self.policy = policy
        self._name = namer(settings.operation_name)
        self._attributes = settings.traced_attributes
        self._start_hook = start_hook
        self._finish_hook = settings.finish_span_hook
        self._no_hooks = start_hook is None and self._finish_hook is None
        self._trace_headers = settings.response_trace_headers
        # The tag vocabulary (issue 12); interned, so that the tag builders compare with `is`.
        self._semconv = sys.intern(settings.semconv)
        #: ``start_tags(request, method)``: every start attribute, in the app's vocabulary.
        self.start_tags = start_tags_builder(
            self.policy,
            header_tags("http.request.header.", settings.capture_request_headers),
            self._semconv,
            kind_tag,
        )
        self._response_headers = header_tags(
            "http.response.header.", settings.capture_response_headers
        )
        #: Serves a request that tracing excludes, measuring it (``None``: served as is).
        self.measure_excluded: Callable[[Request, Callable[[Request], Response]], Response] | (
            None
        ) = None

    def routes_at_start(self) -> bool:
        """Whether every span is routed as it starts (nothing reads its name or tags)."""
        return False

    @abc.abstractmethod
    def start(self, request: Request, state: RequestState) -> Scope | None:
        """Start and activate the server span of ``request``; ``None`` if the tracer fails.

        Sets ``state._scope`` (the handle), ``state._spans``, ``state._routed`` and
        ``state._recorded`` (whether the tracer keeps the span's attributes).
        """

    def _record_late(self, state: RequestState, request: Request, scope: Scope) -> bool:
        """Give an unrecorded span its start attributes if it is recorded by now.

        Returns whether it is (sampled since the start); only OpenTracing tracers change
        their mind.
        """
        return False

    # -- the whole request ---------------------------------------------------------------

    def run(
        self,
        request: Request,
        state: RequestState,
        view: Callable[..., R],
        args: tuple[object, ...],
        kwargs: dict[str, Any],
        routed: bool,
        attributes: tuple[str, ...],
    ) -> R:
        """Call ``view`` inside the server span of ``request``.

        Callers run it in a copy of the current context (``contextvars.copy_context().run``),
        so the context is left exactly as found even when a faulty tracer or scope manager
        leaves a span active: the next request served by the same thread never sees it.
        ContextVars the view sets are not visible after it returns, as with each request of
        an asyncio server.

        Args:
            request: the request.
            state: its state (``request.tracing``, or the state of a request without it).
            view: the tween's handler, or the decorated view.
            args: the positional arguments of ``view``.
            kwargs: the keyword arguments of ``view``.
            routed: the view is the request's own view (the decorator): route now. The tween
                passes ``False``; the view deriver routes the request later.
            attributes: request attributes the decorator records besides the traced ones.

        A response whose body is streamed (its ``app_iter`` not a list or tuple) leaves the
        span open (``state._scope`` set): the caller then hands it to
        :func:`~pyramid_tracing._body.cover_body` with its context copy.
        """
        scope = self.start(request, state)
        if scope is None:
            return view(*args, **kwargs)
        current.set(self._tracing)  # in the context copy made by run(): it dies with it
        if routed:
            self.routed(state, request, attributes)
        try:
            result = view(*args, **kwargs)
        except BaseException as exc:
            # From the tween, an exception nothing handled: the WSGI server answers 500.
            self.finish(state, request, None, exc, escaped=not routed)
            raise
        # A view with a renderer returns a dict: its status is then on request.response.
        # isinstance first: it spares the happy path WebOb's status_code property.
        is_response = isinstance(result, WebObResponse) or hasattr(result, "status_code")
        if is_response and type(getattr(result, "app_iter", None)) not in MATERIALISED:
            # A streamed body: the span stays open until the server closes it; the caller,
            # which holds the context copy, wraps the body (_body.cover_body).
            return result
        self.finish(state, request, result if is_response else request.response, None)
        return result

    # -- routed ----------------------------------------------------------------------------

    def routed(
        self, state: RequestState, request: Request, attributes: tuple[str, ...] = ()
    ) -> None:
        """Name the span, record the traced attributes and run the start hook, once."""
        scope = state._scope
        if scope is None or state._routed:
            return
        state._routed = True
        # A span the tracer does not record (not sampled, or a no-op span) drops names and
        # attributes: build none.
        if state._recorded:
            self._name_and_attributes(scope, request, attributes)
        hook = self._start_hook
        if hook is not None:
            try:
                hook(scope.span, request)
            except Exception as exc:
                failures.report("the start_span_hook", exc)

    def _name_and_attributes(
        self, scope: Scope, request: Request, attributes: tuple[str, ...]
    ) -> None:
        backend = self._backend
        try:
            try:
                name = self._name(request)
            except Exception as exc:
                failures.report("the operation_name callable", exc)
                name = request.method
            policy = self.policy
            # The length test first, as for the URL: one call fewer on every request.
            backend.rename(
                scope, name if len(name) <= policy.max_tag_length else policy.truncate(name)
            )
            names = self._attributes + attributes if attributes else self._attributes
            if names:
                backend.set_attributes(scope, attribute_tags(policy, request, names))
        except Exception as exc:
            failures.report("naming the server span", exc)

    def tag_attributes(self, scope: Scope, request: Request, names: tuple[str, ...]) -> None:
        """Record the request attributes ``names`` on the span of ``scope``; never raises."""
        try:
            self._backend.set_attributes(scope, attribute_tags(self.policy, request, names))
        except Exception as exc:
            failures.report("tagging the server span", exc)

    # -- finish ----------------------------------------------------------------------------

    def finish(
        self,
        state: RequestState,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        *,
        escaped: bool = False,
    ) -> None:
        """Route if still needed, tag the result, run the finish hook and close; never raises.

        Args:
            state: the request's state, holding the scope.
            request: the request.
            response: the response sent, if any.
            exception: the exception that ended the request, if any.
            escaped: ``exception`` leaves the app (it reached the tween): record status 500.
        """
        scope = state._scope
        if scope is None:
            return
        if not state._routed:
            self.routed(state, request)
        state._scope = None
        backend = self._backend
        if not state._recorded and self._record_late(state, request, scope):
            self._name_and_attributes(scope, request, ())
        if state._recorded:
            try:
                # Positional arguments: this runs on every request.
                tag_result(
                    backend,
                    scope,
                    request,
                    response,
                    exception,
                    escaped,
                    self._response_headers,
                    self._semconv,
                    self.policy,
                )
            except Exception as exc:
                failures.report("tagging the server span", exc)
        if self._trace_headers and response is not None:
            self._add_trace_headers(scope, response)
        hook = self._finish_hook
        if hook is not None:
            try:
                hook(scope.span, request, response, exception)
            except Exception as exc:
                failures.report("the finish_span_hook", exc)
        try:
            scope.close()
        except Exception as exc:
            failures.report("finishing the server span", exc)

    def _add_trace_headers(self, scope: Scope, response: Response) -> None:
        # The caller's trace context, sampled or not: propagation, not a tag.
        try:
            add_trace_headers(self._backend.ids(scope), response, self._trace_headers)
        except Exception as exc:
            failures.report("adding the trace response headers", exc)

    # -- a streamed body (see _body) ---------------------------------------------------------

    def trace_headers(self, state: RequestState, response: Response) -> None:
        """Add the trace response headers for the open span now; never raises."""
        scope = state._scope
        if self._trace_headers and scope is not None:
            self._add_trace_headers(scope, response)

    def record_body(
        self, state: RequestState, exception: BaseException | None, size: int | None
    ) -> None:
        """Record an error raised by the body, or the bytes it produced; never raises."""
        scope = state._scope
        if scope is None or not state._recorded:
            return
        backend = self._backend
        if exception is not None:
            try:
                backend.record_error(scope, exception)
            except Exception as exc:
                failures.report("recording an error of the response body", exc)
        if size is not None:
            try:
                backend.set_attributes(scope, {BODY_SIZE: size})
            except Exception as exc:
                failures.report("tagging the server span", exc)
