"""Tracing: a tracer tied to the settings, the server span API and the view decorator.

A thin facade: the phases of a request live in :mod:`._server`, the span operations in
:mod:`._backends`, tag values in :mod:`._tags`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

import opentracing
from opentracing import Scope, Span
from opentracing.ext import tags as ext_tags
from pyramid.interfaces import IRequest
from pyramid.request import Request as PyramidRequest
from typing_extensions import ParamSpec

from ._backends import Backend, backend_for
from ._backends.opentracing import record_span_error
from ._body import cover_body
from ._server import ServerSpans, server_spans
from ._server.tags import attribute_tags
from ._settings import TracingSettings
from ._state import REGISTRY_ATTR, current, request_state, state_for
from ._tags import TagPolicy, error_log
from ._urls import request_path
from .typing import Request, Response, StartSpanHook

__all__ = ["Tracing", "current_tracing", "find_request", "get_tracing"]

P = ParamSpec("P")
R = TypeVar("R")


def find_request(args: tuple[object, ...]) -> Request | None:
    """Find the request among a view callable's arguments (or on a class-based view's self)."""
    for arg in reversed(args):
        if isinstance(arg, PyramidRequest):
            return arg
    for arg in reversed(args):
        if IRequest.providedBy(arg):
            return arg
    if args:
        request = getattr(args[0], "request", None)
        if request is not None and IRequest.providedBy(request):
            return request
    return None


class Tracing:
    """Ties an OpenTracing tracer to the add-on's settings and traces requests with it.

    Everything fixed for the application (the tracer when given, what the hot path may skip
    for it, the tag policy, the namer, the hooks) is decided here, once.

    Args:
        tracer: the tracer. ``None`` means the tracer of ``settings``, else the OpenTracing
            global tracer (:func:`opentracing.global_tracer`), looked up at each use so that a
            tracer installed later is picked up.
        settings: the parsed settings; defaults apply when omitted.
        start_span_cb: called as ``start_span_cb(span, request)`` once the request is routed
            (the ``pyramid_opentracing`` name of ``tracing.start_span_hook``).

    Raises:
        ValueError: ``start_span_cb`` is not callable.
    """

    def __init__(
        self,
        tracer: opentracing.Tracer | None = None,
        *,
        settings: TracingSettings | None = None,
        start_span_cb: StartSpanHook | None = None,
    ) -> None:
        if start_span_cb is not None and not callable(cast("object", start_span_cb)):
            msg = f"start_span_cb must be callable, got {start_span_cb!r}"
            raise ValueError(msg)
        if settings is None:
            settings = TracingSettings()
        self._given_tracer = tracer if tracer is not None else settings.tracer
        self.settings: TracingSettings = settings
        self._start_span_hook = start_span_cb or settings.start_span_hook
        #: The tag policy: redaction and truncation of every tag value.
        self.policy: TagPolicy = TagPolicy(
            sensitive_headers=settings.sensitive_headers,
            sensitive_query_params=settings.sensitive_query_params,
            max_tag_length=settings.max_tag_length,
        )
        # The tracing API that the phases and the helpers talk to (OpenTracing, OpenTelemetry).
        self._backend: Backend = backend_for(self._given_tracer, settings.semconv, self.policy)
        self._spans: ServerSpans = server_spans(
            self, self._backend, self.policy, settings, self._start_span_hook
        )
        self._excluded_path = _path_matcher(settings)
        # Set by the tween factory that serves requests with this object (pyramid_opentracing).
        self._served_by_tween = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} tracer={self._given_tracer!r}>"

    @property
    def tracer(self) -> opentracing.Tracer:
        """The tracer given, or else the OpenTracing global tracer at this moment.

        With the OpenTelemetry backend, the :class:`~pyramid_tracing.otel.OtelTracer`: an
        OpenTracing tracer whose view over OpenTelemetry is built when first used.
        """
        return self._backend.tracer

    # pyramid_opentracing 1.0's attribute names, which its users' code reads.
    @property
    def _tracer(self) -> opentracing.Tracer:
        return self.tracer

    @property
    def _start_span_cb(self) -> StartSpanHook | None:
        return self._start_span_hook

    @property
    def _trace_all(self) -> bool:
        return self._served_by_tween and self.settings.trace_all

    def get_span(self, request: Request) -> Span | None:
        """The server span of ``request``, or ``None`` when it is not traced (or finished).

        A request whose view has not been reached through Pyramid's router (a handler called
        directly, as in a tween's unit test) is routed first: its span gets its name, traced
        attributes and start hook before the caller tags it, so that the caller's tags win.
        """
        state = request_state(request)
        if state is None or state._scope is None:
            return None
        scope = state._scope
        spans = state._spans
        if spans is not None and not state._routed:
            spans.routed(state, request)
        return scope.span

    def is_excluded(self, request: Request) -> bool:
        """Whether ``tracing.exclude_paths`` excludes ``request`` (matched on ``request.path``)."""
        excluded = self._excluded_path
        return excluded is not None and excluded(request_path(request)) is not None

    def start_server_span(self, request: Request) -> Scope | None:
        """Start and activate the server span of ``request``; ``None`` if the tracer fails.

        The span is named after the HTTP method until the request is routed (when its view is
        about to run) or finished with :meth:`finish_server_span`.
        """
        return self._spans.start(request, state_for(request))

    def finish_server_span(
        self,
        scope: Scope,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        attributes: tuple[str, ...] = (),
    ) -> None:
        """Name (if not routed yet), tag and finish the server span of ``request``; never raises.

        Args:
            scope: what :meth:`start_server_span` returned.
            request: the request.
            response: the response sent, if any.
            exception: the exception that ended the request, if any.
            attributes: request attributes to record besides the traced ones.
        """
        state = state_for(request)
        state._scope = scope
        if state._spans is None:
            state._spans = self._spans
        if attributes:
            self._spans.tag_attributes(scope, request, attributes)
        self._spans.finish(state, request, response, exception)

    def record_error(self, span: Span, exception: BaseException) -> None:
        """Mark ``span`` as failed with ``exception`` in the vocabulary of ``tracing.semconv``.

        ``opentracing``: :meth:`tag_error`'s ``error=true`` and error log; ``stable``:
        OpenTelemetry's ``error.type``, an ``exception`` event and the ERROR status; ``both``:
        both. Child spans (``@traced``, render, transaction, SQL, outbound) use it.

        .. versionadded:: 0.2.0
        """
        record_span_error(span, exception, self.settings.semconv, self.policy)

    def tag_error(self, span: Span, exception: BaseException) -> None:
        """Mark ``span`` as failed and log ``exception`` with the OpenTracing error fields."""
        span.set_tag(ext_tags.ERROR, True)
        span.log_kv(error_log(exception, self.policy))

    def tag_attributes(self, span: Span, request: Request, attributes: tuple[str, ...]) -> None:
        """Set each request attribute in ``attributes`` as a tag named after it.

        An attribute that is missing, ``None``, empty, or whose property raises is skipped.
        """
        for key, value in attribute_tags(self.policy, request, attributes).items():
            span.set_tag(key, value)  # type: ignore[arg-type]  # any value the tracer takes

    # -- the view decorator ------------------------------------------------------------------

    def trace(self, *attributes: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorate a view callable to trace it, recording ``attributes`` as tags.

        Put it after (below) ``@view_config``. It works for views taking ``(request)`` or
        ``(context, request)`` and for methods of class-based views (``self.request``).

        When the tween already traces the request, the decorator only adds its attribute
        tags to the request's span: one request never gets two server spans. Otherwise it
        creates the server span exactly as the tween would.

        Args:
            attributes: names of request attributes to record, such as ``"headers"``.

        Returns:
            The decorator.
        """
        for attribute in attributes:
            if not isinstance(cast("object", attribute), str):
                msg = f"Tracing.trace() takes request attribute names, got {attribute!r}"
                raise TypeError(msg)
        names = tuple(attributes)

        def decorator(view: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(view)
            def traced_view(*args: P.args, **kwargs: P.kwargs) -> R:
                request = find_request(args)
                if request is None:
                    return view(*args, **kwargs)
                state = state_for(request)
                existing = state._scope
                if existing is not None:
                    self._spans.tag_attributes(existing, request, names)
                    return view(*args, **kwargs)
                # A context copy per call: see ServerSpans.run.
                ctx = contextvars.copy_context()
                result = ctx.run(self._spans.run, request, state, view, args, kwargs, True, names)
                if state._scope is not None:  # a streamed body: its span ends when it is closed
                    return cast("R", cover_body(ctx, self._spans, state, request, result))
                return result

            # Pyramid picks (request) or (context, request) with getfullargspec, which ignores
            # __wrapped__ but honours __signature__: expose the view's own.
            with contextlib.suppress(TypeError, ValueError):
                traced_view.__signature__ = inspect.signature(view)  # type: ignore[attr-defined]
            return traced_view

        return decorator


def _path_matcher(settings: TracingSettings) -> Callable[[str], object] | None:
    """One search function for all exclusion regexes (one alternation when flags agree)."""
    patterns = settings.exclude_paths
    if not patterns:
        return None
    flags = {pattern.flags for pattern in patterns}
    if len(flags) == 1:
        combined = "|".join(f"(?:{pattern.pattern})" for pattern in patterns)
        return re.compile(combined, flags.pop()).search

    def search(path: str) -> bool:
        return any(pattern.search(path) for pattern in patterns)

    return search


def current_tracing() -> Tracing | None:
    """The :class:`Tracing` of the request being served in the current context, or ``None``."""
    return cast("Tracing | None", current.get())


def get_tracing(request_or_registry: Any) -> Tracing:
    """The application's :class:`Tracing`.

    Args:
        request_or_registry: a request, or the application registry.

    Raises:
        LookupError: pyramid_tracing is not included in this application.
    """
    registry = getattr(request_or_registry, "registry", request_or_registry)
    tracing = getattr(registry, REGISTRY_ATTR, None)
    if tracing is None:
        msg = (
            "pyramid_tracing is not set up for this application: call "
            "config.include('pyramid_tracing') (or list it in pyramid.includes)."
        )
        raise LookupError(msg)
    return cast("Tracing", tracing)
