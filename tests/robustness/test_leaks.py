"""No leaks: a long mix of requests leaves memory, context and registry as they were.

The requests mix success, 4xx, 5xx, exceptions an exception view handles, exceptions that
reach WSGI, and excluded paths, with child spans and ``@traced`` calls in the views. After a
warm-up, traced memory (tracemalloc), RSS, the ContextVars set in the thread's context, live
spans, scopes and requests, and the registry's state must not grow over the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from opentracing.mocktracer.span import MockSpan
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response

from pyramid_tracing import ScopeManager, current_tracing, traced
from pyramid_tracing._scope import _Scope
from tests.helpers.faults import report_figures, scaled

pytestmark = pytest.mark.stress

REQUESTS = scaled(4_000, 200_000)
WARM_UP = 2_000
# Leaking 8 bytes per request (a small object every 9 requests) exceeds this in make test;
# in make stress, a fraction of a byte per request.
TRACEMALLOC_TOLERANCE = 32 * 1024
ONE_OFF_SIZE = 256 * 1024
RSS_TOLERANCE = 8 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


class CountingTracer(MockTracer):
    """A MockTracer that counts finished spans instead of keeping them (it would grow)."""

    def __init__(self) -> None:
        super().__init__(scope_manager=ScopeManager())
        self.finished = 0

    def _append_finished_span(self, span: MockSpan) -> None:
        self.finished += 1


class AppError(Exception):
    """Handled by an exception view."""


class Crash(Exception):
    """Reaches the WSGI caller."""


@traced
def helper(n: int) -> int:
    return n + 1


@traced
async def async_helper(n: int) -> int:
    await asyncio.sleep(0)
    return n + 2


def ok(request: Any) -> Response:
    with request.tracing.start_active_span("child"):
        return Response(f"ok {helper(1)}")


def ok_async(request: Any) -> Response:
    return Response(f"ok {asyncio.run(async_helper(1))}")


def missing(request: Any) -> Response:
    raise HTTPNotFound()


def forbidden(request: Any) -> Response:
    return HTTPForbidden()


def server_error(request: Any) -> Response:
    return Response("bad", status=503)


def handled(request: Any) -> Response:
    helper(2)
    raise AppError("handled")


def crash(request: Any) -> Response:
    raise Crash("crash")


def app_error_view(exc: AppError, request: Any) -> Response:
    return Response("handled", status=500)


VIEWS: dict[str, Callable[[Any], Response]] = {
    "/ok": ok,
    "/ok-async": ok_async,
    "/missing": missing,
    "/forbidden": forbidden,
    "/server-error": server_error,
    "/handled": handled,
    "/crash": crash,
    "/health": ok,
}
# One round of the mix: the paths and how many of the spans each one finishes.
MIX = [*VIEWS, "/no-route"]
# /health is excluded: no server span, only the view's own child span.
SPANS = {"/ok": 3, "/ok-async": 2, "/handled": 2, "/health": 1}


def build(tracer: CountingTracer) -> Any:
    settings = {"tracing.tracer": tracer, "tracing.exclude_paths": "^/health$"}
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        for path, view in VIEWS.items():
            config.add_route(path, path)
            config.add_view(view, route_name=path)
        config.add_view(app_error_view, context=AppError)
        return config.make_wsgi_app()


def serve_mix(app: Any, count: int) -> int:
    """Serve ``count`` requests of the mix; return how many spans they should finish."""
    spans = 0
    for index in range(count):
        path = MIX[index % len(MIX)]
        with contextlib.suppress(Crash):
            Request.blank(path).get_response(app)
        spans += SPANS.get(path, 1)
    return spans


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def live(kind: type) -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, kind))


def state(app: Any, tracer: CountingTracer) -> dict[str, object]:
    """What must be the same after the run as after the warm-up."""
    gc.collect()
    registry = app.registry
    return {
        "context vars": len(contextvars.copy_context()),
        "active scope": repr(tracer.scope_manager.active),
        "current tracing": repr(current_tracing()),
        "live spans": live(MockSpan),
        "live scopes": live(_Scope),
        "live requests": live(Request),
        "registry attributes": sorted(vars(registry)),
        "registry settings": sorted(registry.settings),
    }


def measure(count: int) -> dict[str, Any]:
    """Warm up, then serve ``count`` requests; the state and memory before and after.

    Run in a fresh interpreter started with ``-X tracemalloc``: every block is traced from the
    start, and no other test's garbage or caches are counted.
    """
    tracer = CountingTracer()
    app = build(tracer)
    expected_spans = serve_mix(app, WARM_UP)
    before = state(app, tracer)
    # The snapshot is taken first: its own memory is then in both RSS figures.
    snapshot = tracemalloc.take_snapshot()
    memory_before = tracemalloc.get_traced_memory()[0]
    rss_before = rss()
    expected_spans += serve_mix(app, count)
    after = state(app, tracer)
    rss_after = rss()
    memory_after = tracemalloc.get_traced_memory()[0]
    diffs = tracemalloc.take_snapshot().compare_to(snapshot, "lineno")
    # A big table of the interpreter resized once: one new block of twice the size at one
    # line, the old block freed at another (seen at about 160,000 requests: 939 KiB allocated
    # by the imports, replaced by 1,877 KiB). A leak adds many blocks instead.
    one_offs = [d for d in diffs if abs(d.count_diff) <= 2 and abs(d.size_diff) >= ONE_OFF_SIZE]
    return {
        "before": before,
        "after": after,
        "expected_spans": expected_spans,
        "spans_finished": tracer.finished,
        "tracemalloc_before": memory_before,
        "tracemalloc_after": memory_after,
        "growth": sum(d.size_diff for d in diffs) - sum(d.size_diff for d in one_offs),
        "one_off_blocks": [str(d) for d in one_offs],
        "rss_before": rss_before,
        "rss_after": rss_after,
    }


def test_a_long_mix_of_requests_leaks_nothing() -> None:
    """Memory, context state, live spans and scopes and the registry stay flat."""
    code = (
        f"import json, tests.robustness.test_leaks as t; print(json.dumps(t.measure({REQUESTS})))"
    )
    result = subprocess.run(
        [sys.executable, "-X", "tracemalloc=1", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.splitlines()[-1])
    assert figures["spans_finished"] == figures["expected_spans"]
    before, after = figures["before"], figures["after"]
    assert after == before
    assert before["live spans"] == before["live scopes"] == 0
    assert before["active scope"] == before["current tracing"] == "None"
    assert figures["growth"] < TRACEMALLOC_TOLERANCE, figures["one_off_blocks"]
    assert len(figures["one_off_blocks"]) <= 2, figures["one_off_blocks"]
    assert figures["rss_after"] - figures["rss_before"] < RSS_TOLERANCE
    report_figures("leaks", requests=WARM_UP + REQUESTS, **figures)
