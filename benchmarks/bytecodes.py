"""Bytecodes executed per request, counted: a measure of the integration's own work that noise
cannot move (``python -m benchmarks.bytecodes``; not part of ``make bench``).

Timing on a shared machine spreads by several per cent from run to run, more than a change of
a few Python calls moves it. This counts, with ``sys.settrace`` opcode events, the bytecodes
each variant executes per request (after a warm-up, over a few requests), in total and inside
``pyramid_tracing``, and prints pyramid_tracing's count beyond the floor tween's for each
request shape and tracer. C code (regexes, dict methods, string methods) counts as the one
bytecode that calls it, so the figure says how much Python glue runs, not how long it takes;
``--functions VARIANT`` lists the count per function of one variant, largest first.
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Callable
from typing import Any

from benchmarks import variants

#: The package's own code, recognised by its path.
PACKAGE_PATH = "pyramid_tracing"


def count(name: str, requests: int = 10, warmup: int = 300) -> dict[tuple[str, str], float]:
    """``{(file, function): bytecodes per request}`` of variant ``name``, after ``warmup``."""
    bench = variants.VARIANTS[name][1]()
    try:
        bench.run(warmup)
        bench.reset()
        counts: collections.Counter[tuple[str, str]] = collections.Counter()

        def trace(frame: Any, event: str, arg: object) -> Callable[..., Any]:
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            if event == "opcode":
                code = frame.f_code
                counts[(code.co_filename, f"{code.co_name}:{code.co_firstlineno}")] += 1
            return trace

        previous = sys.gettrace()  # coverage's, under make test: put back afterwards
        sys.settrace(trace)
        try:
            bench.run(requests)
        finally:
            sys.settrace(previous)
    finally:
        bench.close()
    return {key: value / requests for key, value in counts.items()}


def totals(counts: dict[tuple[str, str], float]) -> tuple[int, int]:
    """``(all bytecodes, pyramid_tracing's)`` per request."""
    mine = sum(value for (path, _), value in counts.items() if PACKAGE_PATH in path)
    return round(sum(counts.values())), round(mine)


def shape_row(shape: str, tracers: list[str]) -> str:
    """One markdown row: pyramid_tracing's bytecodes beyond the floor tween, per tracer."""
    bare, _ = totals(count(variants.shaped("bare", shape)))
    cells = [shape, str(bare)]
    for tracer in tracers:
        ours, mine = totals(count(variants.shaped(f"pt-{tracer}", shape)))
        if tracer == "noop":
            cells.append(f"+{ours - bare} (over bare)")
            continue
        floor, _ = totals(count(variants.shaped(f"floor-{tracer}", shape)))
        cells.append(f"{ours - floor:+d} ({mine} in the package)")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    """Print the table (or one variant's functions); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default=",".join(variants.SHAPES))
    parser.add_argument("--tracers", default=",".join(variants.TRACERS))
    parser.add_argument("--functions", metavar="VARIANT", help="per function, for one variant")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    if args.functions:
        counts = count(args.functions)
        print(f"{args.functions}: {totals(counts)[0]} bytecodes per request")
        largest = sorted(counts.items(), key=lambda item: -item[1])[: args.top]
        for (path, function), value in largest:
            print(f"{value:7.0f}  {path.rsplit('site-packages/', 1)[-1]} {function}")
        return 0
    tracers = args.tracers.split(",")
    print("| shape | bare | " + " | ".join(tracers) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in tracers) + " |")
    for shape in args.shapes.split(","):
        print(shape_row(shape, tracers), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
