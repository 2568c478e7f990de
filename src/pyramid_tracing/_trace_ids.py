"""A span's ids whatever the tracer, and the response headers that give them to the caller.

``tracing.response_trace_headers`` sends the server span's ids back with the response, so a
browser or a caller can find the trace of a request it made:

* ``traceresponse``: W3C Trace Context Level 2, ``00-<trace id>-<span id>-<flags>``;
* ``server-timing``: ``Server-Timing: traceparent;desc="00-<trace id>-<span id>-<flags>"``,
  which browsers expose to scripts through the Resource Timing API.

Both are listed in ``Access-Control-Expose-Headers`` so that a cross-origin page may read them.
"""

from __future__ import annotations

from typing import Any, Final

from opentracing import Span

from .typing import Response

__all__ = ["add_trace_headers", "span_ids"]

_U128: Final = (1 << 128) - 1
_U64: Final = (1 << 64) - 1
_EXPOSE: Final = "Access-Control-Expose-Headers"
_HEADER_NAMES: Final = {"traceresponse": "traceresponse", "server-timing": "Server-Timing"}


def span_ids(span: Span) -> tuple[int, int, bool] | None:
    """``(trace_id, span_id, sampled)`` of ``span``, or ``None`` when its tracer has no ids.

    The OpenTelemetry shim's context wraps OpenTelemetry's; jaeger-client, basictracer and
    MockTracer keep integers (jaeger-client's flags and basictracer's ``sampled`` say whether
    the span is sampled; MockTracer samples everything).
    """
    context: Any = span.context
    unwrap = getattr(context, "unwrap", None)
    if unwrap is not None:
        otel = unwrap()
        return otel.trace_id, otel.span_id, bool(otel.trace_flags.sampled)
    trace_id = getattr(context, "trace_id", None)
    span_id = getattr(context, "span_id", None)
    if type(trace_id) is not int or type(span_id) is not int:
        return None
    sampled = getattr(context, "sampled", None)
    if sampled is None:
        flags = getattr(context, "flags", None)
        sampled = True if flags is None else bool(flags & 1)
    return trace_id, span_id, bool(sampled)


def _traceparent(ids: tuple[int, int, bool] | None) -> str | None:
    if ids is None:
        return None
    trace_id, span_id, sampled = ids
    if not (0 < trace_id <= _U128 and 0 < span_id <= _U64):
        return None  # W3C forbids all-zero ids, and they must fit their fields
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def add_trace_headers(
    ids: tuple[int, int, bool] | None, response: Response, names: tuple[str, ...]
) -> None:
    """Add the ``names`` headers (``traceresponse``, ``server-timing``) for a span's ``ids``."""
    value = _traceparent(ids)
    if value is None:
        return
    headers = response.headers
    for name in names:
        if name == "traceresponse":
            headers["traceresponse"] = value
        else:
            # Added, not set: the app may send timings of its own. Once: a streamed body's
            # span adds its headers before the body and again when it finishes (_body).
            timing = f'traceparent;desc="{value}"'
            if timing not in headers.getall("Server-Timing"):
                headers.add("Server-Timing", timing)
    exposed = [item.strip() for item in headers.get(_EXPOSE, "").split(",") if item.strip()]
    known = {item.lower() for item in exposed}
    exposed += [_HEADER_NAMES[name] for name in names if name not in known]
    headers[_EXPOSE] = ", ".join(exposed)
