"""Usage of the outbound and thread helpers that mypy --strict checks."""

from __future__ import annotations

import httpx
import requests
from opentracing.mocktracer import MockTracer
from typing_extensions import assert_type

from pyramid_tracing import (
    ContextExecutor,
    ScopeManager,
    Tracing,
    context_propagating,
    traced_httpx_async_client,
    traced_httpx_client,
    traced_requests_session,
)

tracer = MockTracer(scope_manager=ScopeManager())

assert_type(traced_requests_session(), requests.Session)
assert_type(
    traced_requests_session(Tracing(tracer), session=requests.Session(), tags={"a": 1}),
    requests.Session,
)
assert_type(traced_httpx_client(tracer, timeout=5), httpx.Client)
assert_type(traced_httpx_async_client(transport=httpx.AsyncHTTPTransport()), httpx.AsyncClient)


def fetch(url: str, *, retries: int = 0) -> bytes:
    return url.encode() * (retries + 1)


wrapped = context_propagating(fetch)
assert_type(wrapped("x", retries=2), bytes)

with ContextExecutor(max_workers=2) as executor:
    assert_type(executor.submit(fetch, "x", retries=1).result(), bytes)
