"""Tracing for outbound calls made with :mod:`httpx`, sync and async (the ``httpx`` extra).

The clients are plain :class:`httpx.Client` / :class:`httpx.AsyncClient` objects whose
transports are wrapped by a tracing transport (httpx's public transport API): each request
actually sent, each redirect hop included, is a client span, child of the active span of the
calling thread or asyncio task.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    msg = (
        "pyramid_tracing's httpx clients need the httpx package, which is not installed: "
        "pip install 'pyramid_tracing[httpx]'"
    )
    raise ImportError(msg, name=exc.name) from exc

import opentracing

from ._failures import failures
from ._outbound import Outbound, check_tracing
from ._tracing import Tracing

__all__ = ["traced_httpx_async_client", "traced_httpx_client"]

# The httpx.Client arguments that configure the default transport: httpx ignores them when a
# transport is given, so they go to the transport built here instead.
_TRANSPORT_ARGUMENTS: Final = ("verify", "cert", "trust_env", "http1", "http2", "limits", "proxy")


def _with_headers(request: httpx.Request, trace: Mapping[str, str]) -> httpx.Request:
    """A copy of ``request`` that also carries the ``trace`` headers; ``request`` is unchanged."""
    if not trace:
        return request
    try:
        headers = request.headers.copy()
        headers.update(trace)
        return httpx.Request(
            request.method,
            request.url,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )
    except Exception as exc:
        failures.report("adding the trace headers to an outbound request", exc)
        return request


class _TracedTransport(httpx.BaseTransport):
    """An httpx transport that traces each request it sends, then hands it to ``transport``.

    Args:
        transport: the transport that sends the requests.
        outbound: the client span factory (see :func:`traced_httpx_client`).
    """

    def __init__(self, transport: httpx.BaseTransport, outbound: Outbound) -> None:
        self._transport = transport
        self._outbound = outbound

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` inside a client span."""
        call = self._outbound.start(request.method, str(request.url))
        if call is None:
            return self._transport.handle_request(request)
        sent = _with_headers(request, call.headers)
        try:
            response = self._transport.handle_request(sent)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.finish(response.status_code)
        return response

    def __enter__(self) -> _TracedTransport:
        self._transport.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._transport.__exit__(exc_type, exc_value, traceback)

    def close(self) -> None:
        """Close the wrapped transport."""
        self._transport.close()


