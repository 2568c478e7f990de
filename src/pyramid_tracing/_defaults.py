"""The defaults and the choices of the ``tracing.*`` settings (a leaf: no package import)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_SENSITIVE_HEADERS",
    "DEFAULT_SENSITIVE_QUERY_PARAMS",
    "INSTRUMENT_CHOICES",
    "OPERATION_NAME_CHOICES",
    "SEMCONV_CHOICES",
    "TRACE_HEADER_CHOICES",
]

#: Header names whose values are never recorded: credentials (HTTP, proxies, API gateways,
#: OAuth and cloud providers), session cookies, and the CSRF tokens of Pyramid and others.
DEFAULT_SENSITIVE_HEADERS: Final = frozenset(
    {
        "authorization",
        "cookie",
        "proxy-authorization",
        "set-cookie",
        "x-access-token",
        "x-amz-security-token",
        "x-api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-csrftoken",
        "x-forwarded-access-token",
        "x-forwarded-authorization",
        "x-goog-iap-jwt-assertion",
        "x-refresh-token",
        "x-session-token",
        "x-xsrf-token",
    }
)

#: Query parameter names whose values are redacted in ``http.url`` tags.
DEFAULT_SENSITIVE_QUERY_PARAMS: Final = frozenset(
    {
        "_csrf",
        "access_token",
        "api_key",
        "apikey",
        "assertion",
        "auth",
        "client_assertion",
        "client_secret",
        "code",
        "code_verifier",
        "csrf_token",
        "csrfmiddlewaretoken",
        "id_token",
        "jwt",
        "key",
        "passwd",
        "password",
        "pwd",
        "refresh_token",
        "samlresponse",
        "secret",
        "session_token",
        "sig",
        "signature",
        "token",
        "x-amz-credential",
        "x-amz-security-token",
        "x-amz-signature",
        "x-goog-credential",
        "x-goog-signature",
    }
)

#: The named strategies accepted by ``tracing.operation_name``.
OPERATION_NAME_CHOICES: Final = ("route_name", "route_pattern", "method_route")

#: What ``tracing.instrument`` may list (see :mod:`pyramid_tracing._instrument`).
INSTRUMENT_CHOICES: Final = ("render", "sqlalchemy", "transaction")
#: What ``tracing.response_trace_headers`` may list.
TRACE_HEADER_CHOICES: Final = ("server-timing", "traceresponse")

#: What ``tracing.semconv`` accepts (see :mod:`pyramid_tracing._semconv`).
SEMCONV_CHOICES: Final = ("opentracing", "stable", "both")
