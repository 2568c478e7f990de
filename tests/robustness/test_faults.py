"""Fail open: a tracer that raises from any method never changes what the app serves.

Every case serves a real Pyramid app under waitress and compares each response with the one the
same app serves without tracing. A WSGI probe around the app checks, on the worker thread
itself, that no span is active and no request Tracing is current before and after every request
(a span left active by one request is seen by the next one on the same thread), and that an
exception the app raises reaches the WSGI layer as the very same object.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response

from pyramid_tracing import (
    Tracing,
    traced,
    traced_httpx_client,
    traced_requests_session,
)
from pyramid_tracing._config import setup_tracing
from pyramid_tracing._failures import failures
from tests.helpers.faults import (
    FAULT_KINDS,
    FaultPlan,
    FaultyTracer,
    InjectedFault,
    Probe,
    report_figures,
    scaled,
)
from tests.helpers.serving import serve

pytestmark = pytest.mark.stress

MODES = ("tween", "decorator")
# Every kind alone (always failing), all kinds at random, and none.
PLANS: dict[str, Callable[[], FaultPlan]] = {
    **{kind: (lambda kind=kind: FaultPlan([kind])) for kind in FAULT_KINDS},
    "random": lambda: FaultPlan(FAULT_KINDS, rate=0.2, seed=1234),
    "none": lambda: FaultPlan(),
}
PATHS = (
    "/ok",
    "/json",
    "/status",
    "/http-not-found",
    "/no-such-route",
    "/handled",
    "/handled-async",
    "/unhandled",
    "/nested",
    "/outbound",
)
ROUNDS = scaled(2, 42)  # 2 modes x 12 plans x 9 paths x 42 rounds = 9,072 requests in stress.


class AppError(Exception):
    """An error the app handles with an exception view."""


class Unhandled(Exception):
    """An error no exception view handles: waitress serves its own 500."""


@traced
def compute(n: int) -> int:
    return n * 2


@traced("acompute")
async def acompute(n: int) -> int:
    await asyncio.sleep(0)
    return n * 3


@traced
def count(n: int) -> Iterator[int]:
    yield from range(n)


@traced
def fail_sync(request: Any) -> None:
    exc = AppError("sync")
    request.environ["test.raised"] = exc
    raise exc


@traced
async def fail_async(request: Any) -> None:
    await asyncio.sleep(0)
    exc = AppError("async")
    request.environ["test.raised"] = exc
    raise exc


@traced
def fail_unhandled(request: Any) -> None:
    exc = Unhandled("unhandled")
    request.environ["test.raised"] = exc
    raise exc


def ok_view(request: Any) -> Response:
    return Response(f"ok {compute(3)} {asyncio.run(acompute(4))} {sum(count(4))}")


def json_view(request: Any) -> dict[str, object]:
    request.response.status = 202
    return {"ok": True, "n": compute(5)}


def status_view(request: Any) -> Response:
    return Response("teapot", status=418)


def http_not_found_view(request: Any) -> Response:
    raise HTTPNotFound("nope")


def handled_view(request: Any) -> Response:
    fail_sync(request)
    raise AssertionError("not reached")


def handled_async_view(request: Any) -> Response:
    asyncio.run(fail_async(request))
    raise AssertionError("not reached")


def unhandled_view(request: Any) -> Response:
    fail_unhandled(request)
    raise AssertionError("not reached")


@traced("outer")
def outer(request: Any) -> int:
    tracing = getattr(request, "tracing", None)
    if tracing is not None:
        tracing.inject({})
    return compute(1) + sum(count(2))


def nested_view(request: Any) -> Response:
    return Response(f"nested {outer(request)}")


def outbound_view(request: Any) -> Response:
    session, client = request.registry.settings["test.clients"]
    downstream = request.registry.settings["test.downstream"]
    first = session.get(downstream + "/down?token=s3cret").text
    second = client.get(downstream + "/down").text
    try:
        session.get("http://127.0.0.1:1/closed", timeout=2)
    except requests.ConnectionError as exc:
        failed = type(exc).__name__
    return Response(f"outbound {first} {second} {failed}")


def app_error_view(exc: AppError, request: Any) -> Response:
    same = exc is request.environ.get("test.raised")
    return Response(f"handled {exc} same={same}", status=409)


VIEWS: dict[str, tuple[str, Callable[..., Any], str | None]] = {
    "ok": ("/ok", ok_view, None),
    "json": ("/json", json_view, "json"),
    "status": ("/status", status_view, None),
    "http_not_found": ("/http-not-found", http_not_found_view, None),
    "handled": ("/handled", handled_view, None),
    "handled_async": ("/handled-async", handled_async_view, None),
    "unhandled": ("/unhandled", unhandled_view, None),
    "nested": ("/nested", nested_view, None),
    "outbound": ("/outbound", outbound_view, None),
}


def downstream_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The app the outbound view calls: plain WSGI, untraced."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"down"]


@pytest.fixture(scope="module")
def downstream() -> Iterator[str]:
    with serve(downstream_app, threads=2) as base:
        yield base


def build(mode: str, tracer: Any, downstream: str, **extra: object) -> Probe:
    """The test app, traced by ``tracer`` through ``mode`` (or not at all: ``baseline``)."""
    if mode == "baseline":
        clients = (requests.Session(), httpx.Client())
    else:
        clients = (traced_requests_session(), traced_httpx_client())
    settings: dict[str, Any] = {"test.downstream": downstream, "test.clients": clients, **extra}
    if mode != "baseline":
        settings["tracing.tracer"] = tracer
        settings["tracing.traced_attributes"] = "path method"
    if mode == "decorator":
        settings["tracing.trace_all"] = "false"
    with Configurator(settings=settings) as config:
        tracing: Tracing | None = None
        if mode != "baseline":
            config.include("pyramid_tracing")
            tracing = setup_tracing(config.registry)
        for name, (pattern, view, renderer) in VIEWS.items():
            config.add_route(name, pattern)
            if mode == "decorator":
                assert tracing is not None
                view = tracing.trace("headers")(view)
            config.add_view(view, route_name=name, renderer=renderer)
        config.add_view(app_error_view, context=AppError)
        app = config.make_wsgi_app()
    return Probe(app, None if mode == "baseline" else tracer)


def fetch_all(base: str, paths: tuple[str, ...], rounds: int) -> list[tuple[str, int, bytes]]:
    with requests.Session() as session:
        return [
            (path, (r := session.get(base + path)).status_code, r.content)
            for _ in range(rounds)
            for path in paths
        ]


@pytest.fixture(scope="module")
def baseline(downstream: str) -> dict[str, tuple[int, bytes]]:
    """What the app serves for each path without tracing."""
    probe = build("baseline", None, downstream)
    with serve(probe, threads=2) as base:
        results = fetch_all(base, PATHS, 1)
    return {path: (status, body) for path, status, body in results}


def test_baseline_covers_every_outcome(baseline: dict[str, tuple[int, bytes]]) -> None:
    """The untraced app answers with success, 4xx, handled errors and the server's 500."""
    assert {path: status for path, (status, _) in baseline.items()} == {
        "/ok": 200,
        "/json": 202,
        "/status": 418,
        "/http-not-found": 404,
        "/no-such-route": 404,
        "/handled": 409,
        "/handled-async": 409,
        "/unhandled": 500,
        "/nested": 200,
        "/outbound": 200,
    }
    assert baseline["/handled"][1] == b"handled sync same=True"
    assert baseline["/unhandled"][1].startswith(b"Internal Server Error")
    assert baseline["/outbound"][1] == b"outbound down down ConnectionError"


def failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "pyramid_tracing"]


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="pyramid_tracing")
    return caplog


@pytest.mark.parametrize("plan_name", list(PLANS))
@pytest.mark.parametrize("mode", MODES)
def test_faulty_tracer_never_changes_the_app(
    mode: str,
    plan_name: str,
    baseline: dict[str, tuple[int, bytes]],
    downstream: str,
    captured: pytest.LogCaptureFixture,
) -> None:
    """Responses, exceptions and the worker context are those of the untraced app."""
    plan = PLANS[plan_name]()
    tracer = FaultyTracer(plan)
    probe = build(mode, tracer, downstream)
    with serve(probe, threads=2) as base:
        results = fetch_all(base, PATHS, ROUNDS)

    assert [(path, status, body) for path, status, body in results] == [
        (path, *baseline[path]) for _ in range(ROUNDS) for path in PATHS
    ]
    assert probe.problems == []
    # Each raised exception reached the WSGI layer as the same object, once per request.
    assert probe.reached == {"Unhandled": ROUNDS}
    records = failure_records(captured)
    # Each distinct failure is logged once, not once per request.
    distinct = collections.Counter((record.args[0], record.args[1]) for record in records)
    assert all(count == 1 for count in distinct.values()), distinct
    assert all(record.args[1] == "InjectedFault" for record in records)
    assert bool(records) == bool(sum(plan.injected.values()))
    if plan_name not in ("none", "random"):
        assert plan.injected[plan_name] > 0
    if plan_name == "none":
        # Without faults every part traced: server spans, @traced spans and client spans.
        names = collections.Counter(span.operation_name for span in tracer.finished_spans())
        assert names["HTTP GET"] == 3 * ROUNDS
        assert names["outer"] == names["acompute"] == ROUNDS
        assert names["unhandled"] == ROUNDS
    report_figures(
        f"faults[{mode}-{plan_name}]",
        requests=len(results),
        faults=sum(plan.injected.values()),
        log_records=len(records),
    )


