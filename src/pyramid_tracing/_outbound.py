"""Client spans for outbound HTTP requests: the one core of the requests and httpx helpers.

The integrations only translate their own request and response objects; starting the span,
tagging it, injecting the trace context and failing open all happen here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import opentracing
from opentracing.ext import tags as ext_tags

from ._backends import Backend
from ._child_spans import default_tracing, resolve_backend
from ._failures import failures
from ._semconv import KNOWN_METHODS as _KNOWN
from ._semconv import OPENTRACING, STABLE, client_start
from ._tracing import Tracing, current_tracing

__all__ = ["ClientSpan", "Outbound", "check_tracing"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def check_tracing(
    function: str, tracing: object, tags: object
) -> tuple[Tracing | opentracing.Tracer | None, dict[str, object]]:
    """Validate the ``tracing`` and ``tags`` arguments of an outbound helper.

    Raises:
        TypeError: ``tracing`` is not a Tracing, a tracer or None, or ``tags`` is not a mapping.
    """
    if tracing is not None and not isinstance(tracing, Tracing | opentracing.Tracer):
        msg = (
            f"{function}() takes a pyramid_tracing.Tracing, an opentracing.Tracer or None "
            f"as tracing, got {tracing!r}"
        )
        raise TypeError(msg)
    if tags is not None and not isinstance(tags, Mapping):
        msg = f"{function}() takes a mapping of tag names to values as tags, got {tags!r}"
        raise TypeError(msg)
    return tracing, {str(key): value for key, value in (tags or {}).items()}


class Outbound:
    """Starts the client spans of one traced session or client; made once, used per request.

    Args:
        tracing: the Tracing or tracer used when no request is being served in the current
            context (the request's tracer wins, as for ``@traced``); ``None`` means the
            OpenTracing global tracer.
        component: the ``component`` tag (``requests``, ``httpx``).
        tags: extra tags set on every span.
    """

    __slots__ = ("_base_tags", "_tracing")

    def __init__(
        self,
        tracing: Tracing | opentracing.Tracer | None,
        component: str,
        tags: Mapping[str, object],
    ) -> None:
        self._tracing = tracing
        # Built once: every span starts from a copy of these.
        self._base_tags: dict[str, object] = {
            ext_tags.SPAN_KIND: ext_tags.SPAN_KIND_RPC_CLIENT,
            ext_tags.COMPONENT: component,
            **tags,
        }

    def _tracing_for_policy(self) -> Tracing:
        current = current_tracing()
        if current is not None:
            return current
        if isinstance(self._tracing, Tracing):
            return self._tracing
        return default_tracing()

    def start(self, method: str, url: str) -> ClientSpan | None:
        """Start the client span of one request actually sent, child of the active span.

        Returns:
            The started span with the trace headers to send, or ``None`` if the tracer failed
            (the request is then sent untraced). In a trace the sampler dropped, no span is
            started, and the headers carry the dropped trace on (its id, not sampled).
        """
        try:
            tracing = self._tracing_for_policy()
            backend = resolve_backend(self._tracing)
            method = method.upper()
            semconv = tracing.settings.semconv
            tags = dict(self._base_tags)
            if semconv != STABLE:
                tags[ext_tags.HTTP_METHOD] = method
                tags[ext_tags.HTTP_URL] = tracing.policy.url(url)
                _peer_tags(tags, url)
            if semconv == OPENTRACING:
                name = f"HTTP {method}"
            else:
                tags.update(client_start(tracing.policy, method, url))
                if semconv == STABLE:
                    del tags[ext_tags.COMPONENT]  # span.kind stays: it sets the span's kind
                # The conventions' client span name: the method alone (no route is known).
                name = method if method in _KNOWN else "HTTP"
            span = backend.start_child(name, tags, active=False, root=True)
        except Exception as exc:
            failures.report("starting an outbound HTTP client span", exc)
            return None
        headers: dict[str, str] = {}
        try:
            backend.inject(headers, span)
        except Exception as exc:
            failures.report("injecting the trace context into outbound headers", exc)
            # A half-written carrier could send a broken context: send none instead.
            headers = {}
        else:
            # Tracers may write non-string values; HTTP clients reject those as header values.
            headers = {str(name): str(value) for name, value in headers.items()}
        return ClientSpan(backend, span, headers, semconv)


def _peer_tags(tags: dict[str, object], url: str) -> None:
    parts = urlsplit(url)
    if parts.hostname:
        tags[ext_tags.PEER_HOSTNAME] = parts.hostname
    try:
        port = parts.port
    except ValueError:
        # An invalid port: the HTTP client reports it; the span just goes without peer.port.
        return
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    if port is not None:
        tags[ext_tags.PEER_PORT] = port


class ClientSpan:
    """The span of one outbound request and the trace headers to send with it."""

    __slots__ = ("_backend", "_semconv", "headers", "span")

    def __init__(
        self, backend: Backend, span: Any, headers: dict[str, str], semconv: str = OPENTRACING
    ) -> None:
        #: The client span's handle (started, not active); ``None`` in a dropped trace.
        self.span = span
        #: The headers the tracer injected; the integration adds them to a copy of its own.
        self.headers = headers
        self._backend = backend
        self._semconv = semconv

    def finish(self, status_code: int) -> None:
        """Tag the response status (an error for a 5xx, or a 4xx in the stable conventions)."""
        span = self.span
        if span is None:
            return
        backend = self._backend
        semconv = self._semconv
        try:
            tags: dict[str, object] = {}
            if semconv != STABLE:
                tags[ext_tags.HTTP_STATUS_CODE] = status_code
                if status_code >= 500:
                    tags[ext_tags.ERROR] = True
            if semconv != OPENTRACING:
                tags["http.response.status_code"] = status_code
            backend.set_attributes(span, tags)
            # For a client, the conventions count a 4xx as an error too.
            if semconv != OPENTRACING and status_code >= 400:
                backend.fail_with_status(span, status_code)
        except Exception as exc:
            failures.report("tagging an outbound HTTP client span", exc)
        self._finish()

    def fail(self, exception: BaseException) -> None:
        """Record ``exception`` (in the app's vocabulary) and finish the span."""
        span = self.span
        if span is None:
            return
        try:
            self._backend.record_error(span, exception)
        except Exception as exc:
            failures.report("tagging an outbound HTTP client span with its error", exc)
        self._finish()

    def _finish(self) -> None:
        try:
            self._backend.end(self.span)
        except Exception as exc:
            failures.report("finishing an outbound HTTP client span", exc)
