"""A tracer that fails on purpose: MockTracer behind a wrapper that raises from chosen methods.

:class:`FaultyTracer` delegates every OpenTracing call to a real
:class:`~opentracing.mocktracer.MockTracer` (on pyramid_tracing's ScopeManager) and, before
delegating, asks its :class:`FaultPlan` whether this call should raise :class:`InjectedFault`
instead: on every call of the chosen methods, or at random with a fixed seed.

Two faults are placed where they hurt most, like a buggy tracer would:

* ``activate`` raises *after* the span was activated: the caller gets no scope, yet the span
  is active in its context;
* ``close`` raises *before* the scope is deactivated: the span stays active in the context.

:class:`Probe` is WSGI middleware that checks, on the serving thread itself, that no span is
active and no request Tracing is current before and after each request, and that exceptions
reach WSGI unchanged. :func:`scaled` and :func:`report_figures` give the long tests their
``make stress`` counts and record the figures of a run.
"""

from __future__ import annotations

import collections
import json
import os
import random
import threading
from collections.abc import Collection
from typing import Any

import opentracing
from opentracing import Reference, Scope, ScopeManager, Span, SpanContext, Tracer
from opentracing.mocktracer import MockTracer

from pyramid_tracing import ScopeManager as ContextScopeManager
from pyramid_tracing import current_tracing

__all__ = [
    "FAULT_KINDS",
    "STRESS",
    "FaultPlan",
    "FaultyTracer",
    "InjectedFault",
    "Probe",
    "active_span",
    "report_figures",
    "scaled",
]

#: Every method the plan can make fail (``close`` is the scope's, ``activate`` the manager's).
FAULT_KINDS = (
    "extract",
    "inject",
    "start_span",
    "start_active_span",
    "activate",
    "close",
    "set_tag",
    "log_kv",
    "set_operation_name",
    "finish",
)


class InjectedFault(RuntimeError):
    """What a :class:`FaultyTracer` raises instead of doing its job."""


class FaultPlan:
    """Which tracer methods fail: always (``rate=1``) or at random with a fixed seed.

    Thread-safe; ``injected`` counts the faults raised per method.
    """

    def __init__(self, kinds: Collection[str] = (), *, rate: float = 1.0, seed: int = 0) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            msg = f"Unknown fault kinds {sorted(unknown)!r}; choose from {FAULT_KINDS!r}"
            raise ValueError(msg)
        self.kinds = frozenset(kinds)
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()

    def check(self, kind: str) -> None:
        """Raise :class:`InjectedFault` if the plan says ``kind`` fails this time."""
        with self._lock:
            self.calls[kind] += 1
            if kind not in self.kinds:
                return
            if self.rate < 1.0 and self._random.random() >= self.rate:
                return
            self.injected[kind] += 1
        msg = f"injected fault in {kind}"
        raise InjectedFault(msg)


def _unwrap(value: Any) -> Any:
    return value.inner if isinstance(value, FaultySpan) else value


class FaultySpan(Span):
    """A span whose set_tag, log_kv, set_operation_name and finish may fail."""

    def __init__(self, tracer: FaultyTracer, inner: Span) -> None:
        super().__init__(tracer, inner.context)
        self.inner = inner
        self._plan = tracer.plan

    @property
    def context(self) -> SpanContext:
        return self.inner.context

    def set_operation_name(self, operation_name: str) -> Span:
        self._plan.check("set_operation_name")
        self.inner.set_operation_name(operation_name)
        return self

    def set_tag(self, key: str, value: str | bool | float) -> Span:
        self._plan.check("set_tag")
        self.inner.set_tag(key, value)
        return self

    def log_kv(self, key_values: dict[str, Any], timestamp: float | None = None) -> Span:
        self._plan.check("log_kv")
        self.inner.log_kv(key_values, timestamp)
        return self

    def set_baggage_item(self, key: str, value: str) -> Span:
        self.inner.set_baggage_item(key, value)
        return self

    def get_baggage_item(self, key: str) -> str | None:
        return self.inner.get_baggage_item(key)

    def finish(self, finish_time: float | None = None) -> None:
        self._plan.check("finish")
        self.inner.finish(finish_time)


class FaultyScope(Scope):
    """A scope whose close() may fail before it deactivates anything."""

    def __init__(
        self, manager: FaultyScopeManager, span: FaultySpan, inner: Scope, finish_on_close: bool
    ) -> None:
        super().__init__(manager, span)
        self.inner = inner
        self._finish_on_close = finish_on_close
        self._plan = manager.plan

    def close(self) -> None:
        # Before deactivation: the worst place, the span stays active in the context.
        self._plan.check("close")
        self.inner.close()
        if self._finish_on_close:
            self.span.finish()


