"""The SIGTERM handler is installed only where SIGTERM has its default action.

Each case runs in a fresh Python process, so that the test runner's own signal handling is
never touched.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("opentelemetry.sdk")

from tests.helpers.production import environment

SCRIPT = """
import signal, sys, threading
from pyramid_tracing import otel
mode = sys.argv[1]
def own(signum, frame):
    pass
if mode == "custom":
    signal.signal(signal.SIGTERM, own)
elif mode == "ignored":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
settings = {"tracing.otel.exporter": "memory"}
if mode.startswith("global"):
    settings = {"tracing.otel.provider": "global"}
if mode.endswith("off"):
    settings["tracing.otel.flush_on_sigterm"] = "false"
if mode == "thread":
    thread = threading.Thread(target=lambda: otel.tracer_from_settings(**settings))
    thread.start()
    thread.join()
else:
    otel.tracer_from_settings(**settings)
    otel.tracer_from_settings(**settings)  # a second tracer: still one handler
handler = signal.getsignal(signal.SIGTERM)
print(getattr(handler, "__qualname__", None) or getattr(handler, "name", handler))
"""


@pytest.mark.parametrize(
    ("mode", "handler"),
    [
        ("default", "_on_sigterm"),
        ("custom", "own"),
        ("ignored", "SIG_IGN"),
        ("off", "SIG_DFL"),
        ("thread", "SIG_DFL"),
        ("global", "_on_sigterm"),
        ("global-off", "SIG_DFL"),
    ],
)
def test_the_sigterm_handler_respects_what_is_installed(mode: str, handler: str) -> None:
    """Default action: ours (the global provider too); the app's handler or SIG_IGN: kept;
    off or off-main-thread: none."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == handler, done.stderr
