"""What each HTTP server metric costs a request: ``python -m benchmarks.metrics`` (``make bench``).

In one process, through WebTest (no sockets), on a small app (``GET /orders/{id}``, a small
JSON body): pyramid_tracing on its OpenTelemetry backend with ``tracing.otel.provider =
global``, OpenTelemetry's global providers set once: an SDK tracer provider with no span
processor (exporting costs nothing) and an SDK meter provider whose in-memory reader is never
collected while timing (recording costs what it costs, nothing is exported).

* **Ours**: ``tracing.otel.metrics`` = ``none`` (the base), ``duration``, ``active_requests``,
  ``body_size`` and all three; each metric's cost is its app's time per request over the base.
* **The floor**: the SDK's own calls that the metric makes, with the attributes ours records
  (read back from the reader after one request, so that they are the same dicts): one
  ``Histogram.record`` for ``duration``, two ``UpDownCounter.add`` for ``active_requests``,
  the body-size records ``body_size`` makes on a ``GET`` (the response's: a ``GET`` has no
  request body), on instruments of the same meter provider. Timed twice: in a loop (no span
  current), and inside a request of the base app, from a tween under pyramid_tracing's (after
  the view, the server span current, as when ours records: the SDK's trace-based exemplar
  filter keeps an exemplar of the sampled span; both adds of ``active_requests`` are made there,
  where ours makes the +1 before the span starts). Each floor is over the same loop or tween
  calling no-op instruments.
* **The peer**: ``opentelemetry-instrumentation-pyramid`` on the same app, its instruments from
  the SDK meter provider, against the same peer whose instruments are no-op: the difference is
  what its metrics cost. The peer takes no meter provider (it asks the global one when its tween
  is made), so the global meter provider is a small delegating one (the API's own
  ``MeterProvider`` interface) that hands the SDK's meters out, and no-op meters while the
  peer's metric-less app is made.

Variants run in turns, round after round, so that a slow patch of the machine hits all alike;
each figure is the best of N samples (``--samples``, default 15) of ``--requests`` requests (or
loop turns; default 300).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import Meter, MeterProvider, NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span
from opentelemetry.util.types import Attributes
from pyramid.config import Configurator
from pyramid.response import Response
from pyramid.tweens import EXCVIEW
from webtest import TestApp

from benchmarks import otel_backend
from benchmarks.instrument import RESULTS, markdown_table, run_in_turns
from benchmarks.run import machine, replace_section
from pyramid_tracing._config import TWEEN_NAME as TRACING_TWEEN
from pyramid_tracing.otel._metrics import DURATION_BUCKETS

ROUTE = "/orders/{id}"
PATH = "/orders/1234"
BODY = b'{"id": "1234", "status": "shipped", "total": "42.00"}'
#: ``tracing.otel.metrics`` of each of our apps; ``none`` is the base.
OURS = {
    "none": "none",
    "duration": "duration",
    "active_requests": "active_requests",
    "body_size": "body_size",
    "all": "duration active_requests body_size",
}
METRICS = ("duration", "active_requests", "body_size")
SCOPE = "pyramid_tracing"
PEER_SCOPE = "opentelemetry.instrumentation.pyramid.callbacks"
DURATION = 0.003  # the floor's value, in seconds: the first bucket, as the requests' own
TARGET_RATIO = 1.2
CALLS_SETTING = "benchmarks.metrics.floor_calls"

DOCS_START = "<!-- http server metrics results: start (written by make bench) -->"
DOCS_END = "<!-- http server metrics results: end -->"
DOCS_TITLE = "### HTTP server metrics, in-process (µs per request)"

# An SDK call the floor makes: the instrument's method, the value, the attributes.
Call = tuple[Callable[[Any, Attributes], None], float, Mapping[str, Any]]


class SwitchedMeterProvider(MeterProvider):
    """The global meter provider: the SDK's meters, or no-op ones inside :meth:`noop`."""

    def __init__(self, sdk: SdkMeterProvider) -> None:
        self.sdk = sdk
        self._target: MeterProvider = sdk

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> Meter:
        return self._target.get_meter(name, version, schema_url, attributes)

    def shutdown(self) -> None:
        self.sdk.shutdown()

    @contextmanager
    def noop(self) -> Iterator[None]:
        """The meters asked for inside are no-op meters."""
        self._target = NoOpMeterProvider()
        try:
            yield
        finally:
            self._target = self.sdk


def global_providers() -> tuple[SwitchedMeterProvider, InMemoryMetricReader]:
    """Set OpenTelemetry's global tracer and meter providers (once per process)."""
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    reader = InMemoryMetricReader()
    meters = SwitchedMeterProvider(
        SdkMeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    )
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meters)
    if trace.get_tracer_provider() is not tracer_provider or (
        metrics.get_meter_provider() is not meters
    ):
        msg = "OpenTelemetry's global providers were set already: run this in its own process"
        raise SystemExit(msg)
    return meters, reader


