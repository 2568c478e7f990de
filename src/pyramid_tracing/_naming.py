"""The server span's operation name: after the route, or the traversal view, never a bare path.

Names must have a low cardinality (backends index and group by them), so they come from the
route or the view the application declared, never from the URL itself.
"""

from __future__ import annotations

from typing import Final

from pyramid.traversal import DefaultRootFactory

from .typing import OperationNameFunc, Request

__all__ = ["namer", "route_template"]


def route_template(route: object) -> str | None:
    """The matched route's pattern with one leading ``/``, or None for a route without one.

    Pyramid matches every pattern as if it started with ``/``, but stores it as written: a
    route added under ``config.include(..., route_prefix='v1')`` has the pattern
    ``v1/buckets``. Span names and ``http.route`` show ``/v1/buckets``, as the request does.
    """
    pattern: str | None = getattr(route, "pattern", None)
    if pattern is None or pattern[:1] == "/":
        return pattern
    return "/" + pattern


def _traversal_name(request: Request) -> str:
    """``{method} {view name}`` (or the context class) for a view found by traversal.

    Only for a request that reached a view without a route and without an exception: a 404
    under traversal has a view name too, taken from the URL, and must not become a name.
    """
    method: str = request.method
    if getattr(request, "exception", None) is not None:
        return method
    context = getattr(request, "context", None)
    if context is None:
        return method
    view_name = getattr(request, "view_name", "")
    if isinstance(view_name, str) and view_name:
        return f"{method} {view_name}"
    if isinstance(context, DefaultRootFactory):
        return method  # no resource tree: a plain root view, not traversal
    return f"{method} {type(context).__name__}"


def _name_by_route(request: Request) -> str:
    route = getattr(request, "matched_route", None)
    if route is None:
        return _traversal_name(request)
    name: str = route.name
    return name


def _name_by_pattern(request: Request) -> str:
    route = getattr(request, "matched_route", None)
    if route is None:
        return _traversal_name(request)
    pattern = route_template(route)
    name: str = route.name if pattern is None else pattern
    return name


def _name_by_method_route(request: Request) -> str:
    route = getattr(request, "matched_route", None)
    if route is None:
        return _traversal_name(request)
    pattern = route_template(route)
    return f"{request.method} {route.name if pattern is None else pattern}"


_NAMERS: Final[dict[str, OperationNameFunc]] = {
    "route_name": _name_by_route,
    "route_pattern": _name_by_pattern,
    "method_route": _name_by_method_route,
}


def namer(operation_name: str | OperationNameFunc) -> OperationNameFunc:
    """The naming function for the ``tracing.operation_name`` setting's parsed value."""
    return _NAMERS[operation_name] if isinstance(operation_name, str) else operation_name
