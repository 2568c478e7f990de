"""The benchmark suite (``make bench``) still runs: every variant, a few requests each."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import bytecodes, otel_backend, run, variants, worker  # noqa: E402  # beside tests/

ENV = run._env(None)


def _worker(*args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def smoke() -> dict[str, Any]:
    """Every variant run for 3 operations in one subprocess (the way the runner isolates them)."""
    result: dict[str, Any] = _worker("smoke", "--ops=3")
    return result


@pytest.mark.parametrize("name", sorted(variants.VARIANTS))
def test_variant_runs(smoke: dict[str, Any], name: str) -> None:
    """Each benchmark variant builds and runs, or is skipped because a package is missing."""
    outcome = smoke[name]
    if "skipped" in outcome:
        pytest.skip(f"{name}: {outcome['skipped']}")
    assert outcome == {"ok": True}


def test_timing_one_variant_reports_samples() -> None:
    """The timing mode reports one per-request time per sample."""
    result = _worker("time", "pt-noop", "--ops=20", "--samples=2", "--warmup=5")
    assert result["variant"] == "pt-noop"
    assert result["ops"] == 20
    assert len(result["samples_us"]) == 2
    assert all(sample > 0 for sample in result["samples_us"])


def test_samples_mode_times_one_sample_per_request() -> None:
    """The long-lived worker the runner drives: ready line, then one sample per request."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", "samples", "floor-mock", "--ops=20"],
        cwd=ROOT,
        env=ENV,
        input="sample\nsample\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ready, *samples = (json.loads(line) for line in done.stdout.splitlines())
    assert ready == {"variant": "floor-mock", "ops": 20}
    assert len(samples) == 2
    assert all(sample["us"] > 0 for sample in samples)


def test_runner_interleaves_long_lived_workers() -> None:
    """time_variants asks each variant's worker for one sample per round."""
    opts = run.argparse.Namespace(rounds=3, ops=10, warmup=5)
    result = run.time_variants(["bare", "pt-noop"], opts, ENV)
    assert result["skipped"] == {}
    for name in ("bare", "pt-noop"):
        stats = result["stats"][name]
        assert len(stats["samples_us"]) == 3
        assert stats["ops_per_sample"] == 10
        assert stats["min_us"] <= stats["median_us"] <= stats["max_us"]


def test_cold_sample_times_each_request_alone_after_a_thrash() -> None:
    """A cold sample thrashes before every request, and only the request is timed."""
    bench = variants.VARIANTS["bare@browser"][1]()
    calls: list[float] = []

    def thrash() -> None:
        calls.append(time.perf_counter())
        time.sleep(0.05)

    times = worker.cold_sample(bench, 3, thrash)
    assert len(calls) == 3
    assert len(times) == 3
    # A request takes some 100 µs; the 50 ms sleep must not be in it.
    assert all(0 < us < 50_000 for us in times), times


def test_thrash_copies_its_buffer_and_counts() -> None:
    """The thrash copies a buffer larger than an L2 cache and counts its calls and time."""
    assert len(worker.Thrash().source) >= 8 << 20
    thrash = worker.Thrash(1 << 20)
    assert set(thrash.target) == {0}
    thrash()
    thrash()
    assert thrash.target == thrash.source
    assert thrash.calls == 2
    assert thrash.seconds > 0


def test_cold_runner_interleaves_long_lived_workers() -> None:
    """time_cold asks each variant's cold worker for K requests per round, each timed."""
    opts = run.argparse.Namespace(cold_rounds=2, cold_requests=4, warmup=5)
    names = ["bare@browser", "pt-mock@browser"]
    result = run.time_cold(names, opts, ENV)
    assert result["skipped"] == {}
    assert (result["shape"], result["rounds"], result["requests_per_sample"]) == ("browser", 2, 4)
    for name in names:
        stats = result["stats"][name]
        assert stats["requests"] == 8
        assert len(stats["requests_us"]) == 8
        assert all(us > 0 for us in stats["requests_us"])
        assert min(stats["requests_us"]) <= stats["p10_us"] <= stats["median_us"]
        # The 12 MiB copy ran before each request: tens of µs at least on any machine.
        assert stats["thrash_us"] > 50
    summary = result["summary"]
    assert summary["bare_us"] == result["stats"]["bare@browser"]["p10_us"]
    mock = summary["tracers"]["mock"]
    assert mock["pyramid_tracing_overhead_us"] == pytest.approx(
        result["stats"]["pt-mock@browser"]["p10_us"] - summary["bare_us"]
    )


