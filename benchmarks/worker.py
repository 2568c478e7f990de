"""One benchmark subprocess: time one variant, serve one app, or watch memory.

``python -m benchmarks.worker time VARIANT --ops N --samples K --warmup W`` prints a JSON object
with the per-operation times (µs) of each sample; ``samples VARIANT`` builds the variant once
and times a sample each time the runner asks for one on stdin (``--cold``: requests timed
one by one, the CPU caches thrashed before each). ``serve VARIANT`` runs the app
under waitress and prints its port. ``memory`` runs the memory check. The runner
(:mod:`benchmarks.run`) starts these; run them by hand to look at one variant.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import variants


def time_variant(name: str, ops: int, samples: int, warmup: int) -> dict[str, Any]:
    """Time ``samples`` samples of ``ops`` operations of variant ``name``."""
    _, make = variants.VARIANTS[name]
    try:
        bench = make()
    except variants.Unavailable as exc:
        return {"variant": name, "skipped": str(exc)}
    try:
        ops = bench.ops or ops
        bench.run(min(warmup, ops))
        bench.reset()
        results = []
        for _ in range(samples):
            gc.collect()
            start = time.perf_counter()
            bench.run(ops)
            elapsed = time.perf_counter() - start
            results.append(elapsed / ops * 1e6)
            bench.reset()
    finally:
        bench.close()
    return {"variant": name, "ops": ops, "samples_us": results}


def sample_loop(name: str, ops: int, warmup: int, cold: bool = False) -> None:
    """Build variant ``name`` once, then time one sample per ``sample`` line read from stdin.

    The runner keeps one such process per variant and asks them for samples in turn, so that
    every variant samples the machine at nearly the same moments (see :mod:`benchmarks.run`).
    Prints one JSON line when ready (or skipped), then one per sample; stops at EOF or
    ``quit``. A hot sample is ``ops`` operations back to back (``{"us": µs per operation}``);
    with ``cold``, ``ops`` requests each timed alone after a :func:`thrash` (see
    :func:`cold_sample`): ``{"us": their mean, "requests_us": [...], "thrash_us": ...}``.
    """
    _, make = variants.VARIANTS[name]
    try:
        bench = make()
    except variants.Unavailable as exc:
        _say({"variant": name, "skipped": str(exc)})
        return
    try:
        if not cold:
            ops = bench.ops or ops
        bench.run(warmup if cold else min(warmup, ops))
        bench.reset()
        thrash = Thrash(12 << 20 if cold else 0)
        _say({"variant": name, "ops": ops})
        for line in sys.stdin:
            if line.strip() != "sample":
                break
            gc.collect()
            if cold:
                times = cold_sample(bench, ops, thrash)
                bench.reset()
                thrash_us = thrash.seconds / thrash.calls * 1e6
                thrash.seconds, thrash.calls = 0.0, 0
                _say({"us": sum(times) / ops, "requests_us": times, "thrash_us": thrash_us})
                continue
            start = time.perf_counter()
            bench.run(ops)
            elapsed = time.perf_counter() - start
            bench.reset()
            _say({"us": elapsed / ops * 1e6})
    finally:
        bench.close()


class Thrash:
    """Evict a request's code and data from the CPU caches, as a server does between requests.

    In the hot loop of a sample, one request's code and data stay in the caches and the
    branch predictors for the next; under a real server, its own code (parsing, sockets,
    select) runs between two requests and every request starts cold. A call copies a
    12 MiB buffer into another (a memcpy: 24 MiB read and written, far more than the L2
    caches and most of a 32 MiB L3, in about a millisecond) and runs a little unrelated
    Python code
    (``json.dumps``, a regex, a sort), so that the interpreter's dispatch branches last
    predicted something else. Counts its calls and their wall time (``calls``, ``seconds``).
    """

    def __init__(self, size: int = 12 << 20) -> None:
        # Not zeros: untouched zero pages all map the same physical page, which stays cached.
        self.source = bytearray(b"\x5a") * size
        self.target = bytearray(size)
        self.payload = {
            "items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(40)]
        }
        self.pattern = re.compile(r"(\w+)=(\d+)")
        self.text = "alpha=1 beta=22 gamma=333 delta=4444 " * 20
        self.calls = 0
        self.seconds = 0.0

    def __call__(self) -> None:
        start = time.perf_counter()
        self.target[:] = self.source
        json.dumps(self.payload)
        self.pattern.findall(self.text)
        sorted(str(i) for i in range(200))
        self.calls += 1
        self.seconds += time.perf_counter() - start


def cold_sample(bench: variants.Bench, requests: int, thrash: Callable[[], None]) -> list[float]:
    """Time ``requests`` operations of ``bench`` one by one, each after an untimed ``thrash()``.

    Returns each operation's own time in µs (``time.perf_counter()`` around one ``run(1)``).
    """
    times = []
    for _ in range(requests):
        thrash()
        start = time.perf_counter()
        bench.run(1)
        times.append((time.perf_counter() - start) * 1e6)
    return times


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def serve(name: str, threads: int) -> None:
    """Serve variant ``name``'s app on 127.0.0.1 under waitress; print the port, then serve."""
    from waitress.server import create_server

    app = _app_of(name)
    variants.quiet_waitress()
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    print(json.dumps({"port": server.effective_port}), flush=True)  # type: ignore[union-attr]
    server.run()


SERVER_APPS = (
    "bare",
    *(f"pt-{t}" for t in variants.TRACERS),
    "pt-otel10",
    *variants.KINTO_SERVER_APPS,
)


