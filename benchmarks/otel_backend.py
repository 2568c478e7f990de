"""The OpenTelemetry backend's section of ``make bench`` (issue 20's performance targets).

* In-process, every request shape: pyramid_tracing on the OpenTelemetry backend
  (``pt-otelnative``) against a floor tween that starts the same SDK span itself
  (``floor-otelnative``); the integration tax is (ours - floor) / (floor - bare).
* In-process, Kinto (route prefix, Basic auth policy, JSON renderer, pyramid_tm, memory
  backends): a request the sampler drops (``ALWAYS_OFF``, the default ``tracing.instrument``)
  against untraced Kinto, beside the sampled one, the floor and the peer.
* Kinto under gunicorn (2 sync workers per app), every traced app exporting over OTLP/HTTP to
  a real collector (rotel-agent) on loopback that this module starts and stops by its PID:
  server CPU per request over untraced.

``python -m benchmarks.run --otel-only`` runs this section alone and puts it into an
existing results file and into its own markers of the docs page; ``make bench`` runs it
with everything else.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import variants
from benchmarks.run import (
    SHAPE_TITLES,
    SHAPES,
    _fmt,
    _target,
    replace_section,
    serve_and_load,
    shaped,
)

#: (pyramid_tracing on the OpenTelemetry backend - its floor) / (floor - bare), per shape.
MAX_TAX = 0.15
#: A request the sampler drops, Kinto in-process: time / untraced.
MAX_DROPPED_RATIO = 1.03
#: Kinto under gunicorn, 10 % of traces sampled: CPU per request / untraced.
MAX_SAMPLED_10_CPU_RATIO = 1.05
#: Issue 21: the default metrics add at most this share of server CPU per request.
MAX_METRICS_SHARE = 0.02
#: Kinto under gunicorn, 100 %: our CPU overhead / the peer's (one span).
MAX_SERVER_SPAN_VS_PEER = 0.4
MAX_DEFAULT_VS_PEER = 1.0

#: The variants timed on every request shape.
SHAPE_VARIANTS = ("bare", "pt-otel", "pt-otelnative", "floor-otelnative", "otel-pyramid")

LABELS = {
    "bare": "bare Pyramid",
    "pt-otel": "pyramid_tracing, OpenTracing backend on the OpenTelemetry shim",
    "pt-otelnative": "pyramid_tracing, OpenTelemetry backend",
    "floor-otelnative": "floor: a bare tween starting the same SDK span (no shim)",
    "otel-pyramid": "opentelemetry-instrumentation-pyramid",
    "bare@kinto": "Kinto, untraced",
    "pt-otelnative@kinto": "pyramid_tracing, OpenTelemetry backend, 100 %, default instrument "
    "(server, render, transaction spans)",
    "pt-otelnative-off@kinto": "pyramid_tracing, OpenTelemetry backend, ALWAYS_OFF sampler, "
    "default instrument",
    "floor-otelnative@kinto": "floor tween, 100 % (server span only)",
    "floor-otelnative-off@kinto": "floor tween, ALWAYS_OFF sampler (what the SDK alone costs a "
    "dropped request)",
    "otel-pyramid@kinto": "opentelemetry-instrumentation-pyramid, 100 % (server span only)",
    "pt-otelnative-server@kinto": "pyramid_tracing, OpenTelemetry backend, 100 %, "
    "`tracing.instrument =` (server span only)",
    "pt-otelnative10@kinto": "pyramid_tracing, OpenTelemetry backend, ParentBased "
    "TraceIdRatio 0.1, default instrument",
    "pt-otelnative-metrics@kinto": "pyramid_tracing, OpenTelemetry backend, 100 %, default "
    "instrument, and the default metric (http.server.request.duration, exported over OTLP)",
}

DOCS_START = "<!-- opentelemetry backend results: start (written by make bench) -->"
DOCS_END = "<!-- opentelemetry backend results: end -->"


def names() -> list[str]:
    """The in-process variants of this section: every shape's, then Kinto's."""
    shaped_names = [shaped(name, shape) for shape in SHAPES for name in SHAPE_VARIANTS]
    return shaped_names + [f"{kind}@kinto" for kind in variants.KINTO_KINDS]


def summarise(stats: dict[str, Any]) -> dict[str, Any]:
    """Per shape: the times, overheads and the integration tax; Kinto's ratios over
    untraced; the in-process targets. Each variant's best sample (noise only adds time)."""

    def best(name: str) -> float | None:
        return float(stats[name]["min_us"]) if name in stats else None

    targets: list[dict[str, Any]] = []
    shapes: dict[str, Any] = {}
    for shape in SHAPES:
        bare = best(shaped("bare", shape))
        if bare is None:
            continue
        entry: dict[str, Any] = {"bare_us": bare}
        for name in SHAPE_VARIANTS[1:]:
            value = best(shaped(name, shape))
            if value is not None:
                entry[name] = {"us": value, "overhead_us": value - bare, "ratio": value / bare}
        ours, floor = entry.get("pt-otelnative"), entry.get("floor-otelnative")
        if ours and floor and floor["overhead_us"] > 0:
            entry["tax"] = (ours["us"] - floor["us"]) / floor["overhead_us"]
            targets.append(
                _target(
                    f"OpenTelemetry backend, integration tax (ours - floor) / (floor - bare), "
                    f"{shape}",
                    entry["tax"],
                    MAX_TAX,
                )
            )
        shapes[shape] = entry
    out: dict[str, Any] = {"shapes": shapes, "targets": targets}
    kinto_bare = best("bare@kinto")
    if kinto_bare is not None:
        kinto: dict[str, Any] = {"bare_us": kinto_bare}
        for kind in variants.KINTO_KINDS[1:]:
            value = best(f"{kind}@kinto")
            if value is not None:
                kinto[kind] = {"us": value, "ratio": value / kinto_bare}
        out["kinto"] = kinto
        if "pt-otelnative-off" in kinto:
            targets.append(
                _target(
                    "Kinto in-process, ALWAYS_OFF sampler, default instrument: time / untraced",
                    kinto["pt-otelnative-off"]["ratio"],
                    MAX_DROPPED_RATIO,
                )
            )
    return out


