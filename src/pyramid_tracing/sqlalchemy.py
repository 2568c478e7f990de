"""One client span per SQL statement, for every SQLAlchemy engine (the ``sqlalchemy`` extra).

``tracing.instrument = sqlalchemy`` (with ``render transaction`` or not) calls
:func:`instrument` at startup. It listens on SQLAlchemy's :class:`~sqlalchemy.engine.Engine`
*class*, so every engine is covered, sync or asyncio, created before or after, by whatever
add-on. A statement gets a span only inside a trace (a child of the active span), and only
for an application that lists ``sqlalchemy``; bound parameters are never recorded.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Final

from opentracing.ext import tags as ext_tags
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ._failures import failures
from ._semconv import OPENTRACING, STABLE
from ._tracing import Tracing, current_tracing

__all__ = ["instrument", "is_instrumented", "uninstrument"]

# Where the statement's span waits for its end: the execution context is made per execution.
_SPAN_ATTR: Final = "_pyramid_tracing_span"
_FEATURE: Final = "sqlalchemy"

_lock = threading.Lock()
_fallback: Tracing | None = None
# The tags every statement of an engine shares, computed once per engine.
# Per engine, per vocabulary: what every statement span of the engine gets.
_engine_tags: weakref.WeakKeyDictionary[Engine, dict[str, dict[str, object]]] = (
    weakref.WeakKeyDictionary()
)


def instrument() -> None:
    """Trace the statements of every SQLAlchemy engine, existing and future (idempotent).

    Outside a request, statements are traced with the OpenTracing global tracer when it has
    an active span.
    """
    global _fallback
    with _lock:
        if _fallback is None:
            from ._settings import TracingSettings

            _fallback = Tracing(settings=TracingSettings(instrument=(_FEATURE,)))
        if not event.contains(Engine, "before_cursor_execute", _before_cursor_execute):
            event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
            event.listen(Engine, "after_cursor_execute", _after_cursor_execute)
            event.listen(Engine, "handle_error", _handle_error)


def uninstrument() -> None:
    """Remove the listeners :func:`instrument` installed (for tests and shutdown)."""
    with _lock:
        if event.contains(Engine, "before_cursor_execute", _before_cursor_execute):
            event.remove(Engine, "before_cursor_execute", _before_cursor_execute)
            event.remove(Engine, "after_cursor_execute", _after_cursor_execute)
            event.remove(Engine, "handle_error", _handle_error)


def is_instrumented() -> bool:
    """Whether the statement listeners are installed on :class:`~sqlalchemy.engine.Engine`."""
    return event.contains(Engine, "before_cursor_execute", _before_cursor_execute)


def _tags_of(engine: Engine, semconv: str) -> dict[str, object]:
    """The tags every statement of ``engine`` gets, in the ``tracing.semconv`` vocabulary."""
    cached = _engine_tags.get(engine)
    tags = None if cached is None else cached.get(semconv)
    if tags is None:
        url = engine.url
        tags = {ext_tags.SPAN_KIND: ext_tags.SPAN_KIND_RPC_CLIENT}
        if semconv != STABLE:
            tags[ext_tags.COMPONENT] = "sqlalchemy"
            tags[ext_tags.DATABASE_TYPE] = "sql"
            tags["db.system"] = engine.dialect.name
            if url.database:
                tags[ext_tags.DATABASE_INSTANCE] = url.database
            if url.host:
                tags[ext_tags.PEER_HOSTNAME] = url.host
                tags[ext_tags.PEER_ADDRESS] = f"{url.host}:{url.port}" if url.port else url.host
            if url.port:
                tags[ext_tags.PEER_PORT] = url.port
        if semconv != OPENTRACING:
            # OpenTelemetry's database conventions (stable since semconv 1.26).
            tags["db.system.name"] = engine.dialect.name
            if url.database:
                tags["db.namespace"] = url.database
            if url.host:
                tags["server.address"] = url.host
            if url.port:
                tags["server.port"] = url.port
        _engine_tags.setdefault(engine, {})[semconv] = tags
    return tags


def _operation(statement: str) -> str:
    # The statement's first keyword (SELECT, INSERT, WITH...): few distinct names, unlike
    # statements, so that backends can group the spans.
    head = statement.lstrip()[:16].split(None, 1)
    return head[0].upper() if head and head[0].isalpha() else "SQL"


def _before_cursor_execute(
    conn: Any,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    if context is None:
        return
    tracing = current_tracing()
    if tracing is None:
        tracing = _fallback
        if tracing is None:
            return
    elif _FEATURE not in tracing.settings.instrument:
        return
    try:
        backend = tracing._backend
        recorded = backend.active_recorded()
        if recorded is None:
            return  # outside a trace, or in a dropped one
        tags = None
        if recorded:
            semconv = tracing.settings.semconv
            tags = dict(_tags_of(conn.engine, semconv))
            text = tracing.policy.truncate(statement)
            if semconv != STABLE:
                tags[ext_tags.DATABASE_STATEMENT] = text
            if semconv != OPENTRACING:
                tags["db.query.text"] = text
        # Not recorded (not sampled): the child keeps the parent's decision, without tags.
        span = backend.start_child(_operation(statement), tags, active=False, root=False)
        if span is None:
            return
    except Exception as exc:
        failures.report("starting a SQL statement span", exc)
        return
    setattr(context, _SPAN_ATTR, (span, tracing))


def _end(context: Any, exception: BaseException | None) -> None:
    found: tuple[Any, Tracing] | None = getattr(context, _SPAN_ATTR, None)
    if found is None:
        return
    setattr(context, _SPAN_ATTR, None)
    span, tracing = found
    backend = tracing._backend
    try:
        if exception is not None and backend.recording(span):
            backend.record_error(span, exception)
        backend.end(span)
    except Exception as exc:
        failures.report("finishing a SQL statement span", exc)


def _after_cursor_execute(
    conn: Any,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    if context is not None:
        _end(context, None)


def _handle_error(exception_context: Any) -> None:
    context = exception_context.execution_context
    if context is not None:
        _end(context, exception_context.original_exception)