class FaultyScopeManager(ScopeManager):
    """Delegates to a real ScopeManager; activate() may fail after activating the span."""

    def __init__(self, tracer: FaultyTracer, inner: ScopeManager) -> None:
        super().__init__()
        self._tracer = tracer
        self.inner = inner
        self.plan = tracer.plan

    def activate(self, span: Span, finish_on_close: bool) -> Scope:
        faulty = span if isinstance(span, FaultySpan) else FaultySpan(self._tracer, span)
        # The inner scope never finishes the span: FaultyScope.close() finishes the wrapper,
        # so that a finish fault is injected there too.
        inner = self.inner.activate(faulty.inner, False)
        scope = FaultyScope(self, faulty, inner, finish_on_close)
        # Remember the wrapper on the inner scope, so that `active` returns the same object.
        inner.__dict__["faulty_scope"] = scope
        self.plan.check("activate")
        return scope

    @property
    def active(self) -> Scope | None:
        inner = self.inner.active
        if inner is None:
            return None
        scope = inner.__dict__.get("faulty_scope")
        if scope is None:
            # Activated directly on the inner manager: wrap it now.
            span = FaultySpan(self._tracer, inner.span)
            scope = FaultyScope(self, span, inner, False)
        return scope


class FaultyTracer(Tracer):
    """A MockTracer behind a wrapper that raises :class:`InjectedFault` when ``plan`` says so.

    Args:
        plan: which methods fail and how often.
        inner: the real tracer; a MockTracer on pyramid_tracing's ScopeManager by default.
    """

    def __init__(self, plan: FaultPlan | None = None, inner: MockTracer | None = None) -> None:
        self.plan = plan if plan is not None else FaultPlan()
        self.inner = inner if inner is not None else MockTracer(ContextScopeManager())
        super().__init__(FaultyScopeManager(self, self.inner.scope_manager))

    def finished_spans(self) -> list[Any]:
        """The spans the inner MockTracer recorded as finished."""
        return self.inner.finished_spans()

    def reset(self) -> None:
        """Forget the finished spans."""
        self.inner.reset()

    def _start(
        self,
        operation_name: str,
        child_of: Any,
        references: list[Reference] | None,
        tags: dict[str, Any] | None,
        start_time: float | None,
        ignore_active_span: bool,
    ) -> FaultySpan:
        inner = self.inner.start_span(
            operation_name,
            child_of=_unwrap(child_of),
            references=references,
            tags=tags,
            start_time=start_time,
            ignore_active_span=ignore_active_span,
        )
        return FaultySpan(self, inner)

    def start_span(
        self,
        operation_name: str | None = None,
        child_of: Span | SpanContext | None = None,
        references: list[Reference] | None = None,
        tags: dict[str, Any] | None = None,
        start_time: float | None = None,
        ignore_active_span: bool = False,
    ) -> Span:
        self.plan.check("start_span")
        return self._start(
            operation_name or "", child_of, references, tags, start_time, ignore_active_span
        )

    def start_active_span(
        self,
        operation_name: str,
        child_of: Span | SpanContext | None = None,
        references: list[Reference] | None = None,
        tags: dict[str, Any] | None = None,
        start_time: float | None = None,
        ignore_active_span: bool = False,
        finish_on_close: bool = True,
    ) -> Scope:
        self.plan.check("start_active_span")
        span = self._start(
            operation_name, child_of, references, tags, start_time, ignore_active_span
        )
        return self.scope_manager.activate(span, finish_on_close)

    def inject(self, span_context: SpanContext, format: str, carrier: Any) -> None:
        self.plan.check("inject")
        self.inner.inject(span_context, format, carrier)

    def extract(self, format: str, carrier: Any) -> SpanContext:
        self.plan.check("extract")
        return self.inner.extract(format, carrier)


def active_span(tracer: opentracing.Tracer) -> Span | None:
    """The active span of ``tracer`` in the current context (read from the real manager)."""
    manager = (
        tracer.inner.scope_manager if isinstance(tracer, FaultyTracer) else tracer.scope_manager
    )
    scope = manager.active
    return None if scope is None else scope.span


#: ``PYRAMID_TRACING_STRESS=1`` (``make stress``) runs the long tests with their full counts.
STRESS = os.environ.get("PYRAMID_TRACING_STRESS") == "1"


def scaled(small: int, full: int) -> int:
    """``full`` under ``make stress``, else ``small`` (what ``make test`` runs)."""
    return full if STRESS else small


def report_figures(test: str, **figures: object) -> None:
    """Append a test's figures as a JSON line to ``$PYRAMID_TRACING_FIGURES``, when set."""
    path = os.environ.get("PYRAMID_TRACING_FIGURES")
    if not path:
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps({"test": test, "stress": STRESS, **figures}, default=str) + "\n")


class Probe:
    """WSGI middleware that checks the worker thread's context around every request."""

    def __init__(self, app: Any, tracer: Any) -> None:
        self.app = app
        self.tracer = tracer
        self.problems: list[str] = []
        self.reached: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def _check(self, when: str, path: str) -> None:
        left = None if self.tracer is None else active_span(self.tracer)
        current = current_tracing()
        if left is not None or current is not None:
            with self._lock:
                self.problems.append(f"{when} {path}: active span {left!r}, tracing {current!r}")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        self._check("before", path)
        try:
            return self.app(environ, start_response)
        except BaseException as exc:
            raised = environ.get("test.raised")
            with self._lock:
                if exc is raised:
                    self.reached[type(exc).__name__] += 1
                else:
                    self.problems.append(f"{path}: {exc!r} reached WSGI instead of {raised!r}")
            raise
        finally:
            self._check("after", path)