def server_summary(run: dict[str, Any]) -> dict[str, Any]:
    """CPU per request over untraced, each app's CPU overhead over the peer's, the targets."""
    cpu = run.get("cpu_us_per_request")
    if not cpu:
        return {"targets": []}
    bare = cpu["bare@kinto"]
    overhead = {app: us - bare for app, us in cpu.items() if app != "bare@kinto"}
    out: dict[str, Any] = {
        "cpu_over_untraced": {app: us / bare for app, us in cpu.items() if app != "bare@kinto"},
        "cpu_overhead_us": overhead,
    }
    targets = [
        _target(
            "Kinto under gunicorn, ParentBased TraceIdRatio 0.1: CPU per request / untraced",
            out["cpu_over_untraced"]["pt-otelnative10@kinto"],
            MAX_SAMPLED_10_CPU_RATIO,
        )
    ]
    with_metrics = cpu.get("pt-otelnative-metrics@kinto")
    if with_metrics is not None:
        # Issue 21: the default metric's share of the traced request's server CPU.
        targets.append(
            _target(
                "Kinto under gunicorn, the default metric (duration) over the same app without "
                "metrics: extra CPU per request / its CPU",
                with_metrics / cpu["pt-otelnative@kinto"] - 1,
                MAX_METRICS_SHARE,
            )
        )
    peer = overhead.get("otel-pyramid@kinto")
    if peer is not None and peer > 0:
        out["overhead_vs_peer"] = {app: value / peer for app, value in overhead.items()}
        vs_peer = out["overhead_vs_peer"]
        targets += [
            _target(
                "Kinto under gunicorn, 100 %, server span only: CPU overhead / the peer's",
                vs_peer["pt-otelnative-server@kinto"],
                MAX_SERVER_SPAN_VS_PEER,
            ),
            _target(
                "Kinto under gunicorn, 100 %, default three spans: CPU overhead / the peer's "
                "(one span)",
                vs_peer["pt-otelnative@kinto"],
                MAX_DEFAULT_VS_PEER,
            ),
        ]
        floor = vs_peer.get("floor-otelnative@kinto")
        if floor is not None:
            targets.append(
                {
                    **_target(
                        "Kinto under gunicorn, the floor tween: CPU overhead / the peer's",
                        floor,
                        MAX_SERVER_SPAN_VS_PEER,
                    ),
                    "informational": True,
                }
            )
    out["targets"] = targets
    return out


