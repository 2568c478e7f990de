"""Export that holds up in production: a quiet dead collector, and what was lost.

:class:`ReportingExporter` wraps the OTLP exporter: one warning naming the endpoint when it
becomes unreachable or answers with an error (and one when it accepts spans again) instead of
the SDK's line per retry, and a count of the spans it delivered; :class:`Delivery` counts the
spans that ended, so that the exit can say how many were lost. The end of the process (exit,
SIGTERM) is :mod:`._shutdown`'s.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import weakref
from collections.abc import Sequence
from typing import Final

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._export_report import Answers, guard_loggers

__all__ = ["Delivery", "ReportingExporter", "logger"]

logger = logging.getLogger("pyramid_tracing")

# The SDK loggers that write one line per failed batch, retry or dropped span, and the
# beginnings of those lines. pyramid_tracing reports the same facts once (see the filter).
_NOISY_LOGGERS: Final = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.sdk._shared_internal",
)
_NOISY_STARTS: Final = (
    "Transient error",
    "Failed to export",
    "Exporter already shutdown",
    "Shutdown in progress",
    "Queue full",
    "Exception while exporting",
)


class _Quiet(logging.Filter):
    """Drops the SDK's per-batch export lines (and its queue's): the exit counts the losses."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if not message.startswith(_NOISY_STARTS):
            return True
        if message.startswith("Transient error"):
            # The exporter retries for up to its timeout before export() returns: say now
            # that the collector is unreachable, not when the retries are exhausted.
            for reporter in list(_reporters):
                if reporter.exporting:
                    reporter.mark_down()
        return False


_reporters: weakref.WeakSet[ReportingExporter] = weakref.WeakSet()
_quiet = _Quiet()
_quiet_installed = False


def _install_filter() -> None:
    global _quiet_installed
    if not _quiet_installed:
        _quiet_installed = True
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).addFilter(_quiet)
    # After _quiet: the guard may hand a record to the handlers itself.
    guard_loggers(logger.name, *_NOISY_LOGGERS)


class ReportingExporter(SpanExporter):
    """An exporter wrapper that reports an unreachable collector once and counts losses.

    ``answers`` sees the collector's HTTP answers (see :func:`._export_report.http_session`):
    the warning then says what it answered instead of calling it unreachable.
    """

    def __init__(
        self, exporter: SpanExporter, endpoint: str, answers: Answers | None = None
    ) -> None:
        _install_filter()
        self._exporter = exporter
        self.endpoint = endpoint
        self._answers = answers
        #: Spans that could not be delivered (failed or aborted batches).
        self.dropped = 0
        #: Spans the collector accepted.
        self.delivered = 0
        self._down = False
        self._aborted = False
        self._shut = False
        #: An export is under way (the SDK's retry lines then concern this exporter).
        self.exporting = False
        self._lock = threading.Lock()
        _reporters.add(self)
        if hasattr(os, "register_at_fork"):
            # A lock held by another thread at fork() would stay held in the child for ever.
            reinit = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (method := reinit()) and method())

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self.exporting = False
        # The spans this process hands over start here (the parent exports its own).
        self.dropped = self.delivered = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export a batch; a failure is counted, and reported when it is the first in a row."""
        if self._aborted:
            with self._lock:
                self.dropped += len(spans)
            return SpanExportResult.FAILURE
        self.exporting = True
        if self._answers is not None:
            self._answers.last = None
        try:
            result = self._exporter.export(spans)
        except Exception as exc:
            logger.debug("the OTLP exporter raised %r", exc)
            result = SpanExportResult.FAILURE
        finally:
            self.exporting = False
        if result is SpanExportResult.SUCCESS:
            with self._lock:
                was_down, self._down = self._down, False
                self.delivered += len(spans)
            if was_down:
                logger.warning("the collector at %s accepts spans again", self.endpoint)
        else:
            with self._lock:
                self.dropped += len(spans)
            self.mark_down()
        return result

    def mark_down(self) -> None:
        """Warn that the collector failed (what it answered, or unreachable), once an outage."""
        with self._lock:
            was_down, self._down = self._down, True
        if not was_down and not self._aborted:
            answer = None if self._answers is None else self._answers.last
            logger.warning(
                "the collector at %s %s; spans are dropped until it accepts them (no further "
                "warning until then)",
                self.endpoint,
                "is unreachable" if answer is None else answer,
            )

    def abort(self) -> None:
        """Give up: drop every further batch and interrupt the exporter's retries."""
        self._aborted = True
        self.shutdown()

    def shutdown(self) -> None:
        """Shut the wrapped exporter down (once)."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
        try:
            self._exporter.shutdown()
        except Exception as exc:
            logger.debug("shutting the OTLP exporter down raised %r", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return self._exporter.force_flush(timeout_millis)


class Delivery(SpanProcessor):
    """Counts the spans that end, to say at exit how many never reached the collector.

    Added to a provider with OTLP exporters. What an exporter did not deliver, of the spans
    that ended, was lost: in a failed or aborted batch, dropped by a full queue, or still
    queued when the shutdown's time ran out. Counted from two public hooks (this processor's
    ``on_end`` and the exporter's ``export``), not from the batch processor's queue, which
    the SDK does not show.
    """

    def __init__(self, reporters: Sequence[ReportingExporter]) -> None:
        self.reporters = tuple(reporters)
        # A C counter: next() is atomic under the GIL and costs less than a lock per span.
        self._ended = itertools.count()
        self._reads = 0  # each read takes one from the counter
        if hasattr(os, "register_at_fork"):
            reinit = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (method := reinit()) and method())

    def _after_fork(self) -> None:
        # The parent exports what it queued; the child counts from here (as its exporters do).
        self._ended = itertools.count()
        self._reads = 0

    def on_end(self, span: ReadableSpan) -> None:
        """Count a span that ended, if sampled.

        The batch processors export sampled spans only, and a sampler named by
        ``OTEL_TRACES_SAMPLER`` may record a span without sampling it.
        """
        if span.context.trace_flags.sampled:
            next(self._ended)

    def ended(self) -> int:
        """How many spans have ended so far."""
        ended = next(self._ended) - self._reads
        self._reads += 1
        return ended

    def undelivered(self) -> int:
        """The spans that ended and that an exporter did not deliver."""
        ended = self.ended()
        return sum(max(ended - reporter.delivered, 0) for reporter in self.reporters)