def test_failure_is_logged_again_after_the_interval(
    captured: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, downstream: str
) -> None:
    """After the interval, a failure is logged again with the count of those not logged."""
    monkeypatch.setattr(failures, "_interval", 0.0)
    tracer = FaultyTracer(FaultPlan(["extract"]))
    probe = build("tween", tracer, downstream)
    with serve(probe, threads=1) as base:
        fetch_all(base, ("/status",), 3)
    records = failure_records(captured)
    assert len(records) == 3
    assert records[0].getMessage() == (
        "extracting the trace context from the request headers failed with "
        "InjectedFault; the request goes on untouched (0 more such failures since the last "
        "message)"
    )
    assert isinstance(records[0].exc_info[1], InjectedFault)  # type: ignore[index]


def failing_start_hook(span: Any, request: Any) -> None:
    span.set_tag("start_hook", "ran")
    raise RuntimeError("start hook failed")


def failing_finish_hook(span: Any, request: Any, response: Any, exception: Any) -> None:
    span.set_tag("finish_hook", "ran")
    raise RuntimeError("finish hook failed")


@pytest.mark.parametrize("path", ["/status", "/handled", "/unhandled"])
def test_failing_hooks_never_lose_the_span(
    path: str, captured: pytest.LogCaptureFixture, downstream: str
) -> None:
    """A raising start_span_hook or finish_span_hook: the span is still finished and reported."""
    tracer = FaultyTracer()
    probe = build(
        "tween",
        tracer,
        downstream,
        **{
            "tracing.start_span_hook": failing_start_hook,
            "tracing.finish_span_hook": failing_finish_hook,
        },
    )
    with serve(probe, threads=1) as base:
        results = fetch_all(base, (path,), 3)
    expected = {"/status": 418, "/handled": 409, "/unhandled": 500}[path]
    assert [status for _, status, _ in results] == [expected] * 3
    servers = [s for s in tracer.finished_spans() if s.tags.get("span.kind") == "server"]
    assert len(servers) == 3
    for span in servers:
        assert span.finish_time is not None
        assert span.tags["start_hook"] == span.tags["finish_hook"] == "ran"
        if path == "/unhandled":
            assert span.tags["error"] is True
        else:
            assert span.tags["http.status_code"] == expected
    messages = [record.getMessage() for record in failure_records(captured)]
    assert [message.split(" failed")[0] for message in messages] == [
        "the start_span_hook",
        "the finish_span_hook",
    ]
    assert probe.problems == []


def test_request_start_active_span_fails_open(captured: pytest.LogCaptureFixture) -> None:
    """request.tracing.start_active_span gives a working no-op scope when the tracer fails."""
    tracer = FaultyTracer(FaultPlan(["start_active_span"]))

    def view(request: Any) -> Response:
        with request.tracing.start_active_span("child") as scope:
            scope.span.set_tag("k", "v")
            return Response("child ran")

    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("child", "/child")
        config.add_view(view, route_name="child")
        app = config.make_wsgi_app()
    with serve(Probe(app, tracer), threads=1) as base:
        assert fetch_all(base, ("/child",), 2) == [("/child", 200, b"child ran")] * 2
    messages = [record.getMessage() for record in failure_records(captured)]
    assert [message.split(" failed")[0] for message in messages] == [
        "starting the server span",
        "starting a span with request.tracing.start_active_span",
    ]