def test_percentile_interpolates_within_the_values() -> None:
    """The 10th percentile of 0..100 is 10; one value is its own percentile."""
    assert run.percentile([float(i) for i in range(101)], 10) == pytest.approx(10.0)
    assert run.percentile([5.0], 10) == 5.0


def _cold_stat(p10: float) -> dict[str, Any]:
    return {"p10_us": p10, "median_us": p10 + 5, "requests": 1, "thrash_us": 800.0}


def test_cold_table_renders_and_from_json_tolerates_its_absence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cold section compares 10th percentiles; a results file without it still renders."""
    stats = {
        "bare@browser": _cold_stat(80.0),
        "pt-noop@browser": _cold_stat(96.0),
        "pt-mock@browser": _cold_stat(180.0),
        "po-mock@browser": _cold_stat(190.0),
        "floor-mock@browser": _cold_stat(130.0),
    }
    hot = {"bare": {"median_us": 13.0, "min_us": 12.9, "max_us": 14.0, "samples_us": [13.0]}}
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"timing": {"stats": hot, "skipped": {}}}))
    assert run.main(["--from-json", str(old)]) == 0
    text = capsys.readouterr().out
    assert "| bare Pyramid | 13.0 | 12.9 | 14.0 | +0.0 | 1.00 |" in text
    assert "Cold" not in text

    cold = {"shape": "browser", "rounds": 2, "requests_per_sample": 25, "skipped": {}}
    new = tmp_path / "new.json"
    new.write_text(
        json.dumps({"timing": {"stats": hot, "skipped": {}}, "cold": {**cold, "stats": stats}})
    )
    assert run.main(["--from-json", str(new)]) == 0
    text = capsys.readouterr().out
    summary = json.loads(new.read_text())["cold"]["summary"]
    assert summary["noop_ratio"] == pytest.approx(1.2)
    mock = summary["tracers"]["mock"]
    assert mock["overhead_vs_peer"] == pytest.approx(100 / 110)
    assert mock["pyramid_tracing_tax"] == pytest.approx(50 / 80)
    assert "### Cold requests: (a) Browser request" in text
    assert "2 rounds of 25 requests per variant; the thrash, untimed, took 800 µs" in text
    assert "| bare Pyramid | 80.0 | 85.0 |" in text
    assert "no-op tracer: time / bare 1.20" in text
    assert "| MockTracer | +100.0 | +110.0 | +50.0 | 0.91 | 0.62, 0.75 | 0.45 |" in text


def test_memory_mode_reports_before_and_after() -> None:
    """The memory mode measures RSS and tracemalloc around its traced requests."""
    pytest.importorskip("psutil", reason="psutil (the bench dependency group) measures RSS")
    result = _worker("memory", "--requests=100", "--warmup=100")
    assert result["requests"] == 100
    for key in ("rss_before", "rss_after", "tracemalloc_before", "tracemalloc_after"):
        assert result[key] > 0


#: Real servers, tiny counts: 2 rounds of 150 requests per app (some 30 ms of server CPU
#: each, 3 clock ticks: enough to tell a server's CPU from none).
SERVER_OPTS = run.argparse.Namespace(clients=2, server_requests=150, server_rounds=2)


def _check_server_run(result: dict[str, Any]) -> None:
    """Every app got its bursts; the best, the ratios and the CPU are the ones defined."""
    apps = set(run.SERVER_APPS)
    assert result["rounds"] == 2
    assert result["requests_per_burst"] == 150
    assert set(result["requests_per_s"]) == apps
    for app, rates in result["requests_per_s"].items():
        assert len(rates) == 2
        assert all(rate > 0 for rate in rates)
        assert result["best_requests_per_s"][app] == max(rates)
    best = result["best_requests_per_s"]
    cpu = result["cpu_us_per_request"]
    for app in run.SERVER_APPS[1:]:
        assert result["traced_over_untraced"][app] == pytest.approx(best[app] / best["bare"])
        assert result["cpu_ratio"][app] == pytest.approx(cpu["bare"] / cpu[app])
    for app, bursts in result["cpu_seconds"].items():
        assert len(bursts) == 2
        assert cpu[app] == pytest.approx(sum(bursts) / 300 * 1e6)
        # A Pyramid request costs the server tens to hundreds of µs; none would mean the
        # wrong process was read (gunicorn's master, without its workers).
        assert 20 < cpu[app] < 20_000, (app, cpu[app])


def test_waitress_serves_the_apps_together_in_bursts() -> None:
    """Under waitress: all three apps served at once, bursts in turn, requests/s and CPU."""
    result = run.serve_and_load(SERVER_OPTS, ENV)
    assert result["server"] == "waitress, 4 threads"
    _check_server_run(result)


def test_round_order_rotates() -> None:
    """Over as many rounds as apps, every app runs once in every position."""
    orders = [run.round_order(run.SERVER_APPS, index) for index in range(3)]
    assert orders[0] == run.SERVER_APPS
    for position in range(3):
        assert {order[position] for order in orders} == set(run.SERVER_APPS)
    assert run.round_order(run.SERVER_APPS, 3) == run.SERVER_APPS


def test_cpu_seconds_follows_the_process_clock() -> None:
    """The CPU time read from /proc agrees with this process's own clock, to a few ticks."""
    if not run.PROC.joinpath("self", "stat").exists():
        pytest.skip("no /proc")
    tick = 1 / run.os.sysconf("SC_CLK_TCK")
    before, clock = run.cpu_seconds(run.os.getpid()), time.process_time()
    while time.process_time() - clock < 0.3:
        pass
    used = run.cpu_seconds(run.os.getpid()) - before
    assert used == pytest.approx(time.process_time() - clock, abs=3 * tick)


