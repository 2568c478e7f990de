"""Tracing: a tracer tied to the settings; server spans for requests; the view decorator."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, Final, NamedTuple, TypeVar, cast

import attrs
import opentracing
from opentracing import Format, Scope, Span
from opentracing.ext import tags as ext_tags
from pyramid.httpexceptions import HTTPException
from pyramid.interfaces import IRequest
from pyramid.request import Request as PyramidRequest
from typing_extensions import ParamSpec
from webob import Response as WebObResponse

from ._carrier import (
    HeaderCarrier,
    context_header_check,
    empty_context_check,
    span_batch_type,
)
from ._failures import failures
from ._settings import TracingSettings
from ._shim import ServerSpanStarter, server_span_starter
from ._tags import TagPolicy, error_log, header_tags
from .typing import OperationNameFunc, Request, Response, StartSpanHook

__all__ = ["PyramidTracer", "PyramidTracing", "Tracing", "current_tracing"]

P = ParamSpec("P")
R = TypeVar("R")

# The request attribute holding its RequestTracing (a request method extension, see _request).
REQUEST_ATTR: Final = "tracing"
# Where a request without request.tracing keeps its state (requests that Pyramid's router did
# not make, such as a test's DummyRequest given to a decorated view).
SCOPE_ATTR: Final = "_pyramid_tracing_scope"

# The Tracing of the request being served in this context, for @traced and the outbound helpers.
# A ContextVar (not the request) because those run in code that has no request at hand.
_current: contextvars.ContextVar[Tracing | None] = contextvars.ContextVar(
    "pyramid_tracing.current_tracing", default=None
)

_SERVER_TAGS: Final = {
    ext_tags.COMPONENT: "pyramid",
    ext_tags.SPAN_KIND: ext_tags.SPAN_KIND_RPC_SERVER,
}
_EXPECTED_EXTRACT_ERRORS: Final = (
    opentracing.InvalidCarrierException,
    opentracing.SpanContextCorruptedException,
    opentracing.UnsupportedFormatException,
)


class _TracerChecks(NamedTuple):
    """What the hot path decided for one tracer (see :meth:`Tracing._checks`)."""

    tracer: object
    #: ``may_carry(environ)``: false when no header can carry a context (see _carrier).
    may_carry: Callable[[dict[str, Any]], bool] | None
    #: ``is_empty(context)``: true for an extracted context that is no context.
    is_empty: Callable[[object], bool] | None
    #: Starts the server span without the tracer's own activation (see _shim).
    starter: ServerSpanStarter | None


class RequestState:
    """What a request carries for tracing: its registry and its server scope.

    It lives in the request's ``__dict__`` (as ``request.tracing``, a
    :class:`~pyramid_tracing.RequestTracing`, or under :data:`SCOPE_ATTR`) and holds no
    reference back to the request, so the request is freed as soon as it is served.
    """

    __slots__ = ("_registry", "_scope")

    def __init__(self, registry: object) -> None:
        self._registry = registry
        self._scope: Scope | None = None


def request_state(request: Request) -> RequestState | None:
    """The :class:`RequestState` of ``request``, or ``None`` when it has none yet."""
    attrs = request.__dict__
    state = attrs.get(REQUEST_ATTR)
    if isinstance(state, RequestState):
        return state
    state = attrs.get(SCOPE_ATTR)
    return state if isinstance(state, RequestState) else None


def _state_for(request: Request) -> RequestState:
    """The :class:`RequestState` of ``request``, made when it has none."""
    state = request_state(request)
    if state is None:
        state = RequestState(getattr(request, "registry", None))
        request.__dict__[SCOPE_ATTR] = state
    return state


def current_tracing() -> Tracing | None:
    """The :class:`Tracing` of the request being served in the current context, or ``None``."""
    return _current.get()


def _name_by_route(request: Request) -> str:
    route = getattr(request, "matched_route", None)
    name: str = request.method if route is None else route.name
    return name


def _name_by_pattern(request: Request) -> str:
    route = getattr(request, "matched_route", None)
    name: str = request.method if route is None else route.pattern
    return name


def _name_by_method_route(request: Request) -> str:
    route = getattr(request, "matched_route", None)
    method: str = request.method
    return method if route is None else f"{method} {route.pattern}"


_NAMERS: Final[dict[str, OperationNameFunc]] = {
    "route_name": _name_by_route,
    "route_pattern": _name_by_pattern,
    "method_route": _name_by_method_route,
}


def _path_matcher(patterns: tuple[re.Pattern[str], ...]) -> Callable[[str], object] | None:
    """One search function for all exclusion regexes (one alternation when flags agree)."""
    if not patterns:
        return None
    flags = {pattern.flags for pattern in patterns}
    if len(flags) == 1:
        combined = "|".join(f"(?:{pattern.pattern})" for pattern in patterns)
        return re.compile(combined, flags.pop()).search

    def search(path: str) -> bool:
        return any(pattern.search(path) for pattern in patterns)

    return search


# The characters WebOb never quotes in a path: urllib's always-safe ones and its PATH_SAFE.
_PATH_CHARS: Final = r"[A-Za-z0-9_.~/!$&'()*+,;=:@-]"
_PLAIN_PATH: Final = re.compile(f"{_PATH_CHARS}*").fullmatch
# "Host SCRIPT_NAME+PATH_INFO" when WebOb's url keeps both as they are: a Host that is a name
# (no port, credentials, "?" or "#") and a path it would not quote. The space is in neither.
_PLAIN_HOST_AND_PATH: Final = re.compile(f"[A-Za-z0-9.-]+ {_PATH_CHARS}*").fullmatch


def _plain_path(environ: dict[str, Any]) -> str | None:
    """``SCRIPT_NAME + PATH_INFO`` when WebOb would leave it as it is, else ``None``."""
    script_name = environ.get("SCRIPT_NAME", "")
    path_info = environ.get("PATH_INFO")
    if isinstance(script_name, str) and isinstance(path_info, str):
        path = script_name + path_info
        if _PLAIN_PATH(path) is not None:
            return path
    return None


def request_path(request: Request) -> str:
    """``request.path``, without WebOb decoding, re-encoding and quoting a plain path."""
    path = _plain_path(request.environ)
    return cast("str", request.path) if path is None else path


def _request_url(request: Request) -> str:
    environ = request.environ
    path = _plain_path(environ)
    if path is not None:
        # What request.url returns, without WebOb decoding, re-encoding and quoting a path
        # that needs none of it.
        query = environ.get("QUERY_STRING")
        url = cast("str", request.host_url) + path
        return f"{url}?{query}" if query else url
    try:
        return cast("str", request.url)
    except UnicodeDecodeError:
        # A path that is not UTF-8 (hostile or broken clients): WebOb cannot decode it, but
        # the request is still served, so record its raw bytes percent-encoded instead.
        environ = request.environ
        raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
        query = environ.get("QUERY_STRING", "")
        url = request.host_url + urllib.parse.quote(raw, safe="/;=,@:!$&'()*+-._~")
        return f"{url}?{query}" if query else url


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


_S = TypeVar("_S")


def _under_parent_or_root(start: Callable[[Any], _S], parent: Any) -> _S:
    """``start(parent)``, or ``start(None)`` (a new root) when it fails under ``parent``.

    A context the tracer extracted but cannot use must not cost the request its span.
    """
    try:
        return start(parent)
    except Exception as exc:
        if parent is None:
            raise
        failures.report("starting the server span under the extracted context", exc)
        return start(None)


class Tracing:
    """Ties an OpenTracing tracer to the add-on's settings and traces requests with it.

    Args:
        tracer: the tracer. ``None`` means the tracer of ``settings``, else the OpenTracing
            global tracer (:func:`opentracing.global_tracer`), looked up at each use so that a
            tracer installed later is picked up.
        settings: the parsed settings; defaults apply when omitted.
        start_span_cb: called as ``start_span_cb(span, request)`` after a server span starts
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
        self._tracer = tracer if tracer is not None else settings.tracer
        self.settings: TracingSettings = settings
        self._start_span_hook = start_span_cb or settings.start_span_hook
        self._finish_span_hook = settings.finish_span_hook
        self._no_hooks = self._start_span_hook is None and self._finish_span_hook is None
        # Everything the hot path needs, computed once.
        self.policy = TagPolicy(
            sensitive_headers=settings.sensitive_headers,
            sensitive_query_params=settings.sensitive_query_params,
            max_tag_length=settings.max_tag_length,
        )
        operation_name = settings.operation_name
        self._name_request: OperationNameFunc = (
            _NAMERS[operation_name] if isinstance(operation_name, str) else operation_name
        )
        self._attributes = settings.traced_attributes
        self._request_headers = header_tags(
            "http.request.header.", settings.capture_request_headers
        )
        self._response_headers = header_tags(
            "http.response.header.", settings.capture_response_headers
        )
        self._excluded_path = _path_matcher(settings.exclude_paths)
        # The tracer the extraction shortcuts were decided for, and their checks (see _parent).
        self._tracer_checks = _TracerChecks(None, None, None, None)
        # The span class whose finish tags go in one call (see span_batch_type).
        self._batch_span_type: type | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} tracer={self._tracer!r}>"

    @property
    def tracer(self) -> opentracing.Tracer:
        """The tracer given, or else the OpenTracing global tracer at this moment."""
        tracer = self._tracer
        return opentracing.global_tracer() if tracer is None else tracer

    @property
    def _start_span_cb(self) -> StartSpanHook | None:
        # The attribute name pyramid_opentracing 1.0 used.
        return self._start_span_hook

    def get_span(self, request: Request) -> Span | None:
        """The server span of ``request``, or ``None`` when it is not traced (or finished)."""
        state = request_state(request)
        scope = None if state is None else state._scope
        return None if scope is None else scope.span

    def is_excluded(self, request: Request) -> bool:
        """Whether ``tracing.exclude_paths`` excludes ``request`` (matched on ``request.path``)."""
        excluded = self._excluded_path
        return excluded is not None and excluded(request_path(request)) is not None

    # -- server spans ------------------------------------------------------------------------

    def _checks(self, tracer: opentracing.Tracer) -> _TracerChecks:
        checks = self._tracer_checks
        if checks.tracer is not tracer:
            # Decided once per tracer; one object, so that a thread never pairs a tracer with
            # the checks of another (the global tracer may change while requests are served).
            checks = _TracerChecks(
                tracer,
                context_header_check(tracer),
                empty_context_check(tracer),
                server_span_starter(tracer),
            )
            self._tracer_checks = checks
            self._batch_span_type = span_batch_type(tracer)
        return checks

    @staticmethod
    def _extract(
        tracer: opentracing.Tracer, request: Request, is_empty: Callable[[object], bool] | None
    ) -> Any:
        try:
            carrier = cast("dict[str, str]", HeaderCarrier(request.environ))
            context = tracer.extract(Format.HTTP_HEADERS, carrier)
            return None if is_empty is not None and is_empty(context) else context
        except _EXPECTED_EXTRACT_ERRORS:
            return None
        except Exception as exc:
            failures.report("extracting the trace context from the request headers", exc)
            return None

    def start_server_span(self, request: Request) -> Scope | None:
        """Start and activate the server span of ``request``; ``None`` if the tracer fails.

        The span's operation name is the HTTP method until :meth:`finish_server_span` renames
        it, because the route is only known after routing.
        """
        return self._start_server_span(request, _state_for(request))

    def _start_server_span(self, request: Request, state: RequestState) -> Scope | None:
        try:
            tracer = self._tracer
            if tracer is None:
                tracer = opentracing.global_tracer()
            if type(tracer) is opentracing.Tracer:
                # OpenTracing's own no-op tracer (the default global tracer): its spans drop
                # every tag and context, so none is extracted or built.
                scope = tracer.start_active_span(
                    request.method, finish_on_close=True, ignore_active_span=True
                )
            else:
                checks = self._tracer_checks
                if checks.tracer is not tracer:
                    checks = self._checks(tracer)
                starter = checks.starter
                if starter is not None:
                    scope = self._start_direct(checks, starter, request)
                else:
                    active = tracer.scope_manager.active
                    if active is not None:
                        # An outer WSGI layer already traces this request: nest under it.
                        parent = active.span
                    elif checks.may_carry is None or checks.may_carry(request.environ):
                        parent = self._extract(tracer, request, checks.is_empty)
                    else:
                        parent = None  # no header that this tracer reads: nothing to extract
                    name = request.method
                    scope = self._start_active(tracer, name, parent, self._tags(request, name))
        except Exception as exc:
            failures.report("starting the server span", exc)
            return None
        state._scope = scope
        hook = self._start_span_hook
        if hook is not None:
            try:
                hook(scope.span, request)
            except Exception as exc:
                failures.report("the start_span_hook", exc)
        return scope

    def _tags(self, request: Request, method: str) -> dict[str, object]:
        policy = self.policy
        tags: dict[str, object] = {
            **_SERVER_TAGS,
            # The method is the client's to choose (any token, any length): cut it like the rest.
            ext_tags.HTTP_METHOD: policy.truncate(method),
            ext_tags.HTTP_URL: self._url_tag(request),
        }
        if self._request_headers:
            headers = request.headers
            for name, tag in self._request_headers:
                value = headers.get(name)
                if value is not None:
                    tags[tag] = policy.header(name, value)
        return tags

    def _url_tag(self, request: Request) -> str:
        """``policy.url(request.url)``, building and redacting a plain URL in one pass."""
        policy = self.policy
        environ = request.environ
        host = environ.get("HTTP_HOST")
        script_name = environ.get("SCRIPT_NAME", "")
        path_info = environ.get("PATH_INFO")
        scheme = environ.get("wsgi.url_scheme")
        if (
            type(host) is str
            and type(script_name) is str
            and type(path_info) is str
            and type(scheme) is str
            and _PLAIN_HOST_AND_PATH(f"{host} {script_name}{path_info}") is not None
        ):
            # What WebOb's url is for a plain path and a Host without a port, credentials,
            # "?" or "#": nothing to quote, nothing to strip, and the query starts at "?".
            query = environ.get("QUERY_STRING")
            url = None
            if not query:
                url = f"{scheme}://{host}{script_name}{path_info}"
            elif "@" not in query and "#" not in query:
                url = f"{scheme}://{host}{script_name}{path_info}?{policy.query_string(query)}"
            if url is not None:
                return url if len(url) <= policy.max_tag_length else policy.truncate(url)
        return policy.url(_request_url(request))

    def _start_direct(
        self, checks: _TracerChecks, starter: ServerSpanStarter, request: Request
    ) -> Scope:
        """Start the span with ``starter``, which finds the active parent on its own."""
        tracer = cast("opentracing.Tracer", checks.tracer)
        may_carry = checks.may_carry
        parent = None  # the starter nests the span under the current span, if any
        if (may_carry is None or may_carry(request.environ)) and not starter.nests():
            parent = self._extract(tracer, request, checks.is_empty)
        name = request.method
        tags = self._tags(request, name)
        scope = _under_parent_or_root(lambda parent: starter(name, parent, tags), parent)
        # None: a parent of a kind the starter does not handle; the tracer's own path does.
        return self._start_active(tracer, name, parent, tags) if scope is None else scope

    @staticmethod
    def _start_active(
        tracer: opentracing.Tracer, name: str, parent: Any, tags: dict[str, object]
    ) -> Scope:
        if parent is None:
            return tracer.start_active_span(
                name, tags=tags, finish_on_close=True, ignore_active_span=True
            )

        def start(parent: Any) -> Scope:
            return tracer.start_active_span(
                name, child_of=parent, tags=tags, finish_on_close=True, ignore_active_span=True
            )

        scope: Scope = _under_parent_or_root(start, parent)
        return scope

    def finish_server_span(
        self,
        scope: Scope,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        attributes: tuple[str, ...] = (),
    ) -> None:
        """Name, tag and finish the server span of ``request``; never raises."""
        state = request_state(request)
        if state is not None:
            state._scope = None
        self._finish_server_span(scope, request, response, exception, attributes)

    def _finish_server_span(
        self,
        scope: Scope,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        attributes: tuple[str, ...],
    ) -> None:
        span = scope.span
        # OpenTracing's own no-op span drops every tag: build none.
        if type(span) is not Span:
            try:
                self._tag_result(span, request, response, exception)
                if attributes or self._attributes:
                    self.tag_attributes(span, request, self._attributes + attributes)
            except Exception as exc:
                failures.report("tagging the server span", exc)
        hook = self._finish_span_hook
        if hook is not None:
            try:
                hook(span, request, response, exception)
            except Exception as exc:
                failures.report("the finish_span_hook", exc)
        try:
            scope.close()
        except Exception as exc:
            failures.report("finishing the server span", exc)

    def _tag_result(
        self,
        span: Span,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
    ) -> None:
        try:
            name = self._name_request(request)
        except Exception as exc:
            failures.report("the operation_name callable", exc)
            name = request.method
        span.set_operation_name(self.policy.truncate(name))
        route = getattr(request, "matched_route", None)
        if exception is None and response is not None and type(span) is self._batch_span_type:
            # The OpenTelemetry shim: one set_attributes call on its span (one lock, one
            # validation pass) instead of a set_tag, each with both, per tag.
            status = response.status_code
            span.unwrap().set_attributes(  # type: ignore[attr-defined]
                {ext_tags.HTTP_STATUS_CODE: status}
                if route is None
                else {
                    "pyramid.route": route.name,
                    "http.route": route.pattern,
                    ext_tags.HTTP_STATUS_CODE: status,
                }
            )
            if status >= 500 or self._response_headers:
                self._tag_response(span, request, response, status)
            return
        if route is not None:
            span.set_tag("pyramid.route", route.name)
            span.set_tag("http.route", route.pattern)
        if exception is not None:
            if isinstance(exception, HTTPException):
                status = exception.code
                span.set_tag(ext_tags.HTTP_STATUS_CODE, status)
                if status < 500:
                    return
            self.tag_error(span, exception)
            return
        if response is None:
            return
        status = response.status_code
        span.set_tag(ext_tags.HTTP_STATUS_CODE, status)
        if status >= 500 or self._response_headers:
            self._tag_response(span, request, response, status)

    def _tag_response(self, span: Span, request: Request, response: Response, status: int) -> None:
        if status >= 500:
            handled = getattr(request, "exception", None)
            if isinstance(handled, BaseException):
                self.tag_error(span, handled)
            else:
                span.set_tag(ext_tags.ERROR, True)
        if self._response_headers:
            headers = response.headers
            policy = self.policy
            for name, tag in self._response_headers:
                value = headers.get(name)
                if value is not None:
                    span.set_tag(tag, policy.header(name, value))

    def tag_error(self, span: Span, exception: BaseException) -> None:
        """Mark ``span`` as failed and log ``exception`` with the OpenTracing error fields."""
        span.set_tag(ext_tags.ERROR, True)
        span.log_kv(error_log(exception, self.policy))

    def tag_attributes(self, span: Span, request: Request, attributes: tuple[str, ...]) -> None:
        """Set each request attribute in ``attributes`` as a tag named after it.

        An attribute that is missing, ``None``, empty, or whose property raises is skipped.
        """
        policy = self.policy
        for name in attributes:
            try:
                value = getattr(request, name)
            except Exception:
                continue
            if value is None or value == "":
                continue
            try:
                span.set_tag(name, policy.attribute(name, value))
            except Exception as exc:
                failures.report(f"recording the request attribute {name!r}", exc)

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
                state = request_state(request)
                existing = None if state is None else state._scope
                if existing is not None:
                    try:
                        self.tag_attributes(existing.span, request, names)
                    except Exception as exc:
                        failures.report("tagging the server span", exc)
                    return view(*args, **kwargs)
                return self._run_traced(request, names, view, args, kwargs)

            # Pyramid picks (request) or (context, request) with getfullargspec, which ignores
            # __wrapped__ but honours __signature__: expose the view's own.
            with contextlib.suppress(TypeError, ValueError):
                traced_view.__signature__ = inspect.signature(view)  # type: ignore[attr-defined]
            return traced_view

        return decorator

    def _run_traced(
        self,
        request: Request,
        attributes: tuple[str, ...],
        view: Callable[..., R],
        args: tuple[object, ...],
        kwargs: dict[str, Any],
    ) -> R:
        """Call ``view`` inside the server span of ``request`` (the tween and decorator path).

        The traced part runs in a copy of the current context, so the context is left exactly
        as found even when a faulty tracer or scope manager leaves a span active (a scope whose
        close() raises before deactivating, an activation that raises after activating): the
        next request served by the same thread never sees it. ContextVars the view sets are
        not visible after the view returns, as with each request of an asyncio server.
        """
        run = self._run_traced_here
        if self._no_hooks:
            tracer = self._tracer
            if tracer is None:
                tracer = opentracing.global_tracer()
            if type(tracer) is opentracing.Tracer:
                run = self._run_untagged
        return contextvars.copy_context().run(run, request, attributes, view, args, kwargs)

    def _run_untagged(
        self,
        request: Request,
        attributes: tuple[str, ...],
        view: Callable[..., R],
        args: tuple[object, ...],
        kwargs: dict[str, Any],
    ) -> R:
        # OpenTracing's own no-op tracer and no hooks: nothing can read a tag, so none is
        # built, and the no-op scope cannot fail. The span is still the request's span.
        state = _state_for(request)
        state._scope = self.tracer.start_active_span(
            request.method, finish_on_close=True, ignore_active_span=True
        )
        _current.set(self)  # in the context copy made by _run_traced: it dies with it
        try:
            return view(*args, **kwargs)
        finally:
            state._scope = None

    def _run_traced_here(
        self,
        request: Request,
        attributes: tuple[str, ...],
        view: Callable[..., R],
        args: tuple[object, ...],
        kwargs: dict[str, Any],
    ) -> R:
        state = request.__dict__.get(REQUEST_ATTR)
        if not isinstance(state, RequestState):
            state = _state_for(request)
        scope = self._start_server_span(request, state)
        if scope is None:
            return view(*args, **kwargs)
        _current.set(self)  # in the context copy made by _run_traced: it dies with it
        try:
            result = view(*args, **kwargs)
        except BaseException as exc:
            state._scope = None
            self._finish_server_span(scope, request, None, exc, attributes)
            raise
        # A view with a renderer returns a dict: its status is then on request.response.
        # isinstance first: it spares the happy path WebOb's status_code property.
        is_response = isinstance(result, WebObResponse) or hasattr(result, "status_code")
        response = result if is_response else request.response
        state._scope = None
        self._finish_server_span(scope, request, response, None, attributes)
        return result


