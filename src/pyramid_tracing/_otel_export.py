"""Export that holds up in production: a bounded exit, a quiet dead collector, SIGTERM.

* :class:`ReportingExporter` wraps the OTLP exporter: one warning naming the endpoint when
  it becomes unreachable (and one when it is back) instead of the SDK's line per retry, and
  a count of the spans it could not deliver.
* :func:`shutdown_bounded` flushes and shuts a provider down within a time budget, then
  reports how many spans were dropped; it runs at exit and on SIGTERM.
* :func:`flush_on_sigterm` installs a SIGTERM handler only while SIGTERM has its default
  action (the process would die without running ``atexit``): it flushes, then dies as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._export_report import Answers, guard_loggers

__all__ = ["ReportingExporter", "flush_on_sigterm", "register_exit", "shutdown_bounded"]

logger = logging.getLogger("pyramid_tracing")

# The SDK loggers that write one line per failed batch, retry or dropped span, and the
# beginnings of those lines. pyramid_tracing reports the same facts once (see the filter).
_NOISY_LOGGERS: Final = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
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
# Seconds waited after aborting the exporter for the export thread to give up.
_ABORT_GRACE: Final = 0.5
# Seconds SIGTERM waits beyond the longest shutdown timeout (e.g. for a lock that the code it
# interrupted holds) before the process dies of the signal anyway.
_SIGTERM_MARGIN: Final = 1.0


class _Quiet(logging.Filter):
    """Drops the SDK's per-batch export lines and counts the spans its queue dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.queue_drops = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if not message.startswith(_NOISY_STARTS):
            return True
        if message.startswith("Queue full"):
            self.queue_drops += 1
        elif message.startswith("Transient error"):
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


def _queued(provider: TracerProvider) -> int:
    """Spans still waiting in the provider's batch processors (0 if that cannot be told)."""
    total = 0
    processors = getattr(provider._active_span_processor, "_span_processors", ())
    for processor in processors:
        queue = getattr(getattr(processor, "_batch_processor", None), "_queue", None)
        if queue is not None:
            total += len(queue)
    return total


def shutdown_bounded(
    provider: TracerProvider, reporters: Sequence[ReportingExporter], timeout: float
) -> int:
    """Flush and shut ``provider`` down within about ``timeout`` seconds; report the losses.

    Returns:
        How many spans were dropped (not delivered), including what the batch queue dropped.
    """
    done = threading.Event()

    def run() -> None:
        try:
            provider.shutdown()
        except Exception as exc:
            logger.debug("shutting the tracer provider down raised %r", exc)
        finally:
            done.set()

    # A thread: the flush must not deadlock on a lock held by the code a signal interrupted.
    thread = threading.Thread(target=run, name="pyramid-tracing-shutdown", daemon=True)
    thread.start()
    left = 0
    if not done.wait(timeout):
        for reporter in reporters:
            reporter.abort()
        if not done.wait(_ABORT_GRACE):
            left = _queued(provider)
    dropped = left + sum(reporter.dropped for reporter in reporters) + _quiet.queue_drops
    _quiet.queue_drops = 0
    if dropped and reporters:
        _report_at_exit(dropped, reporters)
    return dropped


def _report_at_exit(dropped: int, reporters: Sequence[ReportingExporter]) -> None:
    endpoints = ", ".join(sorted({reporter.endpoint for reporter in reporters}))
    # At exit, a test runner may have closed the stream a handler writes to: the report is
    # then lost instead of printing "--- Logging error ---" blocks.
    raise_exceptions, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        logger.warning(
            "%d span(s) were not exported to %s (the collector was unreachable, answered "
            "with an error, or was too slow at exit)",
            dropped,
            endpoints,
        )
    finally:
        logging.raiseExceptions = raise_exceptions


# -- at exit, and on SIGTERM -----------------------------------------------------------------

# (shutdown, its time budget in seconds), for SIGTERM.
_shutdowns: list[tuple[Callable[[], object], float]] = []
_sigterm_lock = threading.Lock()


def register_exit(shutdown: Callable[[], object], budget: float) -> Callable[[], object]:
    """Run ``shutdown`` at exit (and on SIGTERM when installed); once, whichever comes first.

    ``budget`` is how long it may take, in seconds (it bounds itself; SIGTERM waits no longer).
    """
    ran = threading.Event()

    def once() -> object:
        if ran.is_set():
            return None
        ran.set()
        return shutdown()

    atexit.register(once)
    _shutdowns.append((once, budget + _ABORT_GRACE))
    return once


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    try:
        # Side by side: each shutdown is bounded, and so is the wait for all of them.
        registered = list(_shutdowns)
        threads = [
            threading.Thread(target=shutdown, name="pyramid-tracing-sigterm", daemon=True)
            for shutdown, _ in registered
        ]
        for thread in threads:
            thread.start()
        deadline = (
            time.monotonic()
            + max((budget for _, budget in registered), default=0.0)
            + _SIGTERM_MARGIN
        )
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
    finally:
        # Then what SIGTERM did before: the process dies of the signal.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def flush_on_sigterm() -> bool:
    """Flush the registered providers on SIGTERM while SIGTERM has its default action.

    A handler that the app or server installed (gunicorn's, for instance) is left alone: that
    process exits through ``atexit``, where the providers are flushed anyway. Only the main
    thread can install a handler; elsewhere this does nothing.

    Returns:
        Whether pyramid_tracing's handler is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    with _sigterm_lock:
        current: Any = signal.getsignal(signal.SIGTERM)
        if current is _on_sigterm:
            return True
        if current is not signal.SIG_DFL:
            return False
        signal.signal(signal.SIGTERM, _on_sigterm)
        return True