def test_children_are_found_by_parent_pid() -> None:
    """The processes whose parent is a PID (gunicorn's workers) are found, and no others."""
    if not run.PROC.joinpath("self", "stat").exists():
        pytest.skip("no /proc")
    # A parent with two children; all three end when the parent's stdin closes.
    script = (
        "import subprocess, sys\n"
        "child = [sys.executable, '-c', 'import sys; sys.stdin.read()']\n"
        "kids = [subprocess.Popen(child, stdin=subprocess.PIPE) for _ in range(2)]\n"
        "print(*(kid.pid for kid in kids), flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        kids = sorted(int(pid) for pid in parent.stdout.readline().split())
        assert len(kids) == 2
        assert sorted(run._children(parent.pid)) == kids
        assert run._children(kids[0]) == []
        assert run.cpu_seconds(parent.pid, children=True) >= run.cpu_seconds(parent.pid)
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        parent.wait(timeout=30)


def test_summary_and_table_from_samples() -> None:
    """Overheads, the integration tax and the targets come out of the samples as defined."""

    def stat(median: float) -> dict[str, Any]:
        return {"median_us": median, "min_us": median, "max_us": median, "samples_us": [median]}

    samples = [10.0, 10.1, 9.9, 10.0, 19.0]  # one slow sample must not widen the noise
    stats_bare = {"median_us": 10.0, "min_us": 9.9, "max_us": 19.0, "samples_us": samples}

    stats = {
        "bare": stats_bare,
        "pt-basic": stat(20.0),
        "po-basic": stat(30.0),
        "raw-basic": stat(7.0),
        "pt-noop": stat(11.0),
        "pt-basic-excluded": stat(10.2),
        "pt-basic-trace-all-false": stat(11.0),
        "floor-basic": stat(18.0),
        "bare@unsampled": stat(10.0),
        "pt-basic@unsampled": stat(13.0),
        "po-basic@unsampled": stat(20.0),
        "floor-basic@unsampled": stat(12.0),
        "pt-noop@unsampled": stat(12.0),
    }
    summary = run.summarise(stats)
    basic = summary["shapes"]["health"]["tracers"]["basic"]
    # Each variant's best round (min) is compared: bare is 9.9 here.
    assert basic["raw_span_us"] == 7.0
    assert basic["pyramid_tracing_overhead_us"] == pytest.approx(10.1)
    # The tax is measured against the floor tween: (20 - 18) / 9.9.
    assert basic["pyramid_tracing_tax"] == pytest.approx(2.0 / 9.9)
    assert basic["pyramid_opentracing_tax"] == pytest.approx(12.0 / 9.9)
    assert basic["overhead_vs_peer"] == pytest.approx(10.1 / 20.1)
    assert basic["floor_overhead_us"] == pytest.approx(8.1)
    assert basic["floor_vs_peer"] == pytest.approx(8.1 / 20.1)
    unsampled = summary["shapes"]["unsampled"]["tracers"]["basic"]
    assert unsampled["pyramid_tracing_tax"] == pytest.approx(0.1)
    verdicts = {target["target"]: target["ok"] for target in summary["targets"]}
    assert verdicts == {
        "integration tax, health, basic <= 0.35": True,
        "overhead / pyramid_opentracing's, health, basic <= 0.6": True,
        "no-op tracer time / bare, health <= 1.15": True,
        "integration tax, unsampled, basic <= 0.15": True,
        "no-op tracer time / bare, unsampled <= 1.15": False,
        "excluded request within noise of bare": True,
        "trace_all = false within noise of bare": False,
    }
    assert summary["noise_us"] == pytest.approx(0.05 * 9.9)
    result = {"timing": {"stats": stats, "skipped": {}}, "summary": summary}
    text = run.table(result)
    assert "| bare Pyramid | 10.0 | 9.9 | 19.0 | +0.0 | 1.00 |" in text
    assert "| basictracer, no-op recorder | +10.1 | +20.1 | +8.1 | 0.50 | 0.20, 1.21 | 0.40 |" in (
        text
    )


def test_server_targets_from_throughput() -> None:
    """The waitress ratios are checked against their targets: 0.9 no-op, 0.8 OpenTelemetry."""
    server = {"waitress": {"traced_over_untraced": {"pt-noop": 0.95, "pt-otel10": 0.7}}}
    verdicts = {target["target"]: target["ok"] for target in run.server_targets(server)}
    assert verdicts == {
        "waitress throughput, pyramid_tracing, no-op tracer / untraced >= 0.9": True,
        "waitress throughput, pyramid_tracing, OpenTelemetry shim, 10 % of traces sampled "
        "/ untraced >= 0.8": False,
    }


def test_server_cpu_ratios_are_informational_and_rendered() -> None:
    """The CPU ratios are listed beside the throughput targets, marked informational, and
    both show in the server table."""
    waitress = {
        "server": "waitress, 4 threads",
        "rounds": 45,
        "requests_per_burst": 1000,
        "requests_per_s": {"bare": [4000.0], "pt-noop": [3800.0], "pt-otel10": [3000.0]},
        "median_requests_per_s": {"bare": 3900.0, "pt-noop": 3700.0, "pt-otel10": 2900.0},
        "best_requests_per_s": {"bare": 4000.0, "pt-noop": 3800.0, "pt-otel10": 3000.0},
        "traced_over_untraced": {"pt-noop": 0.95, "pt-otel10": 0.75},
        "cpu_us_per_request": {"bare": 200.0, "pt-noop": 210.0, "pt-otel10": 240.0},
        "cpu_ratio": {"pt-noop": 200 / 210, "pt-otel10": 200 / 240},
    }
    server = {"clients": 8, "requests": 1000, "waitress": waitress}
    targets = run.server_targets(server)
    verdicts = {t["target"]: (t["ok"], t.get("informational", False)) for t in targets}
    assert verdicts == {
        "waitress throughput, pyramid_tracing, no-op tracer / untraced >= 0.9": (True, False),
        "waitress throughput, pyramid_tracing, OpenTelemetry shim, 10 % of traces sampled "
        "/ untraced >= 0.8": (False, False),
        "waitress CPU per request, untraced / pyramid_tracing, no-op tracer >= 0.9": (
            True,
            True,
        ),
        "waitress CPU per request, untraced / pyramid_tracing, OpenTelemetry shim, 10 % of "
        "traces sampled >= 0.8": (True, True),
    }
    text = "\n".join(run._server_table(server, waitress))
    assert "45 rounds of a burst of 1,000 browser requests per app" in text
    assert "| untraced | 4000 | 3900 | - | 200 | - |" in text
    assert "| pyramid_tracing, no-op tracer | 3800 | 3700 | 0.95 | 210 | 0.95 |" in text


@pytest.mark.parametrize("shape", variants.SHAPES)
def test_request_shapes_reach_the_view(shape: str) -> None:
    """Every request shape is answered 200 by the bare app, with its headers and body."""
    method, url, headers, body = variants.request_shape(shape, "jaeger")
    environ = variants.environ_for(shape=shape, tracer="jaeger")
    assert environ["REQUEST_METHOD"] == method
    assert environ["QUERY_STRING"] == url.partition("?")[2]
    for name in headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        assert key in environ or name in ("Content-Type", "Content-Length")
    if shape in ("service", "unsampled"):
        flag = environ["HTTP_UBER_TRACE_ID"].rsplit(":", 1)[1]
        assert flag == ("1" if shape == "service" else "0")
    if body is not None:
        assert int(environ["CONTENT_LENGTH"]) == len(body)
    variants.wsgi_loop(variants.make_app(), shape=shape, tracer="jaeger")(2)


def test_gunicorn_serves_the_apps_together_in_bursts() -> None:
    """Under gunicorn: 2 sync workers per app, their CPU counted with the master's."""
    pytest.importorskip("gunicorn")
    result = run.serve_and_load(SERVER_OPTS, ENV, "gunicorn")
    assert result["server"] == "gunicorn, 2 sync workers"
    _check_server_run(result)


def test_docs_page_is_rewritten_between_its_markers(tmp_path: Path) -> None:
    """make bench replaces only the results section of the performance page."""
    page = tmp_path / "performance.md"
    page.write_text(f"# Title\n\n{run.DOCS_START}\nold\n{run.DOCS_END}\n\nafter\n")
    result = {
        "date": "2026-01-01T00:00:00Z",
        "machine": {
            "cpu": "CPU",
            "machine": "x86_64",
            "logical_cpus": 2,
            "implementation": "CPython",
            "python": "3.11.7",
            "platform": "Linux",
            "packages": {"pyramid": "2.1"},
        },
        "settings": {"rounds": 5, "ops": 20_000},
        "seconds": 200.0,
    }
    run.write_docs(page, result, "| table |")
    text = page.read_text()
    assert text.startswith("# Title\n\n" + run.DOCS_START)
    assert "old" not in text
    assert "2 logical CPUs, CPython 3.11.7" in text
    assert text.endswith(f"| table |\n{run.DOCS_END}\n\nafter\n")


def test_bytecode_counts_are_deterministic_and_see_the_package() -> None:
    """The bytecode counter counts the same twice, and finds the package's hot path."""
    first = bytecodes.count("pt-mock", requests=3, warmup=20)
    second = bytecodes.count("pt-mock", requests=3, warmup=20)
    assert bytecodes.totals(first) == bytecodes.totals(second)
    total, mine = bytecodes.totals(first)
    bare, none = bytecodes.totals(bytecodes.count("bare", requests=3, warmup=20))
    assert none == 0
    assert 0 < mine < total
    assert total > bare
    functions = {function.split(":")[0] for path, function in first if "pyramid_tracing" in path}
    assert {"tracing_tween", "run", "start", "finish", "url_tag"} <= functions


def test_bytecode_table_row_has_a_cell_per_tracer() -> None:
    """One row per shape: bare's count, then each tracer's count beyond its floor."""
    row = bytecodes.shape_row("health", ["noop", "mock"])
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0] == "health"
    assert int(cells[1]) > 0
    assert cells[2].endswith("(over bare)")
    assert cells[3].endswith("in the package)")


