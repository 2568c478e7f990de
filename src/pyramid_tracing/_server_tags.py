"""What the server span says: its tags at the start, and the request's result at the finish."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from opentracing import Span
from opentracing.ext import tags as ext_tags
from pyramid.httpexceptions import HTTPException

from ._tags import TagPolicy
from ._urls import url_tag
from .typing import Request, Response

if TYPE_CHECKING:
    from ._tracing import Tracing

__all__ = ["start_tags", "tag_result"]

_SERVER_TAGS: Final = {
    ext_tags.COMPONENT: "pyramid",
    ext_tags.SPAN_KIND: ext_tags.SPAN_KIND_RPC_SERVER,
}


def start_tags(
    policy: TagPolicy,
    request: Request,
    method: str,
    request_headers: tuple[tuple[str, str], ...],
) -> dict[str, object]:
    """The tags known before routing: component, kind, method, URL, captured headers."""
    tags: dict[str, object] = {
        **_SERVER_TAGS,
        # The method is the client's to choose (any token, any length): cut it like the rest.
        ext_tags.HTTP_METHOD: policy.truncate(method),
        ext_tags.HTTP_URL: url_tag(policy, request),
    }
    if request_headers:
        headers = request.headers
        for name, tag in request_headers:
            value = headers.get(name)
            if value is not None:
                tags[tag] = policy.header(name, value)
    return tags


def tag_result(
    tracing: Tracing,
    span: Span,
    request: Request,
    response: Response | None,
    exception: BaseException | None,
    escaped: bool,
    batch_type: type | None,
    response_headers: tuple[tuple[str, str], ...],
) -> None:
    """Tag the route, the status, the error and the captured response headers."""
    route = getattr(request, "matched_route", None)
    status: int | None = None
    if exception is not None:
        if isinstance(exception, HTTPException):
            status = exception.code
        elif escaped:
            status = 500
    elif response is not None:
        status = getattr(response, "status_code", None)
        if status is None:
            # Not a WebOb response (a test double): the one Pyramid would send.
            status = request.response.status_code
    pattern = None
    if route is not None:
        try:
            pattern = route.pattern
        except AttributeError:  # users' test doubles of routes may have none
            pattern = None
    if type(span) is batch_type:
        # The OpenTelemetry shim: one set_attributes call on its span (one lock, one
        # validation pass) instead of a set_tag, each with both, per tag.
        tags: dict[str, str | int] = {}
        if route is not None:
            tags["pyramid.route"] = route.name
            if pattern is not None:
                tags["http.route"] = pattern
        if status is not None:
            tags[ext_tags.HTTP_STATUS_CODE] = status
        span.unwrap().set_attributes(tags)  # type: ignore[attr-defined]
    else:
        if route is not None:
            span.set_tag("pyramid.route", route.name)
            if pattern is not None:
                span.set_tag("http.route", pattern)
        if status is not None:
            span.set_tag(ext_tags.HTTP_STATUS_CODE, status)
    if exception is not None:
        if status is None or status >= 500:
            tracing.tag_error(span, exception)
        return
    if response is not None and status is not None:
        if status >= 500:
            handled = getattr(request, "exception", None)
            if isinstance(handled, BaseException):
                tracing.tag_error(span, handled)
            else:
                span.set_tag(ext_tags.ERROR, True)
        if response_headers:
            _tag_response_headers(span, response, tracing.policy, response_headers)


def _tag_response_headers(
    span: Span, response: Response, policy: TagPolicy, names: tuple[tuple[str, str], ...]
) -> None:
    headers = response.headers
    for name, tag in names:
        value = headers.get(name)
        if value is not None:
            span.set_tag(tag, policy.header(name, value))
