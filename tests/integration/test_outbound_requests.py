"""traced_requests_session: one trace across two real services under waitress."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import opentracing
import pytest
import requests
from requests.adapters import HTTPAdapter

from pyramid_tracing import Tracing, traced_requests_session
from pyramid_tracing._tags import REDACTED
from tests.helpers.live import (
    BrokenTracer,
    Services,
    assert_joined,
    new_tracer,
    refused_url,
)


def test_call_from_a_view_is_one_trace(svc: Services) -> None:
    """A's server span → A's client span → B's server span, one trace id, B parented by headers."""
    echoed = svc.get_a("/call")
    a_server = svc.one("call")
    client = svc.one("HTTP GET")
    b_server = svc.one("echo")
    assert client.parent_id == a_server.context.span_id
    assert_joined(client, b_server, echoed)
    assert {s.context.trace_id for s in svc.spans()} == {a_server.context.trace_id}
    assert client.tags == {
        "span.kind": "client",
        "component": "requests",
        "http.method": "GET",
        "http.url": f"{svc.b}/echo",
        "peer.hostname": "127.0.0.1",
        "peer.port": int(svc.b.rpartition(":")[2]),
        "http.status_code": 200,
    }
    assert client.finish_time is not None


def test_each_redirect_hop_is_a_client_span(svc: Services) -> None:
    """A redirect chain of three hops gives three client spans, each the parent of one B span."""
    result = svc.get_a("/redirects")
    assert result["history"] == [302, 302, 302]
    a_server = svc.one("redirects")
    clients = sorted(
        (s for s in svc.spans() if s.operation_name == "HTTP GET"), key=lambda s: s.start_time
    )
    assert [c.tags["http.url"] for c in clients] == [
        f"{svc.b}/redirect/3",
        f"{svc.b}/redirect/2",
        f"{svc.b}/redirect/1",
        f"{svc.b}/echo",
    ]
    assert [c.tags["http.status_code"] for c in clients] == [302, 302, 302, 200]
    assert all(c.parent_id == a_server.context.span_id for c in clients)
    servers = {s.parent_id: s for s in svc.spans() if s.tags.get("span.kind") == "server"}
    for client in clients:
        assert servers[client.context.span_id].context.trace_id == a_server.context.trace_id
    assert_joined(clients[-1], svc.one("echo"), result)


def test_connection_refused_tags_the_error_and_reraises_it(svc: Services) -> None:
    """A refused connection tags error=true with the error log and the view gets it unchanged."""
    assert svc.get_a("/refused") == {"error": "ConnectionError"}
    client = svc.one("HTTP GET")
    assert client.parent_id == svc.one("refused").context.span_id
    assert client.tags["error"] is True
    assert "http.status_code" not in client.tags
    [raised] = svc.views.errors
    [log] = client.logs
    assert log.key_values["event"] == "error"
    assert log.key_values["error.kind"] == "ConnectionError"
    assert log.key_values["error.object"] is raised
    assert "Connection refused" in log.key_values["message"]


def test_server_error_tags_error_and_returns_the_response(svc: Services) -> None:
    """A 500 from B tags the client span error=true and the view gets B's response as is."""
    assert svc.get_a("/failing") == {"status": 500, "body": "B failed"}
    client = svc.one("HTTP GET")
    assert client.tags["error"] is True
    assert client.tags["http.status_code"] == 500
    assert client.logs == []
    b_server = svc.one("fail")
    assert b_server.parent_id == client.context.span_id
    assert svc.one("failing").tags.get("error") is None


def test_no_active_span_gives_a_root_client_span(svc: Services) -> None:
    """Outside any request and span, the client span is a root and B still joins its trace."""
    session = traced_requests_session(svc.tracer)
    echoed = session.get(f"{svc.b}/echo").json()
    client = svc.one("HTTP GET")
    assert client.parent_id is None
    assert_joined(client, svc.one("echo"), echoed)


def test_call_under_an_active_span_outside_a_request(svc: Services) -> None:
    """With a span active in the caller, the client span is its child."""
    session = traced_requests_session(Tracing(svc.tracer), tags={"peer.service": "b"})
    with svc.tracer.start_active_span("job") as scope:
        echoed = session.post(f"{svc.b}/echo", data=b"x").json()
    client = svc.one("HTTP POST")
    assert client.parent_id == scope.span.context.span_id
    assert client.tags["peer.service"] == "b"
    assert client.tags["http.method"] == "POST"
    assert_joined(client, svc.one("echo"), echoed)


def test_caller_headers_are_never_changed(svc: Services) -> None:
    """The caller's headers dict keeps its content; the trace headers still reach B."""
    headers = {"X-Caller": "yes"}
    session = traced_requests_session(svc.tracer)
    echoed = session.get(f"{svc.b}/echo", headers=headers).json()
    assert headers == {"X-Caller": "yes"}
    assert echoed["headers"]["x-caller"] == "yes"
    assert echoed["headers"]["ot-tracer-spanid"] == f"{svc.one('HTTP GET').context.span_id:x}"


def test_headers_none_works(svc: Services) -> None:
    """headers=None sends the trace headers alone."""
    echoed = traced_requests_session(svc.tracer).get(f"{svc.b}/echo", headers=None).json()
    assert "ot-tracer-spanid" in echoed["headers"]


