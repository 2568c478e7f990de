"""Trace ids in log lines: a logging filter and formatter, and a structlog processor.

Nothing here touches the root logger or any handler on import: attach
:class:`TraceContextFilter` to your handlers, or name :class:`TraceFormatter` in the logging
configuration (``[formatter_generic] class = pyramid_tracing.logging.TraceFormatter``), and
use ``%(trace_id)s`` and ``%(span_id)s`` in the format, and ``%(trace_sampled)s`` (whether
the trace is exported: with a sampler, most ids lead to no trace).

The ids are those of the active span of the current context (the request's span, or a child
such as a ``@traced`` function's):

* with the OpenTelemetry backend (or the OpenTracing shim), the W3C forms: 32 and 16 lowercase hex
  digits, as in ``traceparent`` and in every OpenTelemetry backend;
* with the other tracers (jaeger-client, basictracer, MockTracer), their integer ids as
  lowercase hex, zero-padded to 16 digits (32 for a 128-bit jaeger trace id), which is how
  the Jaeger UI shows and finds them;
* outside a span, empty strings, so that a format using them never fails.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Final

import opentracing

from ._trace_ids import span_ids
from ._tracing import current_tracing

__all__ = [
    "TraceContextFilter",
    "TraceFormatter",
    "add_trace_context",
    "trace_context",
    "trace_sampled",
]

_NO_FIELDS: Final = ("", "", False)
_U64: Final = (1 << 64) - 1


def _hex(value: object, digits: int) -> str:
    if isinstance(value, int):
        return format(value, f"0{digits if value <= _U64 else 32}x")
    return "" if value is None else str(value)


def _fields() -> tuple[str, str, bool]:
    """``(trace_id, span_id, sampled)`` of the active span, one lookup; never raises."""
    tracing = current_tracing()
    try:
        if tracing is None:
            tracer = opentracing.global_tracer()
        else:
            backend = tracing._backend
            if backend.w3c_ids:
                # OpenTelemetry's current span: no OpenTracing view is made for a log line.
                ids = backend.active_ids()
                if ids is None:
                    return _NO_FIELDS
                return format(ids[0], "032x"), format(ids[1], "016x"), ids[2]
            tracer = backend.tracer
        if type(tracer) is opentracing.Tracer:
            return _NO_FIELDS
        span = tracer.active_span
        if span is None:
            return _NO_FIELDS
        found = span_ids(span)
        sampled = found is not None and found[2]
        context: Any = span.context
        unwrap = getattr(context, "unwrap", None)
        if unwrap is not None:
            # The OpenTelemetry shim: its context wraps OpenTelemetry's, with W3C-sized ids.
            otel_context = unwrap()
            return (
                format(otel_context.trace_id, "032x"),
                format(otel_context.span_id, "016x"),
                sampled,
            )
        return (
            _hex(getattr(context, "trace_id", None), 16),
            _hex(getattr(context, "span_id", None), 16),
            sampled,
        )
    except Exception:
        # Logging must never fail because of tracing; a failure here is not worth a log line
        # either (it would be logged through this very filter).
        return _NO_FIELDS


def trace_context() -> tuple[str, str]:
    """``(trace_id, span_id)`` of the active span, or ``("", "")`` outside a span.

    The tracer is that of the request being served, else the OpenTracing global tracer.
    Never raises: a tracer that fails gives empty ids.
    """
    trace_id, span_id, _ = _fields()
    return trace_id, span_id


def trace_sampled() -> bool:
    """Whether the active span is sampled: its trace is exported. ``False`` outside a span.

    With a sampler (``tracing.otel.sampler = traceidratio``, a jaeger-client probabilistic
    sampler) an unsampled request still has ids, and its log lines carry them, but no trace
    has them. MockTracer samples everything. Never raises: a tracer that fails gives ``False``.

    .. versionadded:: 0.2.0
    """
    return _fields()[2]


def _set_fields(record: logging.LogRecord) -> None:
    """Set the fields a record does not carry yet, with one look at the active span."""
    if hasattr(record, "trace_id") and hasattr(record, "trace_sampled"):
        return
    trace_id, span_id, sampled = _fields()
    if not hasattr(record, "trace_id"):
        record.trace_id, record.span_id = trace_id, span_id
    if not hasattr(record, "trace_sampled"):
        record.trace_sampled = sampled


class TraceContextFilter(logging.Filter):
    """A :class:`logging.Filter` that sets ``trace_id``, ``span_id`` and ``trace_sampled``.

    Attach it to a handler (a filter on a logger does not see the records of its children).
    It never drops a record, and keeps ids a record already carries.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the ids to ``record``; always keep it."""
        _set_fields(record)
        return True


class TraceFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose format may use the trace fields of the filter.

    ``%(trace_id)s``, ``%(span_id)s`` and ``%(trace_sampled)s``, as
    :class:`TraceContextFilter` sets them.

    It takes the arguments of :class:`logging.Formatter`, so a ``logging.config.fileConfig``
    (or PasteDeploy) INI file can name it: ``class = pyramid_tracing.logging.TraceFormatter``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Add the ids to ``record`` (unless it has them), then format it."""
        _set_fields(record)
        return super().format(record)


def add_trace_context(
    logger: object, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor adding ``trace_id``, ``span_id`` and ``trace_sampled``.

    Outside a span it adds nothing (a structlog renderer needs no placeholder); keys already in
    the event are kept.
    """
    trace_id, span_id, sampled = _fields()
    if trace_id:
        event_dict.setdefault("trace_id", trace_id)
        event_dict.setdefault("span_id", span_id)
        event_dict.setdefault("trace_sampled", sampled)
    return event_dict