def test_kinto_apps_serve_under_gunicorn_and_export_to_rotel() -> None:
    """Every Kinto app of the real-server run answers its bursts under gunicorn, exporting to
    a rotel-agent the run starts and stops itself."""
    pytest.importorskip("gunicorn")
    pytest.importorskip("kinto")
    if otel_backend.rotel_agent() is None:
        pytest.skip("rotel is not installed")
    opts = run.argparse.Namespace(clients=2, otel_server_requests=20, otel_server_rounds=1)
    result = otel_backend.kinto_server(opts, ENV)
    assert result["server"] == "gunicorn, 2 sync workers"
    assert set(result["requests_per_s"]) == set(variants.KINTO_SERVER_APPS)
    assert all(len(rates) == 1 for rates in result["requests_per_s"].values())
    assert set(result["cpu_us_per_request"]) == set(variants.KINTO_SERVER_APPS)
    targets = {target["target"] for target in result["summary"]["targets"]}
    assert (
        "Kinto under gunicorn, ParentBased TraceIdRatio 0.1: CPU per request / untraced <= 1.05"
        in targets
    )


def test_kinto_server_apps_export_every_span_kind(tmp_path: Path) -> None:
    """The traced Kinto apps send their spans to the collector: three per request with the
    default instrument, one with the server span only, the floor and the peer."""
    from opentelemetry import trace

    from tests.helpers.collector import parse_spans, run_collector

    pytest.importorskip("kinto")
    with run_collector(tmp_path) as (url, log):
        for name in (
            "pt-otelnative@kinto",
            "pt-otelnative-server@kinto",
            "floor-otelnative@kinto",
            "otel-pyramid@kinto",
        ):
            app = variants.kinto_server_app(name, url)
            variants.wsgi_loop(app, environ=variants.kinto_environ())(1)
            trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        route = "v1/buckets/{bucket_id}/collections/{collection_id}/records"
        while time.monotonic() < deadline:
            names = [span["Name"] for span in parse_spans(log.read_text(errors="replace"))]
            gets = [n for n in names if n.endswith(route) and not n.startswith("POST")]
            if len(gets) >= 2 * 4 and "transaction commit" in names:
                break
            time.sleep(0.1)
    # Each app: its 12 writes filling Kinto, then one GET checked and one timed.
    assert len(gets) >= 2 * 4, names
    assert {"render ultrajson", "transaction commit"} <= set(names)


