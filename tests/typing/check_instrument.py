"""Usage examples that mypy --strict checks: log correlation and the SQL listeners."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog
from typing_extensions import assert_type

from pyramid_tracing import TracingSettings
from pyramid_tracing import sqlalchemy as traced_sqlalchemy
from pyramid_tracing.logging import (
    TraceContextFilter,
    TraceFormatter,
    add_trace_context,
    trace_context,
)

handler = logging.StreamHandler()
handler.addFilter(TraceContextFilter())
handler.setFormatter(TraceFormatter("%(trace_id)s %(span_id)s %(message)s"))
assert_type(trace_context(), tuple[str, str])

# add_trace_context is a structlog processor.
processor: structlog.typing.Processor = add_trace_context
event: MutableMapping[str, Any] = add_trace_context(None, "info", {"event": "x"})

traced_sqlalchemy.instrument()
assert_type(traced_sqlalchemy.is_instrumented(), bool)
traced_sqlalchemy.uninstrument()

assert_type(TracingSettings.from_settings({}).instrument, tuple[str, ...])
