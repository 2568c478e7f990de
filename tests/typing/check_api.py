"""Usage examples that mypy --strict checks: the decorators keep exact signatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from opentracing.mocktracer import MockTracer
from typing_extensions import assert_type

from pyramid_tracing import ScopeManager, Tracing, TracingSettings, traced

tracer = MockTracer(scope_manager=ScopeManager())
tracing = Tracing(tracer, settings=TracingSettings.from_settings({"tracing.trace_all": "true"}))


@traced
def add(a: int, b: int = 1) -> int:
    return a + b


@traced("multiply", tags={"unit": "test"}, tracing=tracing)
def multiply(a: float, *, by: float) -> float:
    return a * by


@traced
async def fetch(url: str) -> bytes:
    await asyncio.sleep(0)
    return url.encode()


@traced("numbers")
def numbers(limit: int) -> Iterator[int]:
    yield from range(limit)


@traced
async def stream(limit: int) -> AsyncIterator[str]:
    for i in range(limit):
        yield str(i)


@tracing.trace("headers", "method")
def view(request: object) -> dict[str, str]:
    return {"ok": "yes"}


assert_type(add(1), int)
assert_type(multiply(2.0, by=3.0), float)
assert_type(asyncio.run(fetch("x")), bytes)
assert_type(list(numbers(3)), list[int])
assert_type(stream(2), AsyncIterator[str])
assert_type(view(object()), dict[str, str])
assert_type(tracing.settings.max_tag_length, int)