def test_otel_summary_and_table_from_samples() -> None:
    """The integration tax is (ours - floor) / (floor - bare); Kinto's ratios are over
    untraced; the targets are checked against their limits."""

    def stat(best: float) -> dict[str, Any]:
        return {"median_us": best + 1, "min_us": best, "max_us": best + 2, "samples_us": [best]}

    stats = {
        "bare": stat(20.0),
        "floor-otelnative": stat(60.0),
        "pt-otelnative": stat(64.0),
        "pt-otel": stat(90.0),
        "bare@browser": stat(20.0),
        "floor-otelnative@browser": stat(60.0),
        "pt-otelnative@browser": stat(70.0),
        "bare@kinto": stat(1000.0),
        "pt-otelnative-off@kinto": stat(1020.0),
        "pt-otelnative@kinto": stat(1100.0),
    }
    summary = otel_backend.summarise(stats)
    assert summary["shapes"]["health"]["tax"] == pytest.approx(4 / 40)
    assert summary["shapes"]["browser"]["tax"] == pytest.approx(10 / 40)
    assert summary["kinto"]["pt-otelnative-off"]["ratio"] == pytest.approx(1.02)
    verdicts = {target["target"]: target["ok"] for target in summary["targets"]}
    tax = "OpenTelemetry backend, integration tax (ours - floor) / (floor - bare)"
    assert verdicts == {
        f"{tax}, health <= 0.15": True,
        f"{tax}, browser <= 0.15": False,
        "Kinto in-process, ALWAYS_OFF sampler, default instrument: time / untraced <= 1.03": True,
    }
    text = otel_backend.table({"timing": {"stats": stats}, "summary": summary})
    assert "| health | 20.0 | 60.0 (+40.0) | 64.0 (+44.0) | 90.0 (+70.0) | - | 0.10 |" in text
    assert (
        "| pyramid_tracing, OpenTelemetry backend, ALWAYS_OFF sampler, default instrument | "
        "1020 | 1021 | 1.020 |"
    ) in text