class _TracedAsyncTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of a tracing transport.

    The span is started in the task that sends the request, so concurrent requests from
    several tasks each get the active span of their own task as parent.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport, outbound: Outbound) -> None:
        self._transport = transport
        self._outbound = outbound

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` inside a client span."""
        call = self._outbound.start(request.method, str(request.url))
        if call is None:
            return await self._transport.handle_async_request(request)
        sent = _with_headers(request, call.headers)
        try:
            response = await self._transport.handle_async_request(sent)
        except BaseException as exc:
            call.fail(exc)
            raise
        call.finish(response.status_code)
        return response

    async def __aenter__(self) -> _TracedAsyncTransport:
        await self._transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._transport.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._transport.aclose()


def _split(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Move the default transport's arguments out of ``kwargs``."""
    transport_kwargs: dict[str, Any] = {
        name: kwargs.pop(name) for name in _TRANSPORT_ARGUMENTS if name in kwargs
    }
    if "trust_env" in transport_kwargs:
        # The client reads trust_env too (.netrc authentication).
        kwargs["trust_env"] = transport_kwargs["trust_env"]
    return transport_kwargs


# What differs between the sync and the async client: the default transport, the base class a
# given transport must have, and the tracing wrapper.
_KINDS: Final[dict[str, tuple[type[Any], type[Any], type[Any]]]] = {
    "traced_httpx_client": (httpx.HTTPTransport, httpx.BaseTransport, _TracedTransport),
    "traced_httpx_async_client": (
        httpx.AsyncHTTPTransport,
        httpx.AsyncBaseTransport,
        _TracedAsyncTransport,
    ),
}


def _traced_transports(
    function: str,
    tracing: object,
    tags: object,
    transport: object,
    mounts: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
) -> tuple[Any, dict[str, Any] | None]:
    """The traced transport and mounts of a client built by ``function``; checks arguments."""
    default, base, wrapper = _KINDS[function]
    checked, extra_tags = check_tracing(function, tracing, tags)
    outbound = Outbound(checked, "httpx", extra_tags)
    transport_kwargs = _split(kwargs)
    if transport is None:
        transport = default(**transport_kwargs)
    elif "proxy" in transport_kwargs:
        msg = f"{function}() takes proxy or transport, not both: give the proxy to the transport"
        raise TypeError(msg)
    elif not isinstance(transport, base):
        msg = f"{function}() takes an httpx.{base.__name__} as transport, got {transport!r}"
        raise TypeError(msg)
    traced_mounts = None
    if mounts is not None:
        traced_mounts = {
            pattern: None if mounted is None else wrapper(mounted, outbound)
            for pattern, mounted in mounts.items()
        }
    return wrapper(transport, outbound), traced_mounts


def traced_httpx_client(
    tracing: Tracing | opentracing.Tracer | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    mounts: Mapping[str, httpx.BaseTransport | None] | None = None,
    tags: Mapping[str, object] | None = None,
    **kwargs: Any,
) -> httpx.Client:
    """An :class:`httpx.Client` that traces every request it sends.

    The spans are those of :func:`~pyramid_tracing.traced_requests_session`, with
    ``component=httpx``: one client span named ``HTTP <METHOD>`` per request actually sent
    (each redirect hop too), child of the active span, with the trace context injected into a
    copy of the request's headers. The span ends when the response headers have arrived:
    the body is read after it.

    The client sends through ``transport`` (default: an :class:`httpx.HTTPTransport` made
    from ``verify``, ``cert``, ``trust_env``, ``http1``, ``http2``, ``limits`` and ``proxy``)
    and ``mounts``, each wrapped by a a tracing transport. Because a transport is always
    given to httpx, proxies from the environment (``HTTP_PROXY``...) are not applied: pass
    ``proxy`` or ``mounts`` instead.

    Args:
        tracing: the :class:`~pyramid_tracing.Tracing` or tracer to use when no request is
            being served in the current context (the served request's tracer wins); ``None``
            means the OpenTracing global tracer.
        transport: the transport to trace instead of the default one.
        mounts: transports by URL pattern, as for :class:`httpx.Client`; each is traced.
        tags: tags set on every client span.
        kwargs: any other :class:`httpx.Client` argument.

    Returns:
        The client; use it as usual, ideally as a context manager.

    Raises:
        TypeError: an argument has the wrong type.
    """
    traced, traced_mounts = _traced_transports(
        "traced_httpx_client", tracing, tags, transport, mounts, kwargs
    )
    return httpx.Client(transport=traced, mounts=traced_mounts, **kwargs)


def traced_httpx_async_client(
    tracing: Tracing | opentracing.Tracer | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    mounts: Mapping[str, httpx.AsyncBaseTransport | None] | None = None,
    tags: Mapping[str, object] | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An :class:`httpx.AsyncClient` that traces every request it sends.

    The asyncio twin of :func:`traced_httpx_client` (the default transport is an
    :class:`httpx.AsyncHTTPTransport`). Requests sent concurrently from several tasks, as with
    ``asyncio.gather``, each get a client span whose parent is the active span of the task
    that sent it.

    Args:
        tracing: the :class:`~pyramid_tracing.Tracing` or tracer to use when no request is
            being served in the current context (the served request's tracer wins); ``None``
            means the OpenTracing global tracer.
        transport: the transport to trace instead of the default one.
        mounts: transports by URL pattern, as for :class:`httpx.AsyncClient`; each is traced.
        tags: tags set on every client span.
        kwargs: any other :class:`httpx.AsyncClient` argument.

    Returns:
        The client; use it as usual, ideally as an async context manager.

    Raises:
        TypeError: an argument has the wrong type.
    """
    traced, traced_mounts = _traced_transports(
        "traced_httpx_async_client", tracing, tags, transport, mounts, kwargs
    )
    return httpx.AsyncClient(transport=traced, mounts=traced_mounts, **kwargs)
