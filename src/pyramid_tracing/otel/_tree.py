"""The tree exporter (``tracing.otel.exporter = tree``): each finished trace as a tree.

:func:`format_trace` renders spans of one trace; :class:`TreeProcessor` collects the spans of
every tree processor of the process and prints a trace when its last open span ends.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, Final

import attrs
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

__all__ = ["TREE_PRINTER", "TreeProcessor", "format_trace"]

# Attributes the tree leaves out: the line shows them already (name, status, error kind) or
# every span of the kind has them, in either vocabulary (tracing.semconv). http.url and url.full
# are kept on client spans only, where they name the called service.
_TREE_HIDDEN: Final = frozenset(
    {
        "component",
        "span.kind",
        "http.method",
        "http.route",
        "pyramid.route",
        "peer.hostname",
        "peer.port",
        "error",
        "error.type",
        "http.request.method",
        "url.scheme",
        "url.path",
        "url.query",
        "server.address",
        "server.port",
        "network.protocol.version",
        "user_agent.original",
        "client.address",
    }
)
_TREE_CLIENT_ONLY: Final = frozenset({"http.url", "url.full"})
_TREE_VALUE_WIDTH: Final = 60
# How many traces with open spans the tree keeps; past it the oldest is printed as it is.
_TREE_PENDING_LIMIT: Final = 1000
# How many printed trace ids it remembers, to mark later spans of the trace as a continuation.
_TREE_PRINTED_LIMIT: Final = 10_000


def format_trace(spans: Sequence[ReadableSpan]) -> str:
    """Render finished spans of one trace as an indented tree, one line per span.

    The first line names the trace, its services, the number of spans and the time from the
    first start to the last end. Each span line shows the service, the operation name, the start
    offset from the first span's start (``+12.0 ms``), the duration, ``OK`` or ``ERROR``, and the
    tags that say what the span did: the status code, the URL of client spans, the error kind,
    and your own tags; the tags every HTTP span has are left out. Time in a parent span not
    covered by its children shows as the gap between one child's offset plus duration and the
    next child's offset. Children are in start order; a span whose parent is not among
    ``spans`` (the caller's span in another service) is a root.

    This is what ``tracing.otel.exporter = tree`` prints. For spans kept in memory::

        print(format_trace(memory_exporter(tracer).get_finished_spans()))

    Args:
        spans: finished spans, all of the same trace (as :func:`memory_exporter` returns them,
            or as a tracer provider's span processor receives them).

    Returns:
        The tree as text, without a trailing newline; an empty string for no spans.

    .. versionadded:: 0.2.0
    """
    if not spans:
        return ""
    ids = {_span_id(span) for span in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = None if span.parent is None else span.parent.span_id
        children.setdefault(parent if parent in ids else None, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda span: (span.start_time or 0, span.name))
    origin = min(span.start_time or 0 for span in spans)
    end = max(span.end_time or span.start_time or 0 for span in spans)
    rows: list[tuple[str, str]] = []
    services: dict[str, None] = {}

    def walk(span: ReadableSpan, prefix: str, branch: str) -> None:
        services[_service(span)] = None
        rows.append((f"{prefix}{branch}{_service(span)}  {span.name}", _timing(span, origin)))
        below = children.get(_span_id(span), [])
        inner = prefix + ("" if not branch else "   " if branch == "└─ " else "│  ")
        for index, child in enumerate(below):
            walk(child, inner, "└─ " if index == len(below) - 1 else "├─ ")

    for root in children.get(None, []):
        walk(root, "", "")
    trace_id = spans[0].context.trace_id if spans[0].context is not None else 0
    count = "1 span" if len(spans) == 1 else f"{len(spans)} spans"
    header = (
        f"trace {trace_id:032x}  {', '.join(services)}  {count}  {(end - origin) / 1e6:.1f} ms"
    )
    width = max(len(label) for label, _ in rows)
    lines = [header] + [f"  {label:<{width}}  {timing}".rstrip() for label, timing in rows]
    return "\n".join(lines)


def _span_id(span: ReadableSpan) -> int:
    return span.context.span_id if span.context is not None else 0


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes.get(SERVICE_NAME, "unknown_service"))


def _timing(span: ReadableSpan, origin: int) -> str:
    start = span.start_time or origin
    duration = ((span.end_time or start) - start) / 1e6
    failed = span.status.status_code is StatusCode.ERROR
    tags = [f"{key}={_short(value)}" for key, value in _tree_tags(span)]
    offset = f"+{(start - origin) / 1e6:.1f} ms"
    return f"{offset:>11} {duration:8.1f} ms  {'ERROR' if failed else 'OK':<5}  {' '.join(tags)}"


def _tree_tags(span: ReadableSpan) -> Iterator[tuple[str, object]]:
    attributes = span.attributes or {}
    client = attributes.get("span.kind") == "client" or span.kind is SpanKind.CLIENT
    for key, value in attributes.items():
        if key in _TREE_HIDDEN or (key in _TREE_CLIENT_ONLY and not client):
            continue
        yield key, value
    for event in span.events:
        kind = (event.attributes or {}).get("error.kind")
        if isinstance(kind, str):
            yield "error.kind", kind
        elif event.name == "exception":
            yield "error.kind", (event.attributes or {}).get("exception.type", "?")


def _short(value: object) -> str:
    text = str(value)
    text = text if " " not in text else repr(text)
    return text if len(text) <= _TREE_VALUE_WIDTH else f"{text[: _TREE_VALUE_WIDTH - 1]}…"


@attrs.define
class _PendingTrace:
    spans: list[ReadableSpan] = attrs.Factory(list)
    open: set[int] = attrs.Factory(set)


class _TreePrinter:
    """Collects the spans of every tree processor of the process; prints complete traces.

    One printer for the process, so that when several services run in one process (the demo,
    a test) a trace through them prints once, as one tree, when its last open span ends.
    """

    def __init__(self) -> None:
        # Span processors are called from every thread that starts or ends a span.
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, _PendingTrace] = OrderedDict()
        self._printed: OrderedDict[int, None] = OrderedDict()
        self._processors = 0

    def register(self) -> None:
        with self._lock:
            self._processors += 1

    def started(self, trace_id: int, span_id: int) -> None:
        with self._lock:
            pending = self._pending.get(trace_id)
            if pending is None:
                pending = self._pending[trace_id] = _PendingTrace()
                if len(self._pending) > _TREE_PENDING_LIMIT:
                    oldest, trace = self._pending.popitem(last=False)
                    self._write(oldest, trace)
            pending.open.add(span_id)

    def ended(self, span: ReadableSpan) -> None:
        if span.context is None:
            return
        trace_id = span.context.trace_id
        with self._lock:
            pending = self._pending.setdefault(trace_id, _PendingTrace())
            pending.spans.append(span)
            pending.open.discard(span.context.span_id)
            if not pending.open:
                del self._pending[trace_id]
                self._write(trace_id, pending)

    def unregister(self) -> None:
        """A processor shut down; the last one prints the traces that still have open spans."""
        with self._lock:
            self._processors -= 1
            if self._processors > 0:
                return
            while self._pending:
                trace_id, pending = self._pending.popitem(last=False)
                self._write(trace_id, pending)

    def _write(self, trace_id: int, pending: _PendingTrace) -> None:
        if not pending.spans:
            return
        text = format_trace(pending.spans)
        if trace_id in self._printed:
            text = text.replace("\n", " (continued)\n", 1)
        if pending.open:
            count = "1 span" if len(pending.open) == 1 else f"{len(pending.open)} spans"
            text += f"\n  (and {count} of this trace not finished)"
        self._printed[trace_id] = None
        if len(self._printed) > _TREE_PRINTED_LIMIT:
            self._printed.popitem(last=False)
        # sys.stderr is looked up on each write, so that redirections made later apply.
        stream = sys.stderr
        if stream is not None:
            stream.write(f"{text}\n")
            stream.flush()


TREE_PRINTER: Final = _TreePrinter()


class TreeProcessor(SpanProcessor):
    """The span processor behind ``tracing.otel.exporter = tree``."""

    def __init__(self, printer: _TreePrinter) -> None:
        self._printer = printer
        self._shut_down = False
        printer.register()

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        """Note the span as open in its trace."""
        if self._shut_down:
            return
        context = span.get_span_context()
        self._printer.started(context.trace_id, context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        """Add the span to its trace; print the trace when no span of it is open any more."""
        if self._shut_down:
            return
        self._printer.ended(span)

    def shutdown(self) -> None:
        """Print what is left, once every tree processor of the process has shut down."""
        if not self._shut_down:
            self._shut_down = True
            self._printer.unregister()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is queued: complete traces are printed at once."""
        return True
