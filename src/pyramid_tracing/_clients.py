"""The top-level outbound helpers: each imports its integration (and its extra) when called.

``import pyramid_tracing`` must work without requests or httpx installed; calling a helper
without its package raises an ImportError that names the extra to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import opentracing

from ._tracing import Tracing

if TYPE_CHECKING:
    import httpx
    import requests

__all__ = ["traced_httpx_async_client", "traced_httpx_client", "traced_requests_session"]


def traced_requests_session(
    tracing: Tracing | opentracing.Tracer | None = None,
    *,
    session: requests.Session | None = None,
    tags: Mapping[str, object] | None = None,
) -> requests.Session:
    """A :class:`requests.Session` that traces every request it sends (``requests`` extra).

    See :func:`pyramid_tracing.requests.traced_requests_session` for the spans and arguments.

    Raises:
        ImportError: requests is not installed (``pip install 'pyramid_tracing[requests]'``).
    """
    from .requests import traced_requests_session as implementation

    return implementation(tracing, session=session, tags=tags)


def traced_httpx_client(
    tracing: Tracing | opentracing.Tracer | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    mounts: Mapping[str, httpx.BaseTransport | None] | None = None,
    tags: Mapping[str, object] | None = None,
    **kwargs: Any,
) -> httpx.Client:
    """An :class:`httpx.Client` that traces every request it sends (``httpx`` extra).

    See :func:`pyramid_tracing.httpx.traced_httpx_client` for the spans and arguments.

    Raises:
        ImportError: httpx is not installed (``pip install 'pyramid_tracing[httpx]'``).
    """
    from .httpx import traced_httpx_client as implementation

    return implementation(tracing, transport=transport, mounts=mounts, tags=tags, **kwargs)


def traced_httpx_async_client(
    tracing: Tracing | opentracing.Tracer | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    mounts: Mapping[str, httpx.AsyncBaseTransport | None] | None = None,
    tags: Mapping[str, object] | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An :class:`httpx.AsyncClient` that traces every request it sends (``httpx`` extra).

    See :func:`pyramid_tracing.httpx.traced_httpx_async_client` for the spans and arguments.

    Raises:
        ImportError: httpx is not installed (``pip install 'pyramid_tracing[httpx]'``).
    """
    from .httpx import traced_httpx_async_client as implementation

    return implementation(tracing, transport=transport, mounts=mounts, tags=tags, **kwargs)