# -- the collector -------------------------------------------------------------------------


def rotel_agent() -> Path | None:
    """The rotel-agent binary of the ``rotel`` package, or None where it is not installed."""
    try:
        import rotel  # type: ignore[import-untyped]
    except ImportError:
        return None
    agent = Path(rotel.__file__).with_name("rotel-agent")
    return agent if agent.is_file() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def collector(agent: Path) -> Iterator[str]:
    """A rotel-agent on free loopback ports, spans sent to its blackhole exporter; yields its
    OTLP/HTTP URL and stops it by its PID."""
    http_port, grpc_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-rotel-") as tmp:
        log = Path(tmp) / "rotel.log"
        command = [
            str(agent),
            "start",
            "--otlp-http-endpoint",
            f"127.0.0.1:{http_port}",
            # Its gRPC receiver defaults to localhost:4317: keep it off shared ports too.
            "--otlp-grpc-endpoint",
            f"127.0.0.1:{grpc_port}",
            "--exporter",
            "blackhole",
            "--pid-file",
            str(Path(tmp) / "rotel.pid"),
            "--log-file",
            str(Path(tmp) / "rotel-agent.log"),
        ]
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while True:
                if process.poll() is not None:
                    msg = f"rotel-agent exited ({process.returncode}): {log.read_text()[-2000:]}"
                    raise RuntimeError(msg)
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", http_port)) == 0:
                        break
                if time.monotonic() > deadline:
                    msg = f"rotel-agent did not listen on 127.0.0.1:{http_port} within 15 s"
                    raise RuntimeError(msg)
                time.sleep(0.05)
            yield f"http://127.0.0.1:{http_port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def kinto_server(opts: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """Every app of :data:`~benchmarks.variants.KINTO_SERVER_APPS` under gunicorn, exporting
    to one rotel-agent, loaded in interleaved bursts (:func:`benchmarks.run.serve_and_load`)
    with ``opts.otel_server_rounds`` rounds of ``opts.otel_server_requests`` requests."""
    import importlib.util

    if importlib.util.find_spec("gunicorn") is None or importlib.util.find_spec("kinto") is None:
        return {"skipped": "gunicorn or kinto is not installed (the bench dependency group)"}
    agent = rotel_agent()
    if agent is None:
        return {"skipped": "rotel is not installed (Linux x86_64 and macOS wheels only)"}
    server_opts = argparse.Namespace(
        clients=opts.clients,
        server_requests=opts.otel_server_requests,
        server_rounds=opts.otel_server_rounds,
    )
    request = (
        f"{variants.KINTO_PATH}?{variants.KINTO_QUERY}",
        dict(variants.KINTO_HEADERS),
    )
    # The exporter's protobuf encoding in C, as in production: the runner's environment asks
    # for protobuf's pure-Python implementation for basictracer, which no app here uses.
    env = {k: v for k, v in env.items() if k != "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with collector(agent) as endpoint:
        run = serve_and_load(
            server_opts,
            {**env, "BENCH_OTLP_ENDPOINT": endpoint},
            "gunicorn",
            variants.KINTO_SERVER_APPS,
            request,
        )
    run["clients"] = opts.clients
    run["date"] = started
    run["summary"] = server_summary(run)
    return run


def run_section(
    opts: argparse.Namespace,
    env: dict[str, str],
    timing: dict[str, Any] | None = None,
    command: str = "",
) -> dict[str, Any]:
    """This section's results: the in-process variants of :func:`names` (timed here unless
    ``timing`` has them: the full run's), their summary, then the Kinto server run."""
    import datetime as dt

    from benchmarks.run import time_variants

    started = time.perf_counter()
    wanted = names()
    if timing is None:
        timing = time_variants(wanted, opts, env)
    otel: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": {
            "rounds": opts.rounds,
            "ops": opts.ops,
            "kinto_ops": variants.KINTO_OPS,
            "command": command,
        },
        "timing": {
            "stats": {name: timing["stats"][name] for name in wanted if name in timing["stats"]},
            "skipped": {name: why for name, why in timing["skipped"].items() if name in wanted},
        },
    }
    otel["summary"] = summarise(otel["timing"]["stats"])
    if not opts.no_otel_server:
        otel["server"] = kinto_server(opts, env)
    otel["seconds"] = round(time.perf_counter() - started, 1)
    return otel


