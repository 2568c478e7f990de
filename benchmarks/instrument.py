"""What ``tracing.instrument`` costs: ``python -m benchmarks.instrument`` (run by ``make bench``).

In one process, through WebTest (no sockets), with MockTracer and the OpenTelemetry shim (an
SDK provider with no span processor, so that exporting costs nothing):

* a SQL statement span (``sqlalchemy``): a view running 200 ``SELECT 1`` on an in-memory
  sqlite engine, with and without ``sqlalchemy`` listed; the difference per statement, beside
  the tracer's own ``start_span(child_of=..., tags=...)`` + ``finish()``;
* a render span (``render``): a ``json`` view with and without ``render`` listed; the
  difference per request, beside the tracer's own ``start_active_span`` + ``close()``;
* the default (``render transaction``) against an empty ``tracing.instrument``, on a view
  returning a ``Response`` in an app without pyramid_tm (nothing to trace: the target is the
  noise) and on a ``json`` view.

Variants run in turns, round after round, so that a slow patch of the machine hits all alike;
each figure is the best of N samples (``--samples``, default 15).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import opentracing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.shim.opentracing_shim import create_tracer
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from webtest import TestApp

from pyramid_tracing import ScopeManager
from pyramid_tracing import sqlalchemy as traced_sqlalchemy

RESULTS = Path(__file__).resolve().parent / "results"
STATEMENTS = 200


def tracer_of(kind: str) -> opentracing.Tracer:
    if kind == "mock":
        return MockTracer(scope_manager=ScopeManager())
    return create_tracer(TracerProvider())


def _reset(tracer: opentracing.Tracer) -> None:
    # MockTracer keeps every finished span: drop them between samples (not timed).
    if isinstance(tracer, MockTracer):
        tracer.reset()


def _app(tracer: opentracing.Tracer, instrument: str) -> tuple[TestApp, Any]:
    engine = create_engine("sqlite://", poolclass=StaticPool)

    def sql(request: Any) -> Response:
        with engine.connect() as connection:
            for _ in range(STATEMENTS):
                connection.exec_driver_sql("SELECT 1")
        return Response("ok")

    with Configurator(
        settings={"tracing.tracer": tracer, "tracing.instrument": instrument}
    ) as config:
        config.include("pyramid_tracing")
        config.add_route("plain", "/plain")
        config.add_view(lambda request: Response("ok"), route_name="plain")
        config.add_route("json", "/json")
        config.add_view(lambda request: {"ok": True}, route_name="json", renderer="json")
        config.add_route("sql", "/sql")
        config.add_view(sql, route_name="sql")
        app = config.make_wsgi_app()
    return TestApp(app), engine


def _best(samples: list[float]) -> float:
    return min(samples)


def _resetter(tracer: Any) -> Callable[[], None]:
    return lambda: _reset(tracer)


def run_in_turns(
    variants: dict[str, Callable[[], None]], resets: dict[str, Callable[[], None]], n: int
) -> dict[str, float]:
    """Each variant once per round, ``n`` rounds; the best time of each, in seconds."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(n):
        for name, run in variants.items():
            resets[name]()
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: _best(values) for name, values in samples.items()}


