"""Fixtures of the integration tests: two traced services on loopback (see helpers.live)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.live import Services, services


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
