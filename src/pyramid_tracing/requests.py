"""Tracing for outbound calls made with :mod:`requests` (the ``requests`` extra).

``traced_requests_session()`` returns a :class:`requests.Session` whose every request actually
sent is a client span, child of the active span, with the trace context in its headers.
"""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any, Final, cast

try:
    import requests
    from requests.adapters import BaseAdapter
    from requests.structures import CaseInsensitiveDict
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    msg = (
        "pyramid_tracing.traced_requests_session needs the requests package, which is not "
        "installed: pip install 'pyramid_tracing[requests]'"
    )
    raise ImportError(msg, name=exc.name) from exc

import opentracing

from ._failures import failures
from ._outbound import Outbound, check_tracing
from ._tracing import Tracing

__all__ = ["traced_requests_session"]

# Where the app's shared session is cached: on the app's Tracing, which lives as long as the app.
_APP_SESSION_ATTR: Final = "_pyramid_tracing_requests_session"
_app_session_lock = threading.Lock()


class _TracedSend:
    """Replaces an adapter's ``send``: one client span for each request the adapter sends.

    Hooking in at the adapter (not ``Session.request``) is what makes each redirect hop and
    each request resent by an auth handler a span of its own.
    """

    __slots__ = ("outbound", "send")

    def __init__(self, send: Any, outbound: Outbound) -> None:
        self.send = send
        self.outbound = outbound

    def __call__(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        send = self.send
        call = self.outbound.start(request.method or "GET", request.url or "")
        if call is None:
            return send(request, *args, **kwargs)  # type: ignore[no-any-return]  # adapter API
        sent = _with_headers(request, call.headers)
        try:
            response: requests.Response = send(sent, *args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.finish(response.status_code)
        if response.request is sent:
            # As if untraced: the response points at the caller's request, which the trace
            # headers never touched (redirects are then built from a clean copy too).
            response.request = request
        return response


def _with_headers(
    request: requests.PreparedRequest, trace: Mapping[str, str]
) -> requests.PreparedRequest:
    """A copy of ``request`` that also carries the ``trace`` headers; ``request`` is unchanged."""
    if not trace:
        return request
    try:
        sent = request.copy()
        headers = CaseInsensitiveDict(sent.headers or {})
        headers.update(trace)
        sent.headers = headers
    except Exception as exc:
        failures.report("adding the trace headers to an outbound request", exc)
        return request
    return sent


class _TracedMount:
    """Replaces a session's ``mount`` so that adapters mounted later are traced too."""

    __slots__ = ("mount", "outbound")

    def __init__(self, mount: Any, outbound: Outbound) -> None:
        self.mount = mount
        self.outbound = outbound

    def __call__(self, prefix: str | bytes, adapter: BaseAdapter) -> None:
        _trace_adapter(adapter, self.outbound)
        self.mount(prefix, adapter)


def _trace_adapter(adapter: BaseAdapter, outbound: Outbound) -> None:
    send = adapter.__dict__.get("send")
    if isinstance(send, _TracedSend):
        # Traced already (the session was wrapped again): trace with the new settings once.
        send.outbound = outbound
        return
    adapter.send = _TracedSend(adapter.send, outbound)  # type: ignore[method-assign]  # hook


def traced_requests_session(
    tracing: Tracing | opentracing.Tracer | None = None,
    *,
    session: requests.Session | None = None,
    tags: Mapping[str, object] | None = None,
) -> requests.Session:
    """A :class:`requests.Session` that traces every request it sends.

    Each HTTP request actually sent (each redirect hop and each request resent by an auth
    handler too) is a client span named ``HTTP <METHOD>``, child of the active span, with the
    tags ``span.kind=client``, ``component=requests``, ``http.method``, ``http.url`` (without
    user:password, with the values of sensitive query parameters redacted), ``peer.hostname``,
    ``peer.port`` and ``http.status_code``, plus ``tags``. The trace context goes into a copy
    of the outgoing headers (``tracer.inject`` with ``Format.HTTP_HEADERS``): the caller's
    headers are never changed.

    A connection error or timeout tags the span with ``error=true`` and the error log fields
    and propagates unchanged; a 5xx response tags ``error=true`` and is returned unchanged.
    A tracer failure is logged and the request is sent anyway. The span ends when the
    response headers have arrived: the body of a ``stream=True`` response is read after it.

    The hook is the ``send`` of the session's transport adapters (kept as they are, with their
    retries, and adapters mounted later included); urllib3's own retries inside one adapter
    call (``HTTPAdapter(max_retries=...)``) are part of that call's span.

    Args:
        tracing: the :class:`~pyramid_tracing.Tracing` or tracer to use when no request is
            being served in the current context; the served request's tracer wins, so that
            the client spans join its trace. ``None`` means the OpenTracing global tracer.
        session: a session to trace in place (its adapters, auth and settings are kept)
            instead of a new one.
        tags: tags set on every client span.

    Returns:
        The traced session (``session`` itself when given).

    Raises:
        TypeError: an argument has the wrong type.
    """
    tracing, extra_tags = check_tracing("traced_requests_session", tracing, tags)
    if session is None:
        session = requests.Session()
    elif not isinstance(cast("object", session), requests.Session):
        msg = f"traced_requests_session() takes a requests.Session as session, got {session!r}"
        raise TypeError(msg)
    outbound = Outbound(tracing, "requests", extra_tags)
    for adapter in session.adapters.values():
        _trace_adapter(adapter, outbound)
    mount = session.__dict__.get("mount")
    if isinstance(mount, _TracedMount):
        mount.outbound = outbound
    else:
        session.mount = _TracedMount(session.mount, outbound)  # type: ignore[method-assign]
    return session


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Stores no cookie.

    A session shared by every request of an app must not carry one user's cookies into
    another user's calls.
    """

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


def _app_session(tracing: Tracing) -> requests.Session:
    """The traced session of the app whose Tracing is ``tracing``, made on first use."""
    session: requests.Session | None = getattr(tracing, _APP_SESSION_ATTR, None)
    if session is not None:
        return session
    with _app_session_lock:
        session = getattr(tracing, _APP_SESSION_ATTR, None)
        if session is None:
            session = traced_requests_session(tracing)
            session.cookies.set_policy(_NoCookies())
            setattr(tracing, _APP_SESSION_ATTR, session)
    return session