def _requests(app: TestApp, path: str, count: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(count):
            app.get(path)

    return run


def _raw_child_spans(tracer: opentracing.Tracer, count: int) -> Callable[[], None]:
    tags = {
        "component": "sqlalchemy",
        "span.kind": "client",
        "db.type": "sql",
        "db.system": "sqlite",
        "db.statement": "SELECT 1",
    }

    def run() -> None:
        with tracer.start_active_span("request"):
            parent = tracer.active_span
            for _ in range(count):
                tracer.start_span("SELECT", child_of=parent, tags=dict(tags)).finish()

    return run


def _raw_active_spans(tracer: opentracing.Tracer, count: int) -> Callable[[], None]:
    tags = {"component": "pyramid", "pyramid.renderer": "json"}

    def run() -> None:
        with tracer.start_active_span("request"):
            for _ in range(count):
                tracer.start_active_span("render json", tags=dict(tags)).close()

    return run


def measure(kind: str, samples: int, requests: int) -> dict[str, float]:
    """The figures for one tracer, in microseconds."""
    tracers = {name: tracer_of(kind) for name in ("none", "sql", "render", "default", "raw")}
    traced_sqlalchemy.instrument()
    try:
        apps = {
            "none": _app(tracers["none"], ""),
            "sql": _app(tracers["sql"], "sqlalchemy"),
            "render": _app(tracers["render"], "render"),
            "default": _app(tracers["default"], "render transaction"),
        }
        resets = {name: _resetter(tracer) for name, tracer in tracers.items()}
        statement_requests = max(1, requests // 20)
        variants = {
            "sql/none": _requests(apps["none"][0], "/sql", statement_requests),
            "sql/sql": _requests(apps["sql"][0], "/sql", statement_requests),
            "json/none": _requests(apps["none"][0], "/json", requests),
            "json/render": _requests(apps["render"][0], "/json", requests),
            "json/default": _requests(apps["default"][0], "/json", requests),
            "plain/none": _requests(apps["none"][0], "/plain", requests),
            "plain/default": _requests(apps["default"][0], "/plain", requests),
            "raw/child": _raw_child_spans(tracers["raw"], STATEMENTS * statement_requests),
            "raw/active": _raw_active_spans(tracers["raw"], requests),
        }
        reset_of = {
            name: resets[
                "raw"
                if name.startswith("raw")
                else {"none": "none", "sql": "sql", "render": "render", "default": "default"}[
                    name.split("/")[1]
                ]
            ]
            for name in variants
        }
        best = run_in_turns(variants, reset_of, samples)
    finally:
        traced_sqlalchemy.uninstrument()
        for _, engine in apps.values():
            engine.dispose()
    per_statement = statement_requests * STATEMENTS
    us = 1e6
    return {
        "sql_span_per_statement_us": (best["sql/sql"] - best["sql/none"]) / per_statement * us,
        "raw_child_span_us": best["raw/child"] / per_statement * us,
        "statement_without_span_us": best["sql/none"] / per_statement * us,
        "render_span_per_request_us": (best["json/render"] - best["json/none"]) / requests * us,
        "raw_active_span_us": best["raw/active"] / requests * us,
        "plain_request_empty_us": best["plain/none"] / requests * us,
        "plain_request_default_us": best["plain/default"] / requests * us,
        "json_request_empty_us": best["json/none"] / requests * us,
        "json_request_default_us": best["json/default"] / requests * us,
    }


def table(results: dict[str, dict[str, float]], samples: int) -> str:
    """The figures as a markdown table."""
    rows = [
        ("SQL statement span, per statement", "sql_span_per_statement_us"),
        ("the tracer's raw child span (start_span + finish)", "raw_child_span_us"),
        ("`SELECT 1` on in-memory sqlite, untraced", "statement_without_span_us"),
        ("render span (`json` view), per request", "render_span_per_request_us"),
        ("the tracer's raw active span (start_active_span + close)", "raw_active_span_us"),
        ("`Response` view, `tracing.instrument` empty", "plain_request_empty_us"),
        ("`Response` view, default `render transaction`", "plain_request_default_us"),
        ("`json` view, `tracing.instrument` empty", "json_request_empty_us"),
        ("`json` view, default `render transaction`", "json_request_default_us"),
    ]
    return markdown_table(f"Best of {samples} samples; microseconds.", results, rows)


def markdown_table(
    heading: str, results: dict[str, dict[str, float]], rows: list[tuple[str, str]]
) -> str:
    """``heading``, then one row per ``(label, key)`` and one column per tracer."""
    kinds = list(results)
    lines = [heading, "", "| | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(f"{results[k][key]:.1f}" for k in kinds) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write ``benchmarks/results/instrument.json``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instrument", description=__doc__)
    parser.add_argument("--samples", type=int, default=15, help="samples per figure (best of)")
    parser.add_argument("--requests", type=int, default=200, help="requests per sample")
    parser.add_argument("--output", type=Path, default=RESULTS / "instrument.json")
    opts = parser.parse_args(argv)
    results = {
        label: measure(kind, opts.samples, opts.requests)
        for label, kind in (("MockTracer", "mock"), ("OpenTelemetry shim", "otel"))
    }
    print(table(results, opts.samples))
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {"samples": opts.samples, "requests": opts.requests, "results": results}
    opts.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