def _app_of(name: str) -> Any:
    if name.endswith("@kinto"):
        import os

        endpoint = os.environ.get("BENCH_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        return variants.kinto_server_app(name, endpoint)
    if name == "bare":
        return variants.make_app()
    if name == "pt-otel10":
        return variants._pyramid_tracing_app(variants.tracer_otel_10())
    tracer = name.removeprefix("pt-")
    kit = variants.TRACERS[tracer]()
    return variants._pyramid_tracing_app(kit)


def gunicorn_app() -> Any:
    """The app named by ``BENCH_SERVER_APP``, for ``gunicorn 'benchmarks.worker:gunicorn_app()'``.

    Built in each worker after the fork (gunicorn without ``--preload``), so no tracer state
    crosses a fork.
    """
    import os

    return _app_of(os.environ.get("BENCH_SERVER_APP", "bare"))


def memory(requests: int, tracer: str, warmup: int = 20_000) -> dict[str, Any]:
    """RSS, then tracemalloc, before and after ``requests`` traced requests, 1 in 10 failing.

    Not half: a failing request formats its traceback for the span's error log, which under
    tracemalloc costs milliseconds.
    """
    import tracemalloc

    psutil = variants._require("psutil")
    process = psutil.Process()
    kit = variants.TRACERS[tracer]()
    app = variants._pyramid_tracing_app(kit)
    # Every request shape in turn (with basictracer's own context, sampled and not).
    shapes = [variants.wsgi_loop(app, shape=shape, tracer=tracer) for shape in variants.SHAPES]
    error = variants.error_loop(app)
    chunk = max(10, min(1_000, requests, warmup))

    def run(total: int) -> None:
        per_shape = max(1, (chunk - chunk // 10) // len(shapes))
        for _ in range(total // chunk):
            for ok in shapes:
                ok(per_shape)
            error(chunk - per_shape * len(shapes))
            kit.reset()

    # Warm up: fill every cache (routes, reified properties, the failure reporter, ...).
    run(warmup)
    # RSS first, without tracemalloc, whose own bookkeeping would show up in the RSS.
    gc.collect()
    rss_before = process.memory_info().rss
    start = time.perf_counter()
    run(requests)
    elapsed = time.perf_counter() - start
    gc.collect()
    rss_after = process.memory_info().rss
    # Then the same number of requests again under tracemalloc.
    tracemalloc.start()
    run(chunk)
    gc.collect()
    traced_before, _ = tracemalloc.get_traced_memory()
    snapshot_before = tracemalloc.take_snapshot()
    run(requests)
    gc.collect()
    traced_after, traced_peak = tracemalloc.get_traced_memory()
    snapshot_after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = [
        str(stat)
        for stat in snapshot_after.compare_to(snapshot_before, "lineno")[:5]
        if stat.size_diff > 0
    ]
    return {
        "tracer": tracer,
        "requests": requests,
        "paths": (
            "9 in 10 answered 200, in turn of each request shape "
            f"({', '.join(variants.SHAPES)}), 1 in 10 to a view that raises"
        ),
        "seconds_without_tracemalloc": round(elapsed, 2),
        "rss_before": rss_before,
        "rss_after": rss_after,
        "tracemalloc_before": traced_before,
        "tracemalloc_after": traced_after,
        "tracemalloc_peak": traced_peak,
        "top_growth": growth,
    }


def smoke(ops: int) -> dict[str, Any]:
    """Run every variant for ``ops`` operations, in this process: ok, skipped or the error."""
    results: dict[str, Any] = {}
    for name, (_, make) in variants.VARIANTS.items():
        try:
            bench = make()
        except variants.Unavailable as exc:
            results[name] = {"skipped": str(exc)}
            continue
        except Exception as exc:
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        try:
            bench.run(ops)
            bench.reset()
            results[name] = {"ok": True}
        except Exception as exc:
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            bench.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    sub = parser.add_subparsers(dest="mode", required=True)
    timing = sub.add_parser("time")
    timing.add_argument("variant", choices=sorted(variants.VARIANTS))
    timing.add_argument("--ops", type=int, default=20_000)
    timing.add_argument("--samples", type=int, default=1)
    timing.add_argument("--warmup", type=int, default=2_000)
    sampling = sub.add_parser("samples")
    sampling.add_argument("variant", choices=sorted(variants.VARIANTS))
    sampling.add_argument("--ops", type=int, default=2_000)
    sampling.add_argument("--warmup", type=int, default=2_000)
    sampling.add_argument(
        "--cold", action="store_true", help="each request timed alone, caches thrashed before"
    )
    serving = sub.add_parser("serve")
    serving.add_argument("variant", choices=SERVER_APPS)
    serving.add_argument("--threads", type=int, default=4)
    mem = sub.add_parser("memory")
    mem.add_argument("--requests", type=int, default=200_000)
    mem.add_argument("--tracer", choices=sorted(variants.TRACERS), default="basic")
    mem.add_argument("--warmup", type=int, default=20_000)
    smoking = sub.add_parser("smoke")
    smoking.add_argument("--ops", type=int, default=3)
    args = parser.parse_args(argv)
    if args.mode == "samples":
        sample_loop(args.variant, args.ops, args.warmup, args.cold)
        return 0
    if args.mode == "time":
        result = time_variant(args.variant, args.ops, args.samples, args.warmup)
    elif args.mode == "serve":
        serve(args.variant, args.threads)
        return 0
    elif args.mode == "smoke":
        result = smoke(args.ops)
    else:
        result = memory(args.requests, args.tracer, args.warmup)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
