"""mypy --strict sees request_tracing()'s members typed, with or without opentracing's stubs.

tests/unit/test_typing_without_stubs.py checks this file again with every third-party package
hidden from mypy (so opentracing, Pyramid and the stubs are all Any).
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from pyramid_tracing import RequestTracing, request_tracing
from pyramid_tracing.typing import ScopeLike, SpanContextLike, SpanLike, TracerLike


def view(request: Any) -> dict[str, str]:
    tracing = request_tracing(request)
    assert_type(tracing, RequestTracing)
    assert_type(tracing.active_span, SpanLike | None)
    assert_type(tracing.span, SpanLike | None)
    assert_type(tracing.tracer, TracerLike)
    with tracing.start_active_span("load", tags={"user": 1}) as scope:
        assert_type(scope, ScopeLike)
        span = scope.span
        assert_type(span, SpanLike)
        assert_type(span.set_tag("rows", 3), SpanLike)
        assert_type(span.context, SpanContextLike)
        assert_type(span.get_baggage_item("tenant"), str | None)
    headers = tracing.inject({"Accept": "application/json"})
    assert_type(headers, dict[str, str])
    return headers
