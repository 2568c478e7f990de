"""What the export warnings say: the collector's HTTP answer, and nothing on a closed stream.

* :class:`Answers` sees every HTTP answer of the OTLP/HTTP exporter through a response hook
  of the :class:`requests.Session` it is given (``OTLPSpanExporter(session=...)``), so that a
  failed export is told apart: no answer (unreachable: refused, timed out) or an answer
  (``answered 404 Not Found``).
* :class:`ClosedStreamGuard` keeps a record away from a handler whose stream is closed: a
  test runner closes the streams it captured before the exporter's thread logs at exit, and
  the logging module would print a ``--- Logging error ---`` block for each record.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import requests

__all__ = ["Answers", "ClosedStreamGuard", "answer_text", "guard_loggers", "http_session"]

#: Statuses that mean the credentials are wrong: the warning says where they come from.
_AUTH_STATUSES: Final = frozenset({401, 403})
#: A credential provider makes the exporter build its own session (which we then cannot watch).
_CREDENTIAL_VARIABLES: Final = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)
#: The loggers of the exporters' modules, besides the package's own.
_EXPORTER_MODULES: Final = "opentelemetry.exporter."


def answer_text(status: int, reason: str) -> str:
    """``answered 404 Not Found``; for 401 and 403, where the credentials come from."""
    text = f"answered {status} {reason}" if reason else f"answered {status}"
    if status in _AUTH_STATUSES:
        return f"{text}: check tracing.otel.headers"
    return text


class Answers:
    """The collector's last error answer during the current export, if it gave one."""

    def __init__(self) -> None:
        #: :func:`answer_text` of the last answer of 400 or more; None: none (or a success).
        self.last: str | None = None

    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """The session's response hook: remember an error answer, forget it on a success."""
        status = response.status_code
        self.last = answer_text(status, response.reason or "") if status >= 400 else None


def http_session(answers: Answers) -> requests.Session | None:
    """A session whose answers ``answers`` sees; None when a credential provider is set.

    With ``OTEL_PYTHON_EXPORTER_OTLP_HTTP_*CREDENTIAL_PROVIDER``, the exporter makes the
    session itself, and a failure cannot be told apart (it is then reported as unreachable).
    """
    if any(os.environ.get(name) for name in _CREDENTIAL_VARIABLES):
        return None
    import requests

    session = requests.Session()
    session.hooks["response"].append(answers.on_response)
    return session


class ClosedStreamGuard(logging.Filter):
    """Keeps a record away from the handlers whose stream is closed, and only from those."""

    def filter(self, record: logging.LogRecord) -> bool:
        """True when no handler the record would reach is closed; else it emits it itself."""
        handlers = _reached(logging.getLogger(record.name))
        if not any(_closed(handler) for handler in handlers):
            return True
        # What Logger.callHandlers does, without the closed ones: a handler left behind by a
        # test runner must not silence the others (pytest's caplog, a file).
        for handler in handlers:
            if not _closed(handler) and record.levelno >= handler.level:
                handler.handle(record)
        return False


def _reached(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record of ``logger`` reaches, or the last resort when there is none."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        handlers.extend(current.handlers)
        current = current.parent if current.propagate else None
    if not handlers and logging.lastResort is not None:
        handlers.append(logging.lastResort)
    return handlers


def _closed(handler: logging.Handler) -> bool:
    return getattr(getattr(handler, "stream", None), "closed", False) is True


_guard: Final = ClosedStreamGuard()


def guard_loggers(*names: str) -> None:
    """Put the guard on ``names`` and on the logger of every exporter module imported so far.

    Each module logs under its own name (``logging.getLogger(__name__)``), and a logger's
    filters only see the records of that logger: the guard goes on each of them.
    """
    exporters = [name for name in list(sys.modules) if name.startswith(_EXPORTER_MODULES)]
    for name in (*names, *exporters):
        logging.getLogger(name).addFilter(_guard)  # addFilter adds a filter only once
