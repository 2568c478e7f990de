"""OpenTelemetry's stable HTTP semantic conventions for the server and client spans.

``tracing.semconv`` chooses the vocabulary: ``opentracing`` (``http.url``,
``http.status_code``, an ``error`` log), ``stable`` (``http.request.method``, ``url.path``,
``http.response.status_code``, ``error.type``, ``exception`` events), or ``both``. Redaction
and truncation are the tag policy's, as for the OpenTracing tags.
"""

from __future__ import annotations

import traceback
from typing import Any, Final
from urllib.parse import urlsplit

from opentracing import Span

from ._tags import TagPolicy
from ._urls import request_path
from .typing import Request

__all__ = [
    "BOTH",
    "KNOWN_METHODS",
    "OPENTRACING",
    "SEMCONV_CHOICES",
    "STABLE",
    "client_start",
    "fail_with_status",
    "record_error",
    "server_start",
]

#: The values of ``tracing.semconv``.
SEMCONV_CHOICES: Final = ("opentracing", "stable", "both")
OPENTRACING: Final = "opentracing"
STABLE: Final = "stable"
BOTH: Final = "both"

# The methods the conventions know; any other is recorded as "_OTHER" with the original.
KNOWN_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def _method(attributes: dict[str, object], policy: TagPolicy, method: str) -> None:
    if method in KNOWN_METHODS:
        attributes["http.request.method"] = method
    else:
        attributes["http.request.method"] = "_OTHER"
        attributes["http.request.method_original"] = policy.truncate(method)


def _host_port(host: str) -> tuple[str, int | None]:
    """``host[:port]`` (or ``[v6]:port``) split; the port ``None`` when absent or invalid."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = host.partition(":")
    return name, int(port) if port.isdigit() else None


def server_start(policy: TagPolicy, request: Request, method: str) -> dict[str, object]:
    """The stable attributes known before routing: method, URL parts, server, client."""
    environ = request.environ
    limit = policy.max_tag_length
    # One dict display for what every request has; the length tests before each truncate
    # spare the happy path a call per value (this runs on every recorded request).
    path = request_path(request)
    scheme = environ.get("wsgi.url_scheme", "http")
    if method in KNOWN_METHODS:
        attributes: dict[str, object] = {
            "http.request.method": method,
            "url.scheme": scheme,
            "url.path": path if len(path) <= limit else policy.truncate(path),
        }
    else:
        attributes = {
            "http.request.method": "_OTHER",
            "http.request.method_original": policy.truncate(method),
            "url.scheme": scheme,
            "url.path": policy.truncate(path),
        }
    query = environ.get("QUERY_STRING")
    if query:
        attributes["url.query"] = policy.truncate(policy.query_string(query))
    host = environ.get("HTTP_HOST")
    if isinstance(host, str) and host:
        name, port = _host_port(host)
        if port is None:
            port = _DEFAULT_PORTS.get(scheme)
    else:
        name = environ.get("SERVER_NAME", "")
        server_port = environ.get("SERVER_PORT", "")
        port = int(server_port) if str(server_port).isdigit() else None
    if name:
        attributes["server.address"] = name if len(name) <= limit else policy.truncate(name)
    if port is not None:
        attributes["server.port"] = port
    protocol = environ.get("SERVER_PROTOCOL", "")
    if isinstance(protocol, str) and protocol.upper().startswith("HTTP/"):
        attributes["network.protocol.version"] = protocol[5:]
    agent = environ.get("HTTP_USER_AGENT")
    if agent:
        attributes["user_agent.original"] = (
            agent if len(agent) <= limit else policy.truncate(agent)
        )
    client = environ.get("REMOTE_ADDR")
    if client:
        attributes["client.address"] = client
    return attributes


def client_start(policy: TagPolicy, method: str, url: str) -> dict[str, object]:
    """The stable attributes of an outbound request: method, full URL (redacted), server."""
    attributes: dict[str, object] = {}
    _method(attributes, policy, method)
    attributes["url.full"] = policy.url(url)
    parts = urlsplit(url)
    if parts.hostname:
        attributes["server.address"] = parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None  # an invalid port: the HTTP client reports it
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    if port is not None:
        attributes["server.port"] = port
    return attributes


def record_error(span: Span, exception: BaseException, policy: TagPolicy) -> None:
    """Record ``exception`` as the conventions say: ``error.type``, an event, ERROR status.

    On an OpenTelemetry span (the shim's), the SDK's own ``record_exception`` writes the
    ``exception`` event and the status gets the message as its description; on another
    tracer's span the same event is logged with ``log_kv`` and ``error=true`` is set.
    """
    span.set_tag("error.type", type(exception).__qualname__)
    message = policy.truncate(_safe_str(exception))
    unwrap = getattr(span, "unwrap", None)
    otel_span: Any = unwrap() if unwrap is not None else None
    if otel_span is not None and hasattr(otel_span, "record_exception"):
        from opentelemetry.trace import Status, StatusCode

        otel_span.record_exception(exception)
        otel_span.set_status(Status(StatusCode.ERROR, message))
        return
    stack = "".join(
        traceback.format_exception(type(exception), exception, exception.__traceback__)
    )
    kind = type(exception)
    module = kind.__module__
    span.set_tag("error", True)
    span.log_kv(
        {
            "event": "exception",
            "exception.type": kind.__qualname__
            if module == "builtins"
            else f"{module}.{kind.__qualname__}",
            "exception.message": message,
            "exception.stacktrace": policy.truncate_head(stack),
        }
    )


def fail_with_status(span: Span, status: int) -> None:
    """A failed response without an exception: ``error.type`` is the status code."""
    span.set_tag("error.type", str(status))
    unwrap = getattr(span, "unwrap", None)
    otel_span: Any = unwrap() if unwrap is not None else None
    if otel_span is not None and hasattr(otel_span, "set_status"):
        from opentelemetry.trace import StatusCode

        otel_span.set_status(StatusCode.ERROR)
    else:
        span.set_tag("error", True)


def _safe_str(exception: BaseException) -> str:
    try:
        return str(exception)
    except Exception:
        return f"<unprintable {type(exception).__name__}>"
