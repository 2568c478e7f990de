"""Fixtures of the integration tests: two traced services on loopback (see helpers.live), and
a real collector (see helpers.collector)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.collector import run_collector
from tests.helpers.live import Services, services


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A rotel-agent on loopback for one test: its OTLP/HTTP URL and its log file."""
    with run_collector(tmp_path) as started:
        yield started


@pytest.fixture(scope="module")
def live() -> Iterator[Services]:
    """The two services, started once per test module and stopped after it."""
    with services() as running:
        yield running


@pytest.fixture
def svc(live: Services) -> Services:
    """The running services with their spans and the client views' errors cleared."""
    live.tracer.reset()
    live.views.errors.clear()
    return live
