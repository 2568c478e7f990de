"""traced_httpx_client / traced_httpx_async_client against real services under waitress."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest

from pyramid_tracing import Tracing, traced_httpx_async_client, traced_httpx_client
from pyramid_tracing._tags import REDACTED
from tests.helpers.live import BrokenTracer, Services, assert_joined, new_tracer, refused_url


def test_three_concurrent_calls_from_asyncio_tasks(svc: Services) -> None:
    """Three tasks gathered in a view: three overlapping client spans, children of the request."""
    echoed = svc.get_a("/fan_out?delay=0.2")
    a_server = svc.one("fan_out")
    clients = [s for s in svc.spans() if s.operation_name == "HTTP GET"]
    assert len(clients) == 3
    assert all(c.parent_id == a_server.context.span_id for c in clients)
    assert all(c.tags["component"] == "httpx" for c in clients)
    by_id = {c.context.span_id: c for c in clients}
    b_servers = [s for s in svc.spans() if s.operation_name == "echo"]
    assert {b.parent_id for b in b_servers} == set(by_id)
    for result in echoed:
        task = result["path"].rpartition("task=")[2]
        client = next(c for c in clients if c.tags["http.url"].endswith(f"task={task}"))
        b_server = next(b for b in b_servers if b.parent_id == client.context.span_id)
        assert_joined(client, b_server, result)
    # The calls really ran at the same time: every B span started before any one finished.
    assert max(b.start_time for b in b_servers) < min(b.finish_time for b in b_servers)
    assert {s.context.trace_id for s in svc.spans()} == {a_server.context.trace_id}


def test_each_task_span_is_the_parent_of_its_own_call(svc: Services) -> None:
    """A span active in each task parents that task's client span, not a sibling's."""
    svc.get_a("/fan_out?delay=0.05&task_spans=1")
    for index in range(3):
        task_span = svc.one(f"task-{index}")
        client = next(
            s
            for s in svc.spans()
            if s.operation_name == "HTTP GET" and s.tags["http.url"].endswith(f"task={index}")
        )
        assert client.parent_id == task_span.context.span_id
        assert task_span.parent_id == svc.one("fan_out").context.span_id


def test_sync_client_call_redirects_and_headers(svc: Services) -> None:
    """The sync client: one span per redirect hop, B joined by headers, caller's headers kept."""
    headers = {"X-Caller": "yes"}
    with (
        svc.tracer.start_active_span("job") as scope,
        traced_httpx_client(svc.tracer, follow_redirects=True) as client,
    ):
        response = client.get(f"{svc.b}/redirect/2", headers=headers)
    assert headers == {"X-Caller": "yes"}
    echoed = response.json()
    assert echoed["headers"]["x-caller"] == "yes"
    assert "ot-tracer-spanid" not in response.request.headers
    clients = sorted(
        (s for s in svc.spans() if s.operation_name == "HTTP GET"), key=lambda s: s.start_time
    )
    assert [c.tags["http.status_code"] for c in clients] == [302, 302, 200]
    assert all(c.parent_id == scope.span.context.span_id for c in clients)
    assert_joined(clients[-1], svc.one("echo"), echoed)
    assert clients[0].tags == {
        "span.kind": "client",
        "component": "httpx",
        "http.method": "GET",
        "http.url": f"{svc.b}/redirect/2",
        "peer.hostname": "127.0.0.1",
        "peer.port": int(svc.b.rpartition(":")[2]),
        "http.status_code": 302,
    }


def test_async_client_without_active_span_is_a_root(svc: Services) -> None:
    """Outside any request and span, the async client's span is a root that B joins."""

    async def call() -> Any:
        async with traced_httpx_async_client(Tracing(svc.tracer), tags={"x": 1}) as client:
            return (await client.get(f"{svc.b}/echo", headers=None)).json()

    echoed = asyncio.run(call())
    client = svc.one("HTTP GET")
    assert client.parent_id is None
    assert client.tags["x"] == 1
    assert_joined(client, svc.one("echo"), echoed)


