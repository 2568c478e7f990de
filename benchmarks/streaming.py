"""What covering a streamed body costs: ``python -m benchmarks.streaming`` (run by ``make bench``).

In one process, through WebTest (no sockets), with MockTracer and the OpenTelemetry shim (an
SDK provider with no span processor, so that exporting costs nothing), and an untraced app:

* an ordinary response (a list body): what the tween adds to tell it from a streamed one,
  timed alone (the exact test of ``ServerSpans.run`` and of the tween, on a real
  ``Response``), beside the whole traced request;
* a streamed response: the same 1,000 bytes yielded by a generator in one chunk, against
  the list body; the untraced app's own difference between the two (the generator, WebOb)
  is subtracted, so what is left is the body wrapper (its object, the ``ctx.run`` of each
  ``next()`` and of ``close()``, the finish moved there);
* each further chunk: 20 chunks against 1, the untraced difference subtracted, per chunk.

Variants run in turns, round after round, so that a slow patch of the machine hits all alike;
each figure is the best of N samples (``--samples``, default 15).
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import opentracing
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from benchmarks.instrument import RESULTS, markdown_table, run_in_turns, tracer_of
from pyramid_tracing._body import MATERIALISED
from pyramid_tracing._state import RequestState

BODY = b"x" * 1000
CHUNKS = 20


def _list_view(request: Any) -> Response:
    return Response(BODY)


def _one_chunk_view(request: Any) -> Response:
    def body() -> Iterator[bytes]:
        yield BODY

    return Response(app_iter=body())


def _chunks_view(request: Any) -> Response:
    size = len(BODY) // CHUNKS

    def body() -> Iterator[bytes]:
        for start in range(0, len(BODY), size):
            yield BODY[start : start + size]

    return Response(app_iter=body())


def _app(tracer: opentracing.Tracer | None) -> TestApp:
    settings: dict[str, object] = {"tracing.instrument": ""}
    if tracer is not None:
        settings["tracing.tracer"] = tracer
    with Configurator(settings=settings) as config:
        if tracer is not None:
            config.include("pyramid_tracing")
        for name, view in (
            ("list", _list_view),
            ("one", _one_chunk_view),
            ("chunks", _chunks_view),
        ):
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name)
        return TestApp(config.make_wsgi_app())


def _requests(app: TestApp, path: str, count: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(count):
            app.get(path)

    return run


def _noop() -> None:
    pass


def check_ns(samples: int, loops: int = 200_000) -> float:
    """The test an ordinary response pays, in nanoseconds: run()'s and the tween's, as written."""
    response = Response(BODY)
    state = RequestState(None)
    namespace = {"result": response, "state": state, "MATERIALISED": MATERIALISED}
    statement = (
        'type(getattr(result, "app_iter", None)) not in MATERIALISED\nstate._scope is not None'
    )
    timer = timeit.Timer(statement, globals=namespace)
    empty = timeit.Timer("pass", globals=namespace)
    best = min(timer.timeit(loops) for _ in range(samples))
    floor = min(empty.timeit(loops) for _ in range(samples))
    return (best - floor) / loops * 1e9


def measure(samples: int, requests: int) -> dict[str, dict[str, float]]:
    """The figures per tracer (and the untraced app), in microseconds."""
    tracers: dict[str, opentracing.Tracer | None] = {
        "untraced": None,
        "MockTracer": tracer_of("mock"),
        "OpenTelemetry shim": tracer_of("otel"),
    }
    apps = {label: _app(tracer) for label, tracer in tracers.items()}
    variants: dict[str, Callable[[], None]] = {}
    resets: dict[str, Callable[[], None]] = {}
    for label, app in apps.items():
        tracer = tracers[label]
        reset = tracer.reset if isinstance(tracer, MockTracer) else _noop
        for path in ("list", "one", "chunks"):
            variants[f"{label}/{path}"] = _requests(app, f"/{path}", requests)
            resets[f"{label}/{path}"] = reset
    timed = run_in_turns(variants, resets, samples)
    best = {name: value / requests * 1e6 for name, value in timed.items()}
    base = {path: best[f"untraced/{path}"] for path in ("list", "one", "chunks")}
    results: dict[str, dict[str, float]] = {}
    for label in tracers:
        if label == "untraced":
            continue
        mine = {path: best[f"{label}/{path}"] for path in ("list", "one", "chunks")}
        results[label] = {
            "list_request_us": mine["list"],
            "list_tracing_us": mine["list"] - base["list"],
            "wrapper_us": (mine["one"] - mine["list"]) - (base["one"] - base["list"]),
            "per_chunk_us": ((mine["chunks"] - mine["one"]) - (base["chunks"] - base["one"]))
            / (CHUNKS - 1),
        }
    return results


def table(results: dict[str, dict[str, float]], check: float, samples: int) -> str:
    """The figures as a markdown table."""
    rows = [
        ("list body: the whole traced request", "list_request_us"),
        ("list body: tracing's share (traced minus untraced)", "list_tracing_us"),
        ("streamed body (1 chunk): the wrapper, per request", "wrapper_us"),
        ("streamed body: each further chunk", "per_chunk_us"),
    ]
    heading = (
        f"Best of {samples} samples; microseconds. The test that tells a list body from a "
        f"streamed one: {check:.0f} ns per request."
    )
    return markdown_table(heading, results, rows)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write ``benchmarks/results/streaming.json``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streaming", description=__doc__)
    parser.add_argument("--samples", type=int, default=15, help="samples per figure (best of)")
    parser.add_argument("--requests", type=int, default=200, help="requests per sample")
    parser.add_argument("--output", type=Path, default=RESULTS / "streaming.json")
    opts = parser.parse_args(argv)
    check = check_ns(opts.samples)
    results = measure(opts.samples, opts.requests)
    print(table(results, check, opts.samples))
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "samples": opts.samples,
        "requests": opts.requests,
        "check_ns": check,
        "results": results,
    }
    opts.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