# -- the report ----------------------------------------------------------------------------


def table(otel: dict[str, Any]) -> str:
    """The section as Markdown: the shapes, Kinto in-process, Kinto under gunicorn, targets."""
    stats = otel["timing"]["stats"]
    summary = otel["summary"]
    out: list[str] = []
    samples = {len(s["samples_us"]) for s in stats.values()}
    if summary["shapes"]:
        out += [
            "### In-process, every request shape (µs per request, best sample)\n",
            f"{_samples_text(samples)} Integration tax = (OpenTelemetry backend - floor) / "
            "(floor - bare): what pyramid_tracing adds beyond the SDK span itself, as a "
            "share of what that span costs. Every tracer on an SDK provider whose span "
            "processor drops the spans.\n",
            "| shape | bare | floor tween | OpenTelemetry backend | OpenTracing backend (shim) "
            "| opentelemetry-instrumentation-pyramid | integration tax |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for shape, entry in summary["shapes"].items():
            cells = [f"{entry['bare_us']:.1f}"]
            for name in ("floor-otelnative", "pt-otelnative", "pt-otel", "otel-pyramid"):
                row = entry.get(name)
                cells.append(
                    "-" if row is None else f"{row['us']:.1f} ({row['overhead_us']:+.1f})"
                )
            cells.append(_fmt(entry.get("tax"), ".2f"))
            out.append(f"| {shape} | " + " | ".join(cells) + " |")
        out.append(
            "\nEach cell: µs per request (overhead over bare). Shapes: "
            + "; ".join(f"{shape}: {SHAPE_TITLES[shape]}" for shape in summary["shapes"])
            + "."
        )
    kinto = summary.get("kinto")
    if kinto:
        out += [
            "\n### Kinto in-process (µs per request)\n",
            "`GET /v1/buckets/bench/collections/tasks/records?_limit=10` with Basic auth "
            "(Kinto 26 on its memory backends: route prefix, authentication policy, JSON "
            f"renderer, pyramid_tm; 10 records). {_samples_text(samples)}\n",
            "| variant | best | median | time / untraced (best) |",
            "| --- | ---: | ---: | ---: |",
            f"| {LABELS['bare@kinto']} | {kinto['bare_us']:.0f} | "
            f"{stats['bare@kinto']['median_us']:.0f} | 1.00 |",
        ]
        for kind in variants.KINTO_KINDS[1:]:
            name = f"{kind}@kinto"
            if kind in kinto:
                out.append(
                    f"| {LABELS[name]} | {kinto[kind]['us']:.0f} | "
                    f"{stats[name]['median_us']:.0f} | {kinto[kind]['ratio']:.3f} |"
                )
    server = otel.get("server")
    if server and "skipped" in server:
        out.append(f"\n### Kinto under gunicorn: skipped ({server['skipped']})")
    elif server:
        out += _server_table(server)
    targets = summary["targets"] + (server or {}).get("summary", {}).get("targets", [])
    if targets:
        out += ["\n### Targets of the OpenTelemetry backend\n", "| target | value | met |"]
        out.append("| --- | ---: | --- |")
        for target in targets:
            met = "yes" if target["ok"] else "NO"
            if target.get("informational"):
                met = f"{met.lower()} (informational: the floor alone)"
            out.append(f"| {target['target']} | {target['value']:.2f} | {met} |")
    return "\n".join(out)


def _samples_text(samples: set[int]) -> str:
    if not samples:
        return ""
    count = "/".join(str(n) for n in sorted(samples))
    return (
        f"Best of {count} samples per variant, interleaved round by round, each variant in "
        "its own long-lived subprocess."
    )


def _server_table(run: dict[str, Any]) -> list[str]:
    cpu = run.get("cpu_us_per_request", {})
    summary = run["summary"]
    out = [
        f"\n### Kinto under gunicorn, exporting over OTLP/HTTP to rotel-agent on loopback "
        f"(2 sync workers per app, {run['clients']} clients; {run['rounds']} rounds of a "
        f"burst of {run['requests_per_burst']:,} requests per app, all apps served at once, "
        "in turn)\n",
        "| app | requests/s (best) | CPU µs / request | CPU / untraced | CPU overhead µs | "
        "overhead / peer's |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for app in variants.KINTO_SERVER_APPS:
        out.append(
            f"| {LABELS[app]} | {run['best_requests_per_s'][app]:.0f} | "
            f"{_fmt(cpu.get(app), '.0f')} | "
            f"{_fmt(summary.get('cpu_over_untraced', {}).get(app), '.3f')} | "
            f"{_fmt(summary.get('cpu_overhead_us', {}).get(app), '+.0f')} | "
            f"{_fmt(summary.get('overhead_vs_peer', {}).get(app), '.2f')} |"
        )
    if cpu:
        per_burst = {
            app: statistics.median(run["cpu_seconds"][app]) / run["requests_per_burst"] * 1e6
            for app in variants.KINTO_SERVER_APPS
        }
        out.append(
            "\nCPU: the server's own (gunicorn master and workers, the span export thread "
            "included), from `/proc`, summed over all bursts and divided by all their "
            "requests. Median burst, µs per request: "
            + ", ".join(f"{app} {us:.0f}" for app, us in per_burst.items())
            + ". The collector's CPU is not counted. The peer records two metrics per "
            "request too, on the no-op meter provider here (none is configured)."
        )
    return out


def write_docs(path: Path, result: dict[str, Any], otel: dict[str, Any], text: str) -> None:
    """Put the section between its own markers of the docs page ``path``."""
    info = result["machine"]
    server = otel.get("server") or {}
    section = "\n".join(
        [
            DOCS_START,
            f"Run on {otel['date']}: {info.get('cpu', info['machine'])}, "
            f"{info['logical_cpus']} logical CPUs shared with other work, "
            f"{info['implementation']} {info['python']}; {otel['settings']['rounds']} rounds "
            "of one sample per variant in-process"
            + (
                f", then {server['rounds']} rounds of bursts under gunicorn"
                if "rounds" in server
                else ""
            )
            + f"; this section took {otel['seconds']:.0f} s "
            f"(`python -m benchmarks.run {otel['settings']['command']}`).",
            "" if "date" not in server else f"The gunicorn part: run on {server['date']}.",
            "",
            text,
            DOCS_END,
        ]
    )
    replace_section(path, section, DOCS_START, DOCS_END)
