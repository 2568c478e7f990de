"""The HTTP server metrics of a request, recorded at its finish, on the OpenTelemetry backend.

``http.server.request.duration`` (and, opted in, ``http.server.active_requests`` and the body
sizes) with the stable conventions' attributes: the method, the scheme, the status, the route
pattern (never the path), the protocol version and ``error.type``. They are recorded before
the server span ends, in its context, so that the SDK's trace-based exemplars carry its trace
id; a request that the sampler drops is measured all the same (metrics are not sampled).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any, Final

from .._backends.opentelemetry import OpenTelemetryBackend, OtelScope
from .._failures import failures
from .._semconv import KNOWN_METHODS
from .._settings import TracingSettings
from .._state import RequestState, request_state
from .._tags import TagPolicy
from ..otel._metrics import ServerInstruments
from ..typing import Request, Response, StartSpanHook
from .opentelemetry import OtelSpans
from .tags import _status

__all__ = ["MeteredSpans"]

_OTHER: Final = "_OTHER"


class MeteredSpans(OtelSpans):
    """:class:`OtelSpans` that also records the HTTP server metrics of each request."""

    def __init__(
        self,
        tracing: object,
        backend: OpenTelemetryBackend,
        policy: TagPolicy,
        settings: TracingSettings,
        start_hook: StartSpanHook | None,
        instruments: ServerInstruments,
    ) -> None:
        super().__init__(tracing, backend, policy, settings, start_hook)
        self._duration = instruments.duration
        self._active = instruments.active_requests
        self._request_size = instruments.request_body_size
        self._response_size = instruments.response_body_size
        self._hook: Callable[[Request], Mapping[str, Any]] | None = (
            settings.metrics_attributes_hook
        )
        # The active requests' attributes, one mapping per (method, scheme): the +1 and the -1
        # of a request must carry equal attributes, and building them once is cheaper.
        self._active_attributes: dict[tuple[str, str], dict[str, str]] = {}
        if instruments.include_excluded:
            self.measure_excluded = self._measure

    def _measure(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        """Serve a request that tracing excludes: no span, its metrics all the same.

        Recorded when the handler returns (a streamed body's time is not counted), with no
        exemplar (there is no span to point at).
        """
        started = perf_counter()
        counted = self._count_in(request)
        try:
            response = handler(request)
        except BaseException as exc:
            self._record_excluded(started, request, None, exc, counted)
            raise
        self._record_excluded(started, request, response, None, counted)
        return response

    def _record_excluded(
        self,
        started: float,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        counted: bool,
    ) -> None:
        # Set by start() below the tween (request.tracing leaves it unset until then).
        if getattr(request_state(request), "_started", 0.0):
            # A view decorated with @tracing.trace() gave the request a span, and its metrics.
            if counted:
                self._count_out(request)
            return
        escaped = exception is not None
        self._record(started, request, response, exception, escaped=escaped, counted=counted)

    def _count_in(self, request: Request) -> bool:
        """Count the request active; whether it was (to count it out at the end)."""
        active = self._active
        if active is None:
            return False
        try:
            active.add(1, self._active_for(request))
        except Exception as exc:
            failures.report("recording the HTTP server metrics", exc)
            return False
        return True

    def _count_out(self, request: Request) -> None:
        """Count the request out of the active requests (if measured)."""
        active = self._active
        if active is not None:
            try:
                active.add(-1, self._active_for(request))
            except Exception as exc:
                failures.report("recording the HTTP server metrics", exc)

    def _active_for(self, request: Request) -> dict[str, str]:
        method = request.method
        scheme = request.environ.get("wsgi.url_scheme", "http")
        key = (method, scheme)
        attributes = self._active_attributes.get(key)
        if attributes is None:
            attributes = {
                "http.request.method": method if method in KNOWN_METHODS else _OTHER,
                "url.scheme": scheme,
            }
            if len(self._active_attributes) < 64:  # the known methods, twice
                self._active_attributes[key] = attributes
        return attributes

    def start(self, request: Request, state: RequestState) -> OtelScope | None:
        """Start the server span; note the time (and count the request active)."""
        state._started = perf_counter()
        if not self._count_in(request):
            return super().start(request, state)
        scope = super().start(request, state)
        if scope is None:
            self._count_out(request)
        return scope

    def finish(
        self,
        state: RequestState,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        *,
        escaped: bool = False,
    ) -> None:
        """Record the metrics in the span's context, then finish the span; never raises."""
        if state._scope is not None:
            self._record(state._started, request, response, exception, escaped=escaped)
        super().finish(state, request, response, exception, escaped=escaped)

    def _record(
        self,
        started: float,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        *,
        escaped: bool,
        counted: bool = True,
    ) -> None:
        """Record the request's metrics (and count it out if ``counted``); never raises."""
        try:
            self._record_all(perf_counter() - started, request, response, exception, escaped)
        except Exception as exc:
            failures.report("recording the HTTP server metrics", exc)
        finally:
            if counted:
                self._count_out(request)

    def _record_all(
        self,
        elapsed: float,
        request: Request,
        response: Response | None,
        exception: BaseException | None,
        escaped: bool,
    ) -> None:
        environ = request.environ
        method = request.method
        attributes: dict[str, Any] = {
            "http.request.method": method if method in KNOWN_METHODS else _OTHER,
            "url.scheme": environ.get("wsgi.url_scheme", "http"),
        }
        status = _status(request, response, exception, escaped)
        if status is not None:
            attributes["http.response.status_code"] = status
        route = getattr(request, "matched_route", None)
        if route is not None:
            pattern = getattr(route, "pattern", None)
            if pattern is not None:
                attributes["http.route"] = pattern
        protocol = environ.get("SERVER_PROTOCOL")
        if isinstance(protocol, str) and protocol.startswith("HTTP/"):
            attributes["network.protocol.version"] = protocol[5:]
        if exception is not None and (status is None or status >= 500):
            attributes["error.type"] = type(exception).__qualname__
        elif status is not None and status >= 500:
            handled = getattr(request, "exception", None)
            attributes["error.type"] = (
                type(handled).__qualname__ if isinstance(handled, BaseException) else str(status)
            )
        hook = self._hook
        if hook is not None:
            try:
                attributes.update(hook(request))
            except Exception as exc:
                failures.report("the metrics_attributes_hook", exc)
        # No context argument (OpenTelemetry API 1.20 has none): the server span is current.
        duration = self._duration
        if duration is not None:
            duration.record(elapsed, attributes)
        if self._request_size is not None:
            length = environ.get("CONTENT_LENGTH")
            if isinstance(length, str) and length.isdigit():
                self._request_size.record(int(length), attributes)
            size = None if response is None else getattr(response, "content_length", None)
            if isinstance(size, int) and self._response_size is not None:
                self._response_size.record(size, attributes)