class PyramidTracing(Tracing):
    """The ``pyramid_opentracing`` 1.0 class, kept so that old code runs unchanged.

    ``PyramidTracing(tracer, start_span_cb)`` is ``Tracing(tracer, start_span_cb=...)``.
    """

    def __init__(
        self,
        tracer: opentracing.Tracer | None = None,
        start_span_cb: StartSpanHook | None = None,
        *,
        settings: TracingSettings | None = None,
    ) -> None:
        super().__init__(tracer, settings=settings, start_span_cb=start_span_cb)


class PyramidTracer(Tracing):
    """The ``pyramid_opentracing`` 0.x class (a deprecated alias in 1.0), kept for old code.

    Accepts both old signatures: ``PyramidTracer(tracer, trace_all, operation_name_func)``
    (0.x) and ``PyramidTracer(tracer, start_span_cb)`` (1.0). ``trace_all`` is accepted and
    ignored: the decorator never creates a second span for a request the tween traces.
    """

    def __init__(
        self,
        tracer: opentracing.Tracer | None = None,
        trace_all: bool | StartSpanHook | None = None,
        operation_name_func: OperationNameFunc | None = None,
        *,
        start_span_cb: StartSpanHook | None = None,
        settings: TracingSettings | None = None,
    ) -> None:
        if callable(trace_all) and start_span_cb is None:
            # 1.0's PyramidTracer was PyramidTracing: the second argument was the callback.
            start_span_cb = trace_all
        if operation_name_func is not None:
            base = settings if settings is not None else TracingSettings()
            settings = attrs.evolve(base, operation_name=operation_name_func)
        super().__init__(tracer, settings=settings, start_span_cb=start_span_cb)