def _order(request: Any) -> Response:
    return Response(BODY, content_type="application/json")


def floor_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
    """Under pyramid_tracing's tween (its server span current): the floor's calls, after the
    view, each request."""
    calls: Sequence[Call] = registry.settings[CALLS_SETTING]

    def floor_tween(request: Any) -> Any:
        response = handler(request)
        for call, value, attributes in calls:
            call(value, attributes)
        return response

    return floor_tween


def _app(
    include: Callable[[Configurator], None],
    settings: Mapping[str, object] | None = None,
    calls: Sequence[Call] = (),
) -> TestApp:
    """The app, with ``include`` (the tracing) and the floor's tween making ``calls`` if any."""
    with Configurator(settings={**(settings or {}), CALLS_SETTING: calls}) as config:
        include(config)
        config.add_route("order", ROUTE)
        config.add_view(_order, route_name="order")
        if calls:
            config.add_tween(f"{__name__}.floor_tween_factory", under=TRACING_TWEEN, over=EXCVIEW)
        return TestApp(config.make_wsgi_app())


def _pyramid_tracing(config: Configurator) -> None:
    config.include("pyramid_tracing")


def ours(metrics_setting: str, calls: Sequence[Call] = ()) -> TestApp:
    """pyramid_tracing on its OpenTelemetry backend, the global providers, these metrics."""
    settings = {
        "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
        "tracing.otel.provider": "global",
        "tracing.otel.metrics": metrics_setting,
    }
    return _app(_pyramid_tracing, settings, calls)


def peer() -> TestApp:
    """opentelemetry-instrumentation-pyramid on the same app (the global providers)."""
    from opentelemetry.instrumentation.pyramid import PyramidInstrumentor

    return _app(PyramidInstrumentor.instrument_config)