def test_server_error_tags_error_and_returns_the_response(svc: Services) -> None:
    """A 500 from B tags error=true; the response comes back as B sent it."""
    with traced_httpx_client(svc.tracer) as client:
        response = client.post(f"{svc.b}/fail", content=b"data")
    assert (response.status_code, response.text) == (500, "B failed")
    span = svc.one("HTTP POST")
    assert span.tags["error"] is True
    assert span.tags["http.status_code"] == 500
    assert svc.one("fail").parent_id == span.context.span_id


def test_connection_refused_tags_error_and_reraises() -> None:
    """A refused connection: error=true, the error log, and the same exception re-raised."""
    tracer = new_tracer()

    async def call() -> None:
        async with traced_httpx_async_client(tracer) as client:
            await client.get(refused_url())

    with pytest.raises(httpx.ConnectError) as excinfo:
        asyncio.run(call())
    [span] = tracer.finished_spans()
    assert span.tags["error"] is True
    assert span.logs[0].key_values["error.object"] is excinfo.value
    assert span.logs[0].key_values["error.kind"] == "ConnectError"


def test_credentials_never_reach_a_tag(svc: Services) -> None:
    """user:password and sensitive query values are absent from every tag."""
    host = svc.b.removeprefix("http://")
    with traced_httpx_client(svc.tracer) as client:
        client.get(f"http://bob:pa55-s3cr3t@{host}/echo?signature=s3cr3t-sig&a=1")
    assert svc.one("HTTP GET").tags["http.url"] == f"http://{host}/echo?signature={REDACTED}&a=1"
    for span in svc.spans():
        for value in span.tags.values():
            assert "s3cr3t" not in str(value)


@pytest.mark.parametrize("fail_on", ["start", "inject"])
def test_tracer_failure_never_breaks_the_call(svc: Services, fail_on: str) -> None:
    """A tracer raising on start or inject: the request still goes out untraced on the wire."""
    with traced_httpx_client(BrokenTracer(fail_on)) as client:
        response = client.get(f"{svc.b}/echo")
    assert response.status_code == 200
    assert "ot-tracer-spanid" not in response.json()["headers"]


def test_given_transport_and_mounts_are_traced(svc: Services) -> None:
    """A transport and mounts passed in send the requests, each inside a client span."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("ot-tracer-spanid", ""))
        return httpx.Response(204)

    with traced_httpx_client(
        svc.tracer,
        transport=httpx.MockTransport(handler),
        mounts={"http://mounted.test": httpx.MockTransport(handler)},
    ) as client:
        client.get("http://example.test/")
        client.get("http://mounted.test/")
    spans = svc.spans()
    assert sent == [f"{s.context.span_id:x}" for s in spans]
    assert [s.tags["peer.hostname"] for s in spans] == ["example.test", "mounted.test"]
    assert [s.tags["peer.port"] for s in spans] == [80, 80]


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (
            traced_httpx_client,
            {"transport": object()},
            "traced_httpx_client() takes an httpx.BaseTransport as transport, got <object",
        ),
        (
            traced_httpx_async_client,
            {"transport": httpx.MockTransport(lambda r: httpx.Response(200)), "proxy": "x"},
            "traced_httpx_async_client() takes proxy or transport, not both: give the proxy "
            "to the transport",
        ),
        (
            traced_httpx_client,
            {"tags": 3},
            "traced_httpx_client() takes a mapping of tag names to values as tags, got 3",
        ),
    ],
)
def test_bad_arguments_are_rejected(factory: Any, kwargs: dict[str, Any], message: str) -> None:
    """Wrong arguments raise TypeError naming the argument and the value."""
    with pytest.raises(TypeError) as excinfo:
        factory(**kwargs)
    assert str(excinfo.value).startswith(message)


def test_missing_httpx_extra_is_named() -> None:
    """Without httpx, import pyramid_tracing works and both helpers name the extra."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["httpx"] = None
        import pyramid_tracing
        for helper in (pyramid_tracing.traced_httpx_client,
                       pyramid_tracing.traced_httpx_async_client):
            try:
                helper()
            except ImportError as exc:
                print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    message = (
        "pyramid_tracing's httpx clients need the httpx package, which is not installed: "
        "pip install 'pyramid_tracing[httpx]'"
    )
    assert result.stdout.splitlines() == [message, message]
