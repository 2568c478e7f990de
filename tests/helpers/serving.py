"""Serve WSGI apps with waitress on ephemeral 127.0.0.1 ports, inside the test process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import waitress


@contextmanager
def serve(app: Any, *, threads: int = 4) -> Iterator[str]:
    """Run ``app`` under waitress on a free loopback port; yield its base URL; stop it after."""
    server: Any = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)
    stopping = threading.Event()

    def run() -> None:
        # waitress's own run() loops until its socket map is empty; closing sockets from
        # another thread while it sits in select() fails with EBADF, so the loop thread
        # polls in short steps and closes everything itself.
        while not stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        # Let running tasks finish before their channels close under them (waitress would log
        # "Exception when servicing" for a task whose socket was closed from this thread).
        server.task_dispatcher.shutdown()
        for channel in list(server._map.values()):
            channel.close()

    thread = threading.Thread(target=run, name="waitress-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stopping.set()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the waitress server did not stop"
