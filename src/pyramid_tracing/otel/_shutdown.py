"""The end of the process: every provider flushed and shut down within its time budget.

* :func:`shutdown_bounded` flushes and shuts a provider down within a time budget, then
  reports how many spans never reached the collector; it runs at exit and on SIGTERM.
* :func:`register_exit`: one exit hook for every provider of the process, however many apps
  it builds; a provider whose app is gone is not kept alive by it.
* :func:`flush_on_sigterm` installs a SIGTERM handler only while SIGTERM has its default
  action (the process would die without running ``atexit``): it flushes, then dies as before.
* :func:`flush_globals_on_sigterm`: the same handler also flushes OpenTelemetry's global
  tracer and meter providers (``tracing.otel.provider = global``: opentelemetry-instrument's),
  which it does not shut down: their owner does that at exit.
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

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from ._export import Delivery, ReportingExporter, logger

__all__ = ["flush_globals_on_sigterm", "flush_on_sigterm", "register_exit", "shutdown_bounded"]

Provider = TracerProvider | MeterProvider  # what the exit hook shuts down

# Seconds waited after aborting the exporter for the export thread to give up.
_ABORT_GRACE: Final = 0.5
# Seconds SIGTERM waits beyond the longest shutdown timeout (e.g. for a lock that the code it
# interrupted holds) before the process dies of the signal anyway.
_SIGTERM_MARGIN: Final = 1.0


def shutdown_bounded(provider: Provider, delivery: Delivery | None, timeout: float) -> int:
    """Flush and shut ``provider`` down within about ``timeout`` seconds; report the losses.

    Args:
        provider: the tracer or meter provider.
        delivery: what counts its spans and their delivery (``None``: nothing to report).
        timeout: seconds; then the exporters are aborted.

    Returns:
        How many spans never reached the collector (0 without ``delivery``).
    """
    reporters = () if delivery is None else delivery.reporters
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
    if not done.wait(timeout):
        for reporter in reporters:
            reporter.abort()
        done.wait(_ABORT_GRACE)
    dropped = 0 if delivery is None else delivery.undelivered()
    if dropped:
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


class _Shutdown:
    """The bounded shutdown of one provider, run once: at exit or on SIGTERM.

    It holds the provider weakly: a provider whose app is gone (a test's in-memory one) is
    not kept alive by the hook, and is skipped.
    """

    __slots__ = ("_provider", "_ran", "budget", "delivery", "timeout")

    def __init__(self, provider: Provider, delivery: Delivery | None, timeout: float) -> None:
        self._provider = weakref.ref(provider)
        self.delivery = delivery
        self.timeout = timeout
        #: How long it may take, in seconds (it bounds itself; SIGTERM waits no longer).
        self.budget = timeout + _ABORT_GRACE
        self._ran = threading.Event()

    def alive(self) -> bool:
        return self._provider() is not None and not self._ran.is_set()

    def __call__(self) -> object:
        if self._ran.is_set():
            return None
        self._ran.set()
        provider = self._provider()
        if provider is None:
            return None
        return shutdown_bounded(provider, self.delivery, self.timeout)


# Every provider to shut down, for the one exit hook and the one SIGTERM handler.
_shutdowns: list[_Shutdown] = []
_sigterm_lock = threading.Lock()
_exit_hook = False


def register_exit(
    provider: Provider, delivery: Delivery | None, timeout: float
) -> Callable[[], object]:
    """Shut ``provider`` down at exit (and on SIGTERM when installed), once, within ``timeout``.

    One exit hook serves every provider of the process, however many apps it builds.

    Returns:
        The shutdown, to run it earlier.
    """
    global _exit_hook
    shutdown = _Shutdown(provider, delivery, timeout)
    with _sigterm_lock:
        _shutdowns[:] = [each for each in _shutdowns if each.alive()]
        _shutdowns.append(shutdown)
        if not _exit_hook:
            _exit_hook = True
            atexit.register(_shutdown_all, _ABORT_GRACE)
    return shutdown


class _GlobalFlush:
    """The flush of OpenTelemetry's global tracer and meter providers, on SIGTERM.

    The providers are looked up when it runs (a distro may set them after the app is built);
    one that cannot flush (the API's proxy or no-op providers) is skipped. ``timeout_millis``
    is passed on, but the SDK's batch span processor does not honour it (it exports all, and
    the exporter retries for up to its own timeout): the wait for the flushes is bounded by
    :attr:`budget` (and SIGTERM's margin), after which the process dies of the signal.
    """

    __slots__ = ("budget", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.budget = timeout + _ABORT_GRACE

    def __call__(self) -> None:
        from opentelemetry import metrics, trace

        threads = []
        for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
            flush = getattr(provider, "force_flush", None)
            if callable(flush):
                thread = threading.Thread(
                    target=self._flush, args=(flush,), name="pyramid-tracing-flush", daemon=True
                )
                thread.start()
                threads.append(thread)
        for thread in threads:
            thread.join(self.budget)

    def _flush(self, flush: Callable[..., object]) -> None:
        try:
            flush(timeout_millis=int(self.timeout * 1000))
        except Exception as exc:
            logger.debug("flushing a global provider raised %r", exc)


# The global providers' flush on SIGTERM, once set up (its timeout the longest asked for).
_global_flush: _GlobalFlush | None = None


def flush_globals_on_sigterm(timeout: float) -> bool:
    """Flush the global tracer and meter providers on SIGTERM, within ``timeout`` seconds.

    Only while SIGTERM has its default action and from the main thread, like
    :func:`flush_on_sigterm`; nothing is done at exit, where the providers' owner shuts them
    down.

    Returns:
        Whether pyramid_tracing's handler is installed.
    """
    global _global_flush
    with _sigterm_lock:
        if _global_flush is None or _global_flush.timeout < timeout:
            _global_flush = _GlobalFlush(timeout)
    return flush_on_sigterm()


def _shutdown_all(margin: float, *, globals_too: bool = False) -> None:
    # Side by side (spans and metrics): each shutdown is bounded, and so is the wait for all.
    registered: list[_Shutdown | _GlobalFlush] = list(_shutdowns)
    if globals_too and _global_flush is not None:
        registered.append(_global_flush)
    threads = [
        threading.Thread(target=shutdown, name="pyramid-tracing-shutdown-all", daemon=True)
        for shutdown in registered
    ]
    for thread in threads:
        thread.start()
    deadline = (
        time.monotonic() + max((shutdown.budget for shutdown in registered), default=0.0) + margin
    )
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    try:
        _shutdown_all(_SIGTERM_MARGIN, globals_too=True)
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