def test_prepared_request_sent_directly_is_unchanged(svc: Services) -> None:
    """A PreparedRequest given to send() keeps its headers and is the response's request."""
    session = traced_requests_session(svc.tracer)
    prepared = requests.Request("GET", f"{svc.b}/echo", headers={"X-A": "1"}).prepare()
    response = session.send(prepared)
    assert dict(prepared.headers) == {"X-A": "1"}
    assert response.request is prepared
    assert "ot-tracer-spanid" in response.json()["headers"]


def test_credentials_and_sensitive_query_values_never_reach_a_tag(svc: Services) -> None:
    """user:password and token values are absent from every tag of every span."""
    host = svc.b.removeprefix("http://")
    url = f"http://alice:s3cr3t-pw@{host}/echo?token=t0p-s3cr3t&page=2"
    traced_requests_session(svc.tracer).get(url)
    client = svc.one("HTTP GET")
    assert client.tags["http.url"] == f"http://{host}/echo?token={REDACTED}&page=2"
    for span in svc.spans():
        for value in span.tags.values():
            assert "s3cr3t" not in str(value)
            assert "alice" not in str(value)


@pytest.mark.parametrize("fail_on", ["start", "inject"])
def test_tracer_failure_never_breaks_the_call(
    svc: Services, fail_on: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A tracer raising on start or inject: the request goes out and its response comes back."""
    tracer = BrokenTracer(fail_on)
    response = traced_requests_session(tracer).get(f"{svc.b}/echo", headers={"X-A": "1"})
    assert response.status_code == 200
    headers = response.json()["headers"]
    assert headers["x-a"] == "1"
    assert "ot-tracer-spanid" not in headers
    expected = {
        "start": "starting an outbound HTTP client span failed with RuntimeError",
        "inject": "injecting the trace context into outbound headers failed with RuntimeError",
    }[fail_on]
    assert expected in caplog.text
    spans = tracer.finished_spans()
    assert len(spans) == (0 if fail_on == "start" else 1)


def test_existing_session_keeps_its_adapters_and_traces_later_mounts(svc: Services) -> None:
    """session= traces in place: the adapters stay, and an adapter mounted later is traced."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=2)
    session.mount("http://", adapter)
    session.auth = ("u", "p")
    traced = traced_requests_session(svc.tracer, session=session)
    assert traced is session
    assert session.get_adapter(f"{svc.b}/echo") is adapter
    assert session.get(f"{svc.b}/echo").json()["headers"]["authorization"].startswith("Basic ")
    later = HTTPAdapter()
    session.mount(f"{svc.b}/", later)
    assert session.get_adapter(f"{svc.b}/echo") is later
    session.get(f"{svc.b}/echo")
    assert len([s for s in svc.spans() if s.operation_name == "HTTP GET"]) == 2


def test_wrapping_twice_gives_one_span_per_request(svc: Services) -> None:
    """Tracing the same session twice never doubles the spans; the last tags win."""
    session = traced_requests_session(svc.tracer, tags={"n": 1})
    traced_requests_session(svc.tracer, session=session, tags={"n": 2})
    session.get(f"{svc.b}/echo")
    assert svc.one("HTTP GET").tags["n"] == 2


def test_request_tracing_session_is_one_per_app(svc: Services) -> None:
    """request.tracing.session is the same traced session on every request, without cookies."""
    svc.views.sessions.clear()
    svc.get_a("/call")
    second_echo = svc.get_a("/call")
    first, second = svc.views.sessions
    assert first is second
    # B sets a session cookie on every echo: a shared session must not replay it.
    assert "cookie" not in second_echo["headers"]
    assert len(first.cookies) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"tracing": "jaeger"},
            "traced_requests_session() takes a pyramid_tracing.Tracing, an opentracing.Tracer "
            "or None as tracing, got 'jaeger'",
        ),
        (
            {"tags": ["a"]},
            "traced_requests_session() takes a mapping of tag names to values as tags, got ['a']",
        ),
        (
            {"session": {}},
            "traced_requests_session() takes a requests.Session as session, got {}",
        ),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    """Wrong argument types raise TypeError naming the argument and the value."""
    with pytest.raises(TypeError) as excinfo:
        traced_requests_session(**kwargs)
    assert str(excinfo.value) == message


def test_global_tracer_is_used_by_default(svc: Services) -> None:
    """Without tracing= and outside a request, the OpenTracing global tracer traces."""
    tracer = new_tracer()
    opentracing.tracer = tracer
    traced_requests_session().get(f"{svc.b}/echo")
    assert [s.operation_name for s in tracer.finished_spans()] == ["HTTP GET"]


def test_refused_outside_a_request_reraises_the_same_exception() -> None:
    """The ConnectionError the adapter raised is the one the caller gets and the span logs."""
    tracer = new_tracer()
    with pytest.raises(requests.ConnectionError) as excinfo:
        traced_requests_session(tracer).get(refused_url(), timeout=5)
    [span] = tracer.finished_spans()
    assert span.logs[0].key_values["error.object"] is excinfo.value


def test_missing_requests_extra_is_named() -> None:
    """Without requests, import pyramid_tracing works and the helper names the extra."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["requests"] = None
        import pyramid_tracing
        try:
            pyramid_tracing.traced_requests_session()
        except ImportError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == (
        "pyramid_tracing.traced_requests_session needs the requests package, which is not "
        "installed: pip install 'pyramid_tracing[requests]'"
    )
