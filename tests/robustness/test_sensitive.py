"""Nothing sensitive in spans or logs: credentials, cookies and tokens are never recorded.

A real app under waitress records every place a secret could slip through: captured request
and response headers, the ``headers``, ``cookies``, ``environ``, ``params``, ``url`` and
``referer`` traced attributes, error logs of failing views, and the client span of an outbound
call. Every finished span's operation name, tags, log fields and baggage, and all captured log
text, are scanned for the secret strings.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from pyramid_tracing import ScopeManager, traced_requests_session
from pyramid_tracing._tags import REDACTED
from tests.helpers.serving import serve

SECRETS = {
    "Authorization": "Bearer auth-SECRET-1",
    "Proxy-Authorization": "Basic proxy-SECRET-2",
    "Cookie": "session=cookie-SECRET-3; theme=dark",
    "X-Api-Key": "apikey-SECRET-5",
}
SET_COOKIE = "session=setcookie-SECRET-4; HttpOnly"
QUERY = "token=query-SECRET-6&page=2&Password=pw-SECRET-7&X-Amz-Signature=sig-SECRET-8"
FORM = {"password": "form-SECRET-9", "user": "alice"}
USERINFO = "bob:userinfo-SECRET-10"
REFERER = "https://bob:referer-SECRET-11@example.com/cb?code=referer-SECRET-12&state=1"
# What every scan looks for.
NEEDLES = ("SECRET",)

MAX_TAG_LENGTH = 64

ATTRIBUTES = (
    "headers cookies environ params GET POST url path_qs query_string referer authorization "
    "response"
)


def scan(tracer: MockTracer, log_text: str) -> list[str]:
    """Every place a secret appears: span names, tags, log fields, baggage, log text."""
    found = []
    for span in tracer.finished_spans():
        where = f"span {span.operation_name!r}"
        texts = [("operation name", span.operation_name)]
        texts += [(f"tag {key}", value) for key, value in span.tags.items()]
        texts += [
            (f"log field {key}", value)
            for log in span.logs
            for key, value in log.key_values.items()
        ]
        texts += [(f"baggage {key}", value) for key, value in span.context.baggage.items()]
        for what, value in texts:
            found += [f"{where} {what}: {hit}" for hit in hits(str(value))]
    found += [f"log: {hit}" for hit in hits(log_text)]
    return found


def hits(text: str) -> list[str]:
    """Each secret in ``text``, with what precedes it."""
    return [
        text[max(0, index - 80) : index + 20]
        for needle in NEEDLES
        for index in range(len(text))
        if text.startswith(needle, index)
    ]


def long_tags(tracer: MockTracer, limit: int = MAX_TAG_LENGTH) -> list[str]:
    return [
        f"{span.operation_name} {key}={value[:40]!r}... ({len(value)})"
        for span in tracer.finished_spans()
        for key, value in [
            *span.tags.items(),
            *((k, v) for log in span.logs for k, v in log.key_values.items()),
        ]
        if isinstance(value, str) and len(value) > limit
    ]


def page(request: Any) -> Response:
    response = Response("page")
    response.headers["Set-Cookie"] = SET_COOKIE
    return response


def renderer_style(request: Any) -> Response:
    request.response.set_cookie("session", "setcookie-SECRET-13")
    return request.response


def failing(request: Any) -> Response:
    secret = request.headers["Authorization"]  # a local holding the secret
    raise RuntimeError("failed: " + "x" * 500 + secret.split()[0])


def call(request: Any) -> Response:
    downstream = request.registry.settings["test.downstream"]
    host = downstream.removeprefix("http://")
    session = request.registry.settings["test.session"]
    answer = session.get(f"http://{USERINFO}@{host}/page?{QUERY}")
    return Response(f"called {answer.status_code}")


def build(tracer: MockTracer, **extra: object) -> Any:
    settings = {
        "tracing.tracer": tracer,
        "tracing.traced_attributes": ATTRIBUTES,
        "tracing.capture_request_headers": " ".join([*SECRETS, "Referer", "User-Agent"]),
        "tracing.capture_response_headers": "Set-Cookie Content-Type",
        "tracing.max_tag_length": str(MAX_TAG_LENGTH),
        "test.session": traced_requests_session(),
        **extra,
    }
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        for name, view in {
            "page": page,
            "failing": failing,
            "call": call,
            "reified": renderer_style,
        }.items():
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name)
        return config.make_wsgi_app()


@pytest.fixture
def tracer() -> MockTracer:
    return MockTracer(scope_manager=ScopeManager())


@pytest.fixture
def caplog_all(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# A huge limit too: a cut tag could hide a secret recorded past the limit.
@pytest.mark.parametrize("limit", [MAX_TAG_LENGTH, 10_000_000])
def test_secrets_never_reach_spans_or_logs(
    tracer: MockTracer, caplog_all: pytest.LogCaptureFixture, limit: int
) -> None:
    """Credentials, cookies, API keys and sensitive query values appear in no tag or log."""
    downstream_tracer = MockTracer(scope_manager=ScopeManager())
    length = {"tracing.max_tag_length": str(limit)}
    with serve(build(downstream_tracer, **length), threads=2) as downstream:
        app = build(tracer, **{"test.downstream": downstream, **length})
        with serve(app, threads=2) as base, requests.Session() as session:
            headers = {**SECRETS, "Referer": REFERER}
            for path in ("/page", "/failing", "/call", "/reified"):
                session.get(f"{base}{path}?{QUERY}", headers=headers)
            session.post(f"{base}/page?{QUERY}", headers=headers, data=FORM)
            host = base.removeprefix("http://")
            # user:password in the Host header makes it into request.url (the headers and
            # environ attributes record the Host header as sent: only http.url is checked).
            session.get(f"{base}/page", headers={"Host": f"bob:host-PASSWORD@{host}"})

    spans = tracer.finished_spans() + downstream_tracer.finished_spans()
    # 6 server spans and 1 client span in the app, 1 server span downstream.
    assert len(spans) == 8
    # The add-on's own log and the server's error log (urllib3 logs the URLs it requests).
    ours = "\n".join(
        logging.Formatter().format(record)
        for record in caplog_all.records
        if record.name.startswith(("pyramid_tracing", "waitress"))
    )
    assert scan(tracer, ours) == []
    assert "PASSWORD" not in str([span.tags.get("http.url") for span in spans])
    assert scan(downstream_tracer, "") == []
    # The secrets were there to leak: redacted, not merely absent.
    first = tracer.finished_spans()[0]
    assert first.tags["http.request.header.authorization"] == REDACTED
    assert first.tags["http.response.header.set-cookie"] == REDACTED
    assert "token=[REDACTED]" in first.tags["http.url"]
    assert tracer.finished_spans()[-1].tags["http.url"] == f"http://{host}/page"
    recorded = {tag for span in tracer.finished_spans() for tag in span.tags}
    assert recorded >= set(ATTRIBUTES.split())
    assert long_tags(tracer, limit) == long_tags(downstream_tracer, limit) == []


def test_error_message_and_stack_are_cut_to_max_tag_length(tracer: MockTracer) -> None:
    """The error message and stack of a failing view are strings of at most max_tag_length."""
    app = build(tracer)
    request = Request.blank("/failing", headers=SECRETS)
    with pytest.raises(RuntimeError, match=r"^failed: x+Bearer$"):
        request.get_response(app)
    (span,) = tracer.finished_spans()
    (log,) = span.logs
    assert len(log.key_values["message"]) == MAX_TAG_LENGTH
    assert len(log.key_values["stack"]) == MAX_TAG_LENGTH
    assert log.key_values["stack"].endswith("Bearer\n")
    assert long_tags(tracer) == []


def test_sensitive_names_are_configurable(tracer: MockTracer) -> None:
    """tracing.sensitive_headers and tracing.sensitive_query_params replace the defaults."""
    app = build(
        tracer,
        **{
            "tracing.sensitive_headers": "x-internal cookie",
            "tracing.sensitive_query_params": "page",
            "tracing.capture_request_headers": "x-internal x-api-key",
            "tracing.traced_attributes": "url",
            "tracing.max_tag_length": "1024",
        },
    )
    request = Request.blank(
        f"/page?{QUERY}", headers={"X-Internal": "internal", "X-Api-Key": "visible"}
    )
    request.get_response(app)
    (span,) = tracer.finished_spans()
    assert span.tags["http.request.header.x-internal"] == REDACTED
    assert span.tags["http.request.header.x-api-key"] == "visible"
    expected_query = QUERY.replace("page=2", f"page={REDACTED}")
    assert span.tags["http.url"] == f"http://localhost/page?{expected_query}"
    assert span.tags["url"] == f"http://localhost/page?{expected_query}"
