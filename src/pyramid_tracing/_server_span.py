"""The server span of a request, in three phases, by one runner built once per application.

* *start* (the tween, or the view decorator): extract the caller's context and start the span
  with the tags known before routing, named after the HTTP method;
* *routed* (a view deriver, once Pyramid has matched the route and found the context and is
  about to call the view): name the span, record the traced attributes and run the start
  hook, so that what the hook and the view set afterwards wins;
* *finish*: the status, the error, the route and the captured response headers, then the
  finish hook, then close. A request that never reached its view is routed here first.

:class:`ServerSpans` holds what is fixed for the app (the tracer when one was given, its
:class:`~pyramid_tracing._tracers.Capabilities`, the tag policy, the namer, the hooks); only
the global-tracer case looks the tracer up per request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import opentracing
from opentracing import Span
from webob import Response as WebObResponse

from ._failures import failures, logger
from ._naming import namer
from ._server_start import StartPhase
from ._server_tags import start_tags_builder, tag_result
from ._settings import TracingSettings
from ._state import RequestState, current
from ._tags import TagPolicy, header_tags
from ._trace_ids import add_trace_headers
from ._tracers import Capabilities, capabilities
from .typing import Request, Response, StartSpanHook

if TYPE_CHECKING:
    from ._tracing import Tracing

__all__ = ["ServerSpans"]

R = TypeVar("R")


class ServerSpans(StartPhase):
    """Starts, routes and finishes the server spans of one :class:`~pyramid_tracing.Tracing`."""

    def __init__(
        self,
        tracing: Tracing,
        tracer: opentracing.Tracer | None,
        settings: TracingSettings,
        start_hook: StartSpanHook | None,
    ) -> None:
        self._tracing = tracing
        self._tracer = tracer
        self.policy = TagPolicy(
            sensitive_headers=settings.sensitive_headers,
            sensitive_query_params=settings.sensitive_query_params,
            max_tag_length=settings.max_tag_length,
        )
        self._name = namer(settings.operation_name)
        self._attributes = settings.traced_attributes
        self._start_hook = start_hook
        self._finish_hook = settings.finish_span_hook
        self._no_hooks = start_hook is None and self._finish_hook is None
        self._trace_headers = settings.response_trace_headers
        # The tag vocabulary (issue 12); interned, so that the tag builders compare with `is`.
        self._semconv = sys.intern(settings.semconv)
        self.start_tags = start_tags_builder(
            self.policy,
            header_tags("http.request.header.", settings.capture_request_headers),
            self._semconv,
        )
        self._response_headers = header_tags(
            "http.response.header.", settings.capture_response_headers
        )
        # Decided once for a given tracer; for the global tracer, once per tracer installed
        # (one tuple, so that a thread never pairs a tracer with another's capabilities).
        self._fixed = None if tracer is None else capabilities(tracer)
        self._global: Capabilities | None = None

    def routes_at_start(self) -> bool:
        """Whether every span is routed as it starts (a given no-op tracer, no hooks)."""
        fixed = self._fixed
        return fixed is not None and fixed.noop and self._no_hooks

    def capabilities(self) -> Capabilities:
        """The tracer to use now, with what the hot path decided for it."""
        fixed = self._fixed
        if fixed is not None:
            return fixed
        tracer = opentracing.global_tracer()
        found = self._global
        if found is None or found.tracer is not tracer:
            found = self._global = capabilities(tracer)
            if found.noop:
                logger.warning(
                    "no tracer is configured (tracing.tracer is not set) and "
                    "the OpenTracing global tracer is its no-op tracer: spans are dropped. Set "
                    "tracing.tracer, or install a global tracer with opentracing.set_global_tracer"
                )
        return found

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
        """
        caps = self._fixed or self.capabilities()
        noop_scope = caps.noop_scope
        if noop_scope is not None and self._no_hooks:
            # OpenTracing's own no-op tracer and no hooks: nothing can read a tag, so none is
            # built, and the no-op scope cannot fail. The span is still the request's span.
            state._scope = noop_scope
            state._routed = True
            current.set(self._tracing)  # in the context copy made by run(): it dies with it
            try:
                return view(*args, **kwargs)
            finally:
                state._scope = None
        scope = self.start(caps, request, state)
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
        self.finish(state, request, result if is_response else request.response, None)
        return result

    # -- start -----------------------------------------------------------------------------

    # -- routed ----------------------------------------------------------------------------

    def routed(
        self, state: RequestState, request: Request, attributes: tuple[str, ...] = ()
    ) -> None:
        """Name the span, record the traced attributes and run the start hook, once."""
        scope = state._scope
        if scope is None or state._routed:
            return
        state._routed = True
        span = scope.span
        # OpenTracing's own no-op span drops names and tags, and a span the tracer does not
        # record (not sampled) drops them too: build none.
        if state._recorded and type(span) is not Span:
            self._name_and_attributes(span, request, attributes)
        hook = self._start_hook
        if hook is not None:
            try:
                hook(span, request)
            except Exception as exc:
                failures.report("the start_span_hook", exc)

    def _name_and_attributes(
        self, span: Span, request: Request, attributes: tuple[str, ...]
    ) -> None:
        try:
            try:
                name = self._name(request)
            except Exception as exc:
                failures.report("the operation_name callable", exc)
                name = request.method
            policy = self.policy
            # The length test first, as for the URL: one call fewer on every request.
            span.set_operation_name(
                name if len(name) <= policy.max_tag_length else policy.truncate(name)
            )
            names = self._attributes + attributes if attributes else self._attributes
            if names:
                self._tracing.tag_attributes(span, request, names)
        except Exception as exc:
            failures.report("naming the server span", exc)

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
        span = scope.span
        caps = self._fixed or self._global
        if (
            not state._recorded
            and caps is not None
            and caps.late_tags is not None
            # Sampled since the start (a hook or the view set sampling.priority): the span
            # gets the tags it went without.
            and self._record_late(state, request, span, caps.late_tags)
        ):
            self._name_and_attributes(span, request, ())
        if state._recorded and type(span) is not Span:
            try:
                # Positional arguments: this runs on every request.
                tag_result(
                    self._tracing,
                    span,
                    request,
                    response,
                    exception,
                    escaped,
                    None if caps is None else caps.batch_span_type,
                    self._response_headers,
                    self._semconv,
                )
            except Exception as exc:
                failures.report("tagging the server span", exc)
        if self._trace_headers and response is not None and type(span) is not Span:
            # The caller's trace context, sampled or not: propagation, not a tag.
            try:
                add_trace_headers(span, response, self._trace_headers)
            except Exception as exc:
                failures.report("adding the trace response headers", exc)
        hook = self._finish_hook
        if hook is not None:
            try:
                hook(span, request, response, exception)
            except Exception as exc:
                failures.report("the finish_span_hook", exc)
        try:
            scope.close()
        except Exception as exc:
            failures.report("finishing the server span", exc)