def _points(reader: InMemoryMetricReader, scope: str) -> dict[str, dict[str, Any]]:
    """The attributes of the (first) point of each metric ``scope`` recorded so far."""
    found: dict[str, dict[str, Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scoped in resource.scope_metrics:
            if scoped.scope.name != scope:
                continue
            for metric in scoped.metrics:
                for point in metric.data.data_points:
                    found.setdefault(metric.name, dict(point.attributes or {}))
    return found


def floor_calls(
    meters: SwitchedMeterProvider, recorded: dict[str, dict[str, Any]]
) -> tuple[dict[str, list[Call]], dict[str, list[Call]]]:
    """The SDK calls each metric makes per request, and the same calls on no-op instruments.

    ``recorded``: the attributes of each metric ours recorded on one request of the ``all``
    app; the floor's instruments have names of their own, the same kinds, units and buckets.
    """
    sdk, noop = meters.sdk.get_meter("benchmarks.metrics"), NoOpMeterProvider().get_meter("n")
    duration_attributes = recorded["http.server.request.duration"]
    active_attributes = recorded["http.server.active_requests"]
    sizes = sorted(name for name in recorded if name.endswith(".body.size"))
    calls: dict[str, list[Call]] = {}
    noops: dict[str, list[Call]] = {}
    for kinds, meter in ((calls, sdk), (noops, noop)):
        duration = meter.create_histogram(
            "floor.duration", unit="s", explicit_bucket_boundaries_advisory=DURATION_BUCKETS
        )
        active = meter.create_up_down_counter("floor.active_requests", unit="{request}")
        kinds["duration"] = [(duration.record, DURATION, duration_attributes)]
        kinds["active_requests"] = [
            (active.add, 1, active_attributes),
            (active.add, -1, active_attributes),
        ]
        kinds["body_size"] = [
            (meter.create_histogram(f"floor.{name}", unit="By").record, len(BODY), attributes)
            for name, attributes in ((name, recorded[name]) for name in sizes)
        ]
    return calls, noops


def _requests(app: TestApp, count: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(count):
            app.get(PATH)

    return run


def _loop(calls: Sequence[Call], count: int, span: Span | None = None) -> Callable[[], None]:
    """``count`` turns of ``calls``; with ``span`` current if given."""

    def turns() -> None:
        for _ in range(count):
            for call, value, attributes in calls:
                call(value, attributes)

    if span is None:
        return turns

    def run() -> None:
        with trace.use_span(span):
            turns()

    return run


def _noop() -> None:
    pass


def measure(samples: int, requests: int) -> dict[str, Any]:
    """Every figure, in microseconds per request (per loop turn for the loop floors)."""
    meters, reader = global_providers()
    apps = {name: ours(setting) for name, setting in OURS.items()}
    apps["all"].get(PATH)
    recorded = _points(reader, SCOPE)
    calls, noops = floor_calls(meters, recorded)
    for metric in METRICS:
        apps[f"request-floor/{metric}"] = ours("none", calls[metric])
        apps[f"request-noop/{metric}"] = ours("none", noops[metric])
    apps["peer/metrics"] = peer()
    with meters.noop():
        apps["peer/noop"] = peer()
    apps["peer/metrics"].get(PATH)
    peer_metrics = sorted(_points(reader, PEER_SCOPE))
    for app in apps.values():  # warm up: the routes, the caches, the SDK's series
        for _ in range(5):
            app.get(PATH)
    variants = {name: _requests(app, requests) for name, app in apps.items()}
    for metric in METRICS:
        variants[f"loop-floor/{metric}"] = _loop(calls[metric], requests)
        variants[f"loop-noop/{metric}"] = _loop(noops[metric], requests)
    # The duration floor in a loop with a sampled span current: the exemplar's share.
    span = trace.get_tracer(__name__).start_span("floor")
    variants["loop-span/duration"] = _loop(calls["duration"], requests, span)
    timed = run_in_turns(variants, dict.fromkeys(variants, _noop), samples)
    best = {name: value / requests * 1e6 for name, value in timed.items()}
    loop = {m: best[f"loop-floor/{m}"] - best[f"loop-noop/{m}"] for m in METRICS}
    in_request = {m: best[f"request-floor/{m}"] - best[f"request-noop/{m}"] for m in METRICS}
    results = {
        metric: _figures(best[metric] - best["none"], loop[metric], in_request[metric])
        for metric in METRICS
    }
    # All three: their floors added up.
    results["all"] = _figures(
        best["all"] - best["none"], sum(loop.values()), sum(in_request.values())
    )
    peer_cost = best["peer/metrics"] - best["peer/noop"]
    duration = results["duration"]
    targets = [
        {
            "target": f"duration <= {TARGET_RATIO} x floor (the SDK's record, in a loop)",
            "value": duration["ratio_loop"],
            "ok": _within(duration["ratio_loop"]),
        },
        {
            "target": "duration < the peer's metrics (µs per request)",
            "value": best["duration"] - best["none"],
            "limit": peer_cost,
            "ok": best["duration"] - best["none"] < peer_cost,
        },
        {
            "target": f"duration <= {TARGET_RATIO} x floor in a request (informational)",
            "value": duration["ratio_request"],
            "ok": _within(duration["ratio_request"]),
        },
    ]
    return {
        "requests_us": best,
        "results": results,
        "peer": {
            "with_metrics_us": best["peer/metrics"],
            "noop_meters_us": best["peer/noop"],
            "metrics_us": peer_cost,
            "metrics": peer_metrics,
            "OTEL_SEMCONV_STABILITY_OPT_IN": os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", ""),
        },
        "floor_calls": {metric: len(calls[metric]) for metric in METRICS},
        "duration_floor_loop_span_us": best["loop-span/duration"] - best["loop-noop/duration"],
        "attributes": recorded,
        "targets": targets,
    }


def _ratio(value: float, floor: float) -> float | None:
    # None: a floor lost in the noise (a short run); the ratio would mean nothing.
    return value / floor if floor > 0 else None


def _figures(over: float, loop: float, in_request: float) -> dict[str, float | None]:
    return {
        "over_none_us": over,
        "floor_loop_us": loop,
        "ratio_loop": _ratio(over, loop),
        "floor_request_us": in_request,
        "ratio_request": _ratio(over, in_request),
    }


def _within(ratio: float | None) -> bool:
    return ratio is not None and ratio <= TARGET_RATIO


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _calls_label(count: int, kind: str) -> str:
    return f"{count} {kind}{'s' if count != 1 else ''}"


def table(payload: dict[str, Any]) -> str:
    """The figures as markdown tables: per metric, the whole requests, the targets."""
    results, peer_figures, counts = payload["results"], payload["peer"], payload["floor_calls"]
    labels = {
        "duration": f"`duration` ({_calls_label(counts['duration'], 'histogram record')})",
        "active_requests": "`active_requests` "
        f"({_calls_label(counts['active_requests'], 'up-down counter add')})",
        "body_size": f"`body_size` ({_calls_label(counts['body_size'], 'histogram record')}:"
        " a GET has no request body)",
        "all": "all three",
    }
    lines = [
        f"Best of {payload['samples']} samples of {payload['requests']} requests (or loop "
        "turns); µs per request. Floor: the SDK's own calls for the metric, with the same "
        "attributes, over the same calls on no-op instruments; in a loop, and in a request of "
        "the base app (a tween under pyramid_tracing's, the server span current).",
        "",
        "| metric | over `none` | floor, loop | ours / floor | floor in a request "
        "| ours / in-request floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for metric, label in labels.items():
        row = results[metric]
        lines.append(
            f"| {label} | {row['over_none_us']:.1f} | {row['floor_loop_us']:.1f} | "
            f"{_fmt(row['ratio_loop'], '.2f')} | {row['floor_request_us']:.1f} | "
            f"{_fmt(row['ratio_request'], '.2f')} |"
        )
    opt_in = peer_figures["OTEL_SEMCONV_STABILITY_OPT_IN"]
    semconv = f"= `{opt_in}`" if opt_in else "unset (the peer's default conventions)"
    names = ", ".join(f"`{name}`" for name in peer_figures["metrics"]) or "none recorded"
    lines.append(
        f"| opentelemetry-instrumentation-pyramid's metrics ({names}) | "
        f"{peer_figures['metrics_us']:.1f} | - | - | - | - |"
    )
    lines += [
        "",
        f"The peer's metrics: its app with SDK meters ({peer_figures['with_metrics_us']:.1f}) "
        f"minus the same with no-op meters ({peer_figures['noop_meters_us']:.1f}); "
        f"`OTEL_SEMCONV_STABILITY_OPT_IN` {semconv}. The `duration` floor in a loop with a "
        "sampled span current (the SDK keeps an exemplar): "
        f"{payload['duration_floor_loop_span_us']:.1f}.",
        "",
    ]
    whole = payload["requests_us"]
    rows = [(f"pyramid_tracing, `tracing.otel.metrics = {OURS[name]}`", name) for name in OURS]
    rows += [
        ("`none` + the floor's tween: the `duration` floor", "request-floor/duration"),
        ("`none` + the floor's tween: the same call, no-op instrument", "request-noop/duration"),
        ("opentelemetry-instrumentation-pyramid, SDK meters", "peer/metrics"),
        ("opentelemetry-instrumentation-pyramid, no-op meters", "peer/noop"),
    ]
    lines.append(
        markdown_table("Whole requests (µs per request):", {"best": whole}, rows).replace(
            "| | best |", "| variant | best |"
        )
    )
    lines += ["", "| target | value | met |", "| --- | ---: | --- |"]
    for target in payload["targets"]:
        value = _fmt(target["value"], ".2f")
        if "limit" in target:
            value = f"{target['value']:.1f} vs {target['limit']:.1f}"
        lines.append(f"| {target['target']} | {value} | {'yes' if target['ok'] else 'NO'} |")
    return "\n".join(lines)


def write_docs(path: Path, payload: dict[str, Any], text: str) -> None:
    """Put the section between its own markers of the docs page ``path``; the first time,
    right after the OpenTelemetry backend's results."""
    page = path.read_text(encoding="utf-8")
    if DOCS_START not in page:
        anchor = page.find(otel_backend.DOCS_END)
        if anchor == -1:
            msg = f"{path} has no {otel_backend.DOCS_END!r} marker to write the section after"
            raise SystemExit(msg)
        at = anchor + len(otel_backend.DOCS_END)
        page = page[:at] + f"\n\n{DOCS_START}\n{DOCS_END}" + page[at:]
        path.write_text(page, encoding="utf-8")
    info = payload["machine"]
    section = "\n".join(
        [
            DOCS_START,
            DOCS_TITLE,
            "",
            f"Run on {payload['date']}: {info.get('cpu', info['machine'])}, "
            f"{info['logical_cpus']} logical CPUs shared with other work, "
            f"{info['implementation']} {info['python']}, opentelemetry-sdk "
            f"{info['packages'].get('opentelemetry-sdk')}, opentelemetry-instrumentation-pyramid "
            f"{info['packages'].get('opentelemetry-instrumentation-pyramid')}; "
            f"this section took {payload['seconds']:.0f} s "
            "(`python -m benchmarks.metrics --docs docs/performance.md`).",
            "",
            text,
            DOCS_END,
        ]
    )
    replace_section(path, section, DOCS_START, DOCS_END)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the tables, write ``benchmarks/results/metrics.json`` (and the docs)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics", description=__doc__)
    parser.add_argument("--samples", type=int, default=15, help="samples per figure (best of)")
    parser.add_argument("--requests", type=int, default=300, help="requests per sample")
    parser.add_argument("--output", type=Path, default=RESULTS / "metrics.json")
    parser.add_argument("--docs", type=Path, help="write the tables into this docs page")
    opts = parser.parse_args(argv)
    started = time.perf_counter()
    figures = measure(opts.samples, opts.requests)
    payload = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "samples": opts.samples,
        "requests": opts.requests,
        **figures,
        "seconds": time.perf_counter() - started,
        "machine": machine(),
    }
    text = table(payload)
    print(text)
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    opts.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if opts.docs:
        write_docs(opts.docs, payload, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