def test_otel_server_targets_from_cpu() -> None:
    """Under gunicorn: 10 % over untraced, and our CPU overheads over the peer's."""
    run_result = {
        "cpu_us_per_request": {
            "bare@kinto": 1000.0,
            "pt-otelnative-server@kinto": 1040.0,
            "pt-otelnative@kinto": 1120.0,
            "pt-otelnative10@kinto": 1030.0,
            "floor-otelnative@kinto": 1030.0,
            "otel-pyramid@kinto": 1100.0,
        }
    }
    summary = otel_backend.server_summary(run_result)
    assert summary["overhead_vs_peer"]["pt-otelnative-server@kinto"] == pytest.approx(0.4)
    verdicts = {target["target"]: target["ok"] for target in summary["targets"]}
    assert verdicts == {
        "Kinto under gunicorn, ParentBased TraceIdRatio 0.1: CPU per request / untraced <= 1.05": (
            True
        ),
        "Kinto under gunicorn, 100 %, server span only: CPU overhead / the peer's <= 0.4": True,
        "Kinto under gunicorn, 100 %, default three spans: CPU overhead / the peer's (one span) "
        "<= 1.0": False,
        "Kinto under gunicorn, the floor tween: CPU overhead / the peer's <= 0.4": True,
    }


def test_otel_docs_section_keeps_the_other_results(tmp_path: Path) -> None:
    """The OpenTelemetry section is written between its own markers, the rest kept."""
    page = tmp_path / "performance.md"
    page.write_text(
        f"{run.DOCS_START}\nmain\n{run.DOCS_END}\n"
        f"{otel_backend.DOCS_START}\nold\n{otel_backend.DOCS_END}\nafter\n"
    )
    result = {
        "machine": {
            "cpu": "CPU",
            "machine": "x86_64",
            "logical_cpus": 2,
            "implementation": "CPython",
            "python": "3.11.7",
        }
    }
    otel = {
        "date": "2026-01-01T00:00:00Z",
        "settings": {"rounds": 40, "command": "--otel-only"},
        "seconds": 300.0,
        "server": {"rounds": 20},
    }
    otel_backend.write_docs(page, result, otel, "| table |")
    text = page.read_text()
    assert text.startswith(f"{run.DOCS_START}\nmain\n{run.DOCS_END}\n")
    assert "old" not in text
    assert "40 rounds of one sample per variant in-process, then 20 rounds of bursts" in text
    assert text.endswith(f"| table |\n{otel_backend.DOCS_END}\nafter\n")
