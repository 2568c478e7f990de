"""What the server span says: its tags at the start, and the request's result at the finish."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from opentracing import Span
from opentracing.ext import tags as ext_tags
from pyramid.httpexceptions import HTTPException

from ._naming import route_template
from ._semconv import BOTH, OPENTRACING, STABLE, fail_with_status, record_error, server_start
from ._tags import TagPolicy
from ._urls import url_tag
from .typing import Request, Response

if TYPE_CHECKING:
    from ._tracing import Tracing

__all__ = ["StartTags", "start_tags", "start_tags_builder", "tag_result"]

#: ``start_tags(request, method)``: the server span's start tags.
StartTags = Callable[[Request, str], dict[str, object]]


def start_tags(
    policy: TagPolicy,
    request: Request,
    method: str,
    request_headers: tuple[tuple[str, str], ...],
    semconv: str = OPENTRACING,
) -> dict[str, object]:
    """The tags known before routing: component, kind, method, URL, captured headers.

    With ``semconv`` ``stable`` they are OpenTelemetry's instead (see :mod:`._semconv`);
    ``both`` gives both sets.
    """
    if semconv is STABLE:
        # span.kind for OpenTracing tracers; the OpenTelemetry one drops it (otel.py).
        tags: dict[str, object] = {ext_tags.SPAN_KIND: ext_tags.SPAN_KIND_RPC_SERVER}
        tags.update(server_start(policy, request, method))
    else:
        tags = _opentracing_start_tags(policy, request, method)
        if semconv is BOTH:
            tags.update(server_start(policy, request, method))
    if request_headers:
        headers = request.headers
        for name, tag in request_headers:
            value = headers.get(name)
            if value is not None:
                tags[tag] = policy.header(name, value)
    return tags


def _opentracing_start_tags(policy: TagPolicy, request: Request, method: str) -> dict[str, object]:
    # ext_tags' COMPONENT, SPAN_KIND (SPAN_KIND_RPC_SERVER), HTTP_METHOD and HTTP_URL, written
    # out: one dict display.
    return {
        "component": "pyramid",
        "span.kind": "server",
        # The method is the client's to choose (any token, any length): cut it too (the
        # length test first, as for the URL: one call fewer on every request).
        "http.method": (
            method if len(method) <= policy.max_tag_length else policy.truncate(method)
        ),
        "http.url": url_tag(policy, request),
    }


def start_tags_builder(
    policy: TagPolicy, request_headers: tuple[tuple[str, str], ...], semconv: str
) -> StartTags:
    """:func:`start_tags` with this app's settings, as ``start_tags(request, method)``.

    The common case (OpenTracing's tags, no captured request header) skips the vocabulary
    and header tests: ``functools.partial`` binds the settings in C, with no frame of its own.
    """
    if semconv is not OPENTRACING or request_headers:
        return partial(start_tags, policy, request_headers=request_headers, semconv=semconv)
    return partial(_opentracing_start_tags, policy)


def tag_result(
    tracing: Tracing,
    span: Span,
    request: Request,
    response: Response | None,
    exception: BaseException | None,
    escaped: bool,
    batch_type: type | None,
    response_headers: tuple[tuple[str, str], ...],
    semconv: str = OPENTRACING,
) -> None:
    """Tag the route, the status, the error and the captured response headers."""
    if semconv is not OPENTRACING:
        _tag_result_stable(
            tracing, span, request, response, exception, escaped, response_headers, semconv
        )
        return
    route = getattr(request, "matched_route", None)
    status = _status(request, response, exception, escaped)
    pattern = None
    if route is not None:
        pattern = route_template(route)  # users' test doubles of routes may have none
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


def _status(
    request: Request,
    response: Response | None,
    exception: BaseException | None,
    escaped: bool,
) -> int | None:
    if exception is not None:
        if isinstance(exception, HTTPException):
            return int(exception.code)
        return 500 if escaped else None
    if response is None:
        return None
    status = getattr(response, "status_code", None)
    # Not a WebOb response (a test double): the one Pyramid would send.
    return request.response.status_code if status is None else status  # type: ignore[no-any-return]


def _tag_result_stable(
    tracing: Tracing,
    span: Span,
    request: Request,
    response: Response | None,
    exception: BaseException | None,
    escaped: bool,
    response_headers: tuple[tuple[str, str], ...],
    semconv: str,
) -> None:
    """:func:`tag_result` in OpenTelemetry's vocabulary (and OpenTracing's with ``both``)."""
    both = semconv is BOTH
    route = getattr(request, "matched_route", None)
    status = _status(request, response, exception, escaped)
    if route is not None:
        if both:
            span.set_tag("pyramid.route", route.name)
        pattern = route_template(route)
        if pattern is not None:
            span.set_tag("http.route", pattern)
    if status is not None:
        span.set_tag("http.response.status_code", status)
        if both:
            span.set_tag(ext_tags.HTTP_STATUS_CODE, status)
    failed = exception
    if failed is None and status is not None and status >= 500:
        handled = getattr(request, "exception", None)
        failed = handled if isinstance(handled, BaseException) else None
        if failed is None:
            fail_with_status(span, status)
    if failed is not None and (status is None or status >= 500):
        if both:
            tracing.tag_error(span, failed)
        record_error(span, failed, tracing.policy)
    if exception is None and response is not None and response_headers:
        _tag_response_headers(span, response, tracing.policy, response_headers)


def _tag_response_headers(
    span: Span, response: Response, policy: TagPolicy, names: tuple[tuple[str, str], ...]
) -> None:
    headers = response.headers
    for name, tag in names:
        value = headers.get(name)
        if value is not None:
            span.set_tag(tag, policy.header(name, value))
