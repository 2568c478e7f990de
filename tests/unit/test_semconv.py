"""The stable HTTP attributes for unusual requests: methods, hosts, ports, no Host header."""

from __future__ import annotations

import pytest
from webob import Request

from pyramid_tracing._semconv import client_start, server_start
from pyramid_tracing._tags import TagPolicy

POLICY = TagPolicy(
    sensitive_headers=frozenset({"authorization"}),
    sensitive_query_params=frozenset({"token"}),
    max_tag_length=64,
)


def attributes_for(method: str = "GET", **environ: str) -> dict[str, object]:
    request = Request.blank("/items", environ={"REQUEST_METHOD": method})
    request.environ.pop("HTTP_HOST", None)
    request.environ.update(environ)
    return server_start(POLICY, request, method)


def test_an_unknown_method_is_other_with_the_original_kept() -> None:
    """A method the conventions do not know is ``_OTHER``, the original cut to length."""
    found = attributes_for("PURGE" + "X" * 100, HTTP_HOST="example.com")
    assert found["http.request.method"] == "_OTHER"
    assert found["http.request.method_original"] == ("PURGE" + "X" * 100)[:50] + "...[truncated]"


@pytest.mark.parametrize(
    ("host", "address", "port"),
    [
        ("[2001:db8::1]:8443", "2001:db8::1", 8443),
        ("[2001:db8::1]", "2001:db8::1", 80),
        ("shop.example:notaport", "shop.example", 80),
        ("shop.example:8080", "shop.example", 8080),
    ],
)
def test_host_header_gives_server_address_and_port(host: str, address: str, port: int) -> None:
    """IPv6 literals, missing and invalid ports: the address, and the scheme's port if need be."""
    found = attributes_for(HTTP_HOST=host)
    assert (found["server.address"], found["server.port"]) == (address, port)


def test_without_a_host_header_the_server_name_and_port_are_used() -> None:
    """HTTP/1.0 without Host: SERVER_NAME and SERVER_PORT, and the client and agent kept."""
    found = attributes_for(
        SERVER_NAME="internal.example",
        SERVER_PORT="8000",
        SERVER_PROTOCOL="HTTP/1.0",
        HTTP_USER_AGENT="probe/1.0",
        REMOTE_ADDR="10.0.0.7",
        QUERY_STRING="token=s3cr3t&page=2",
    )
    assert found["server.address"] == "internal.example"
    assert found["server.port"] == 8000
    assert found["network.protocol.version"] == "1.0"
    assert found["user_agent.original"] == "probe/1.0"
    assert found["client.address"] == "10.0.0.7"
    assert found["url.query"] == "token=[REDACTED]&page=2"


@pytest.mark.parametrize(
    ("url", "port"),
    [("https://api.example/v1?token=abc", 443), ("http://api.example:notaport/x", 80)],
)
def test_client_attributes_redact_the_url_and_default_the_port(url: str, port: int) -> None:
    """url.full is redacted; an invalid or missing port falls back to the scheme's."""
    found = client_start(POLICY, "POST", url)
    assert found["http.request.method"] == "POST"
    assert "abc" not in str(found["url.full"])
    assert found["server.address"] == "api.example"
    assert found["server.port"] == port
