"""What the server span says: its tags at the start, and the request's result at the finish."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from opentracing.ext import tags as ext_tags
from pyramid.httpexceptions import HTTPException

from .._backends.base import Backend
from .._failures import failures
from .._naming import route_template
from .._semconv import BOTH, OPENTRACING, STABLE, server_start
from .._tags import TagPolicy
from .._urls import url_tag
from ..typing import Request, Response

__all__ = ["StartTags", "attribute_tags", "start_tags", "start_tags_builder", "tag_result"]

#: ``start_tags(request, method)``: the server span's start tags.
StartTags = Callable[[Request, str], dict[str, object]]


def start_tags(
    policy: TagPolicy,
    request: Request,
    method: str,
    request_headers: tuple[tuple[str, str], ...],
    semconv: str = OPENTRACING,
    kind_tag: bool = True,
) -> dict[str, object]:
    """The tags known before routing: component, kind, method, URL, captured headers.

    With ``semconv`` ``stable`` they are OpenTelemetry's instead (see :mod:`._semconv`);
    ``both`` gives both sets. ``kind_tag``: the stable set starts with ``span.kind``, which
    tells an OpenTracing tracer the kind (an OpenTelemetry span has the kind itself).
    """
    if semconv is STABLE:
        tags: dict[str, object] = (
            {ext_tags.SPAN_KIND: ext_tags.SPAN_KIND_RPC_SERVER} if kind_tag else {}
        )
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
    policy: TagPolicy,
    request_headers: tuple[tuple[str, str], ...],
    semconv: str,
    kind_tag: bool = True,
) -> StartTags:
    """:func:`start_tags` with this app's settings, as ``start_tags(request, method)``.

    The common case (OpenTracing's tags, no captured request header) skips the vocabulary
    and header tests: ``functools.partial`` binds the settings in C, with no frame of its own.
    """
    if semconv is not OPENTRACING or request_headers:
        return partial(
            start_tags,
            policy,
            request_headers=request_headers,
            semconv=semconv,
            kind_tag=kind_tag,
        )
    return partial(_opentracing_start_tags, policy)


def attribute_tags(
    policy: TagPolicy, request: Request, names: tuple[str, ...]
) -> dict[str, object]:
    """Each request attribute in ``names`` as a tag named after it.

    An attribute that is missing, ``None``, empty, or whose property raises is skipped.
    """
    tags: dict[str, object] = {}
    for name in names:
        try:
            value = getattr(request, name)
        except Exception:
            continue
        if value is None or value == "":
            continue
        try:
            tags[name] = policy.attribute(name, value)
        except Exception as exc:
            failures.report(f"recording the request attribute {name!r}", exc)
    return tags


def tag_result(
    backend: Backend,
    handle: Any,
    request: Request,
    response: Response | None,
    exception: BaseException | None,
    escaped: bool,
    response_headers: tuple[tuple[str, str], ...],
    semconv: str,
    policy: TagPolicy,
) -> None:
    """Tag the route, the status, the error and the captured response headers.

    In ``tracing.semconv``'s vocabulary: ``pyramid.route`` and ``http.status_code``
    (``opentracing``), ``http.response.status_code`` and ``error.type`` (``stable``), or
    both; ``http.route`` in all three.
    """
    route = getattr(request, "matched_route", None)
    status = _status(request, response, exception, escaped)
    tags: dict[str, object] = {}
    if route is not None:
        if semconv is not STABLE:
            tags["pyramid.route"] = route.name
        pattern = route_template(route)  # users' test doubles of routes may have none
        if pattern is not None:
            tags["http.route"] = pattern
    if status is not None:
        if semconv is not OPENTRACING:
            tags["http.response.status_code"] = status
        if semconv is not STABLE:
            tags[ext_tags.HTTP_STATUS_CODE] = status
    if tags:
        backend.set_attributes(handle, tags)
    failed = exception
    if failed is None and status is not None and status >= 500:
        handled = getattr(request, "exception", None)
        failed = handled if isinstance(handled, BaseException) else None
        if failed is None:
            backend.fail_with_status(handle, status)
    if failed is not None and (status is None or status >= 500):
        backend.record_error(handle, failed)
    if exception is None and response is not None and response_headers:
        headers = response.headers
        found: dict[str, object] = {}
        for name, tag in response_headers:
            value = headers.get(name)
            if value is not None:
                found[tag] = policy.header(name, value)
        if found:
            backend.set_attributes(handle, found)


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
