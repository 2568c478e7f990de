"""Fail-open reporting: a tracer or hook failure is logged once per interval, never raised."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

__all__ = ["FailureLog", "failures"]

logger = logging.getLogger("pyramid_tracing")


class FailureLog:
    """Logs each distinct failure (where it happened, exception type) at most once per interval.

    A broken tracer fails on every request; logging each one would flood the logs. The count of
    the failures suppressed since the last message goes into the next one.
    """

    __slots__ = ("_interval", "_last", "_lock", "_suppressed")

    # A bound on distinct keys, so that a stream of new exception types cannot grow memory.
    MAX_KEYS = 1024

    def __init__(self, interval: float = 60.0) -> None:
        self._interval = interval
        self._last: dict[tuple[str, type[BaseException]], float] = {}
        self._suppressed: dict[tuple[str, type[BaseException]], int] = {}
        self._lock = threading.Lock()

    def report(self, where: str, exc: BaseException) -> None:
        """Record that ``where`` failed with ``exc``; log it unless logged recently."""
        key = (where, type(exc))
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            if len(self._last) >= self.MAX_KEYS:
                self._last.clear()
                self._suppressed.clear()
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        # A broken logging setup must not break requests either.
        with contextlib.suppress(Exception):
            logger.warning(
                "%s failed with %s; the request goes on untouched "
                "(%d more such failures since the last message)",
                where,
                type(exc).__name__,
                suppressed,
                exc_info=exc,
            )

    def reset(self) -> None:
        """Forget what was logged (for tests)."""
        with self._lock:
            self._last.clear()
            self._suppressed.clear()


#: The process-wide failure log used by every part of the add-on.
failures = FailureLog()
