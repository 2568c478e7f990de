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
