"""The tween that traces every request."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, Final

from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import IRoutesMapper

from ._body import cover_body
from ._config import setup_tracing
from ._state import REQUEST_ATTR, RequestState, state_for
from ._urls import request_path
from .typing import Request, Response

__all__ = ["opentracing_tween_factory", "tracing_tween_factory"]

Handler = Callable[[Request], Response]
_NO_KWARGS: Final[dict[str, Any]] = {}


def _route_excluder(registry: Any, names: frozenset[str]) -> Callable[[Request], bool] | None:
    """A check for ``tracing.exclude_routes`` that does not match routes twice in general.

    The route patterns of the excluded routes pre-filter the path; only a path that one of
    them matches pays for a full route lookup (which settles route order and predicates).
    """
    if not names:
        return None
    mapper = registry.queryUtility(IRoutesMapper)
    found = {name: None if mapper is None else mapper.get_route(name) for name in sorted(names)}
    missing = [name for name, route in found.items() if route is None]
    if missing:
        msg = (
            f"Invalid value for setting 'tracing.exclude_routes': {sorted(names)!r}. "
            f"No route is named {', '.join(map(repr, missing))}."
        )
        raise ConfigurationError(msg)
    routes = [route for route in found.values() if route is not None]

    def excluded(request: Request) -> bool:
        path = request.path_info or "/"
        for route in routes:
            if route.match(path) is not None:
                matched = mapper(request)["route"]
                return matched is not None and matched.name in names
        return False

    return excluded


def tracing_tween_factory(handler: Handler, registry: Any) -> Handler:
    """The Pyramid tween factory; ``config.include('pyramid_tracing')`` registers it.

    Its dotted name, ``pyramid_tracing.tracing_tween_factory``, is what to list in an
    explicit ``pyramid.tweens`` setting. With ``tracing.trace_all = false`` it returns
    ``handler`` itself, so disabled tracing costs nothing.
    """
    tracing = setup_tracing(registry)
    if not tracing.settings.trace_all:
        return handler
    tracing._served_by_tween = True
    excluded_path = tracing._excluded_path
    excluded_route = _route_excluder(registry, tracing.settings.exclude_routes)
    spans = tracing._spans
    run = spans.run
    copy_context = contextvars.copy_context
    measure = spans.measure_excluded

    def tracing_tween(request: Request) -> Response:
        if (excluded_path is not None and excluded_path(request_path(request)) is not None) or (
            excluded_route is not None and excluded_route(request)
        ):
            return handler(request) if measure is None else measure(request, handler)
        state = request.__dict__.get(REQUEST_ATTR)  # request.tracing, bound per request
        if not isinstance(state, RequestState):
            state = state_for(request)
        # A context copy per request: see ServerSpans.run.
        ctx = copy_context()
        response = ctx.run(run, request, state, handler, (request,), _NO_KWARGS, False, ())
        if state._scope is not None:  # a streamed body: its span ends when it is closed
            return cover_body(ctx, spans, state, request, response)
        return response

    return tracing_tween


#: The ``pyramid_opentracing`` name of the tween factory, for explicit ``pyramid.tweens`` lists
#: (the one piece of pyramid_opentracing compatibility outside _compat: it is this function).
opentracing_tween_factory = tracing_tween_factory
