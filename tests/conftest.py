"""Shared fixtures: a MockTracer on pyramid_tracing's ScopeManager and small real Pyramid apps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import opentracing
import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_tracing import ScopeManager
from pyramid_tracing._failures import failures
from pyramid_tracing.otel import _shutdown
from tests.helpers.apps import build_app


@pytest.fixture
def tracer() -> MockTracer:
    """OpenTracing's reference tracer on the contextvars ScopeManager."""
    return MockTracer(scope_manager=ScopeManager())


@pytest.fixture(autouse=True)
def _reset_failure_log() -> Iterator[None]:
    failures.reset()
    yield
    failures.reset()


@pytest.fixture(autouse=True)
def _no_exporter_outlives_its_test() -> Iterator[None]:
    """The providers pyramid_tracing built for a test are shut down after it, as at exit.

    Outside ``memory`` they are shared and live until the process exits, by design. In a test
    session, their batch and periodic metric threads would export, long after the test and to
    a collector long gone, and warn in whichever test is running then (60 s later, for the
    default metric interval).
    """
    before = {id(shutdown) for shutdown in _shutdown._shutdowns}
    yield
    for shutdown in list(_shutdown._shutdowns):
        if id(shutdown) not in before:
            shutdown()


@pytest.fixture(autouse=True)
def _restore_global_tracer() -> Iterator[None]:
    saved = opentracing.tracer
    yield
    opentracing.tracer = saved


@pytest.fixture
def make_app(tracer: MockTracer) -> Callable[..., TestApp]:
    """Build an app traced by ``tracer`` with extra settings."""

    def make(
        settings: dict[str, Any] | None = None,
        configure: Callable[[Configurator], None] | None = None,
    ) -> TestApp:
        return build_app({"tracing.tracer": tracer, **(settings or {})}, configure)

    return make
