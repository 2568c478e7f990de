"""Every tracing.otel.* setting, from an INI file (pyramid.paster.get_app) to the wire.

Sampling runs in-process through WebTest (thousands of requests in about a second); resource
attributes and gRPC go to a real collector (rotel-agent); the OTLP headers to a tiny loopback
HTTP receiver that records what it was sent.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyramid.exceptions import ConfigurationError
from pyramid.paster import get_app
from webtest import TestApp

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from pyramid_tracing import get_tracing, otel
from pyramid_tracing._otel_config import OtelConfig
from pyramid_tracing.otel import _export as _otel_export
from tests.helpers.collector import parse_spans, run_collector_urls, wait_for
from tests.helpers.otel_globals import reset_otel_globals, shut_down
from tests.helpers.production import write_ini

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def _no_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    yield
    reset_otel_globals()


def load(tmp_path: Path, **otel_settings: str) -> Any:
    """The app of an INI file with these tracing.otel.* settings, and its tracer."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    app = get_app(str(write_ini(tmp_path / "app.ini", 0, **otel_settings)), "main")
    return app, get_tracing(app.registry).tracer


def finished(tracer: Any) -> list[Any]:
    return list(otel.memory_exporter(tracer).get_finished_spans())


# -- sampling ------------------------------------------------------------------------------

SAMPLED_REQUESTS = 2000


def test_traceidratio_samples_its_ratio_of_requests(tmp_path: Path) -> None:
    """sampler = traceidratio, sampler_arg = 0.25: rotel gets about a quarter of 2,000."""
    with run_collector_urls(tmp_path) as (http_url, _, log):
        app, tracer = load(tmp_path, endpoint=http_url, sampler="traceidratio", sampler_arg="0.25")
        client = TestApp(app)
        for number in range(SAMPLED_REQUESTS):
            client.get(f"/orders/{number}")
        assert otel.tracer_provider(tracer).force_flush(timeout_millis=10_000)
        # Binomial(2000, 0.25): mean 500, standard deviation 19.4; five deviations each side.
        spans = collected(log, 403)
        time.sleep(0.2)  # anything late would show up now
        recorded = len(parse_spans(log.read_text(errors="replace")))
        shut_down(tracer)
    assert len(spans) >= 403
    assert 403 <= recorded <= 597, recorded


def test_always_off_records_nothing_and_parentbased_follows_the_caller(tmp_path: Path) -> None:
    """always_off drops every span; parentbased_always_off records a sampled caller's trace."""
    app, tracer = load(tmp_path / "off", exporter="memory", sampler="always_off")
    TestApp(app).get("/orders/1", headers={"traceparent": TRACEPARENT})
    assert finished(tracer) == []

    app, tracer = load(tmp_path / "parent", exporter="memory", sampler="parentbased_always_off")
    client = TestApp(app)
    client.get("/orders/1")
    client.get("/orders/2", headers={"traceparent": TRACEPARENT})
    assert [span.attributes["url.path"] for span in finished(tracer)] == ["/orders/2"]


def test_the_ini_sampler_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_TRACES_SAMPLER applies without the key; with both, the INI key wins."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert OtelConfig.from_settings({}).sampler is None  # the SDK reads the variable
    app, tracer = load(tmp_path, exporter="memory")
    TestApp(app).get("/orders/1")
    assert finished(tracer) == []
    reset_otel_globals()
    app, tracer = load(tmp_path / "ini", exporter="memory", sampler="always_on")
    TestApp(app).get("/orders/1")
    assert len(finished(tracer)) == 1


def test_a_ratio_from_the_environment_completes_the_ini_sampler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tracing.otel.sampler = traceidratio takes its ratio from OTEL_TRACES_SAMPLER_ARG."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    config = OtelConfig.from_settings({"tracing.otel.sampler": "traceidratio"})
    assert config.sampler == ("traceidratio", 0.5)
    config = OtelConfig.from_settings(
        {"tracing.otel.sampler": "traceidratio", "tracing.otel.sampler_arg": "0.1"}
    )
    assert config.sampler == ("traceidratio", 0.1)


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"tracing.otel.sampler": "sometimes"},
            "Invalid value for setting 'tracing.otel.sampler': 'sometimes'. Expected one of "
            "always_on, always_off, traceidratio, parentbased_always_on, "
            "parentbased_always_off, parentbased_traceidratio.",
        ),
        (
            {"tracing.otel.sampler": "traceidratio", "tracing.otel.sampler_arg": "1.5"},
            "Invalid value for setting 'tracing.otel.sampler_arg': '1.5'. Expected a sampling "
            "ratio between 0 and 1, such as 0.25.",
        ),
        (
            {"tracing.otel.sampler": "always_on", "tracing.otel.sampler_arg": "0.5"},
            "Invalid value for setting 'tracing.otel.sampler_arg': '0.5'. The sampler "
            "'always_on' takes no argument: remove 'tracing.otel.sampler_arg'.",
        ),
        (
            {"tracing.otel.sampler_arg": "0.5"},
            "Invalid value for setting 'tracing.otel.sampler_arg': '0.5'. It is the ratio of "
            "a ratio sampler: set 'tracing.otel.sampler' to traceidratio or "
            "parentbased_traceidratio.",
        ),
        (
            {"tracing.otel.protocol": "thrift"},
            "Invalid value for setting 'tracing.otel.protocol': 'thrift'. Expected one of "
            "http/protobuf, grpc.",
        ),
        (
            {"tracing.otel.timeout": "-1"},
            "Invalid value for setting 'tracing.otel.timeout': '-1'. Expected a positive number.",
        ),
        (
            {"tracing.otel.bsp_max_queue_size": "many"},
            "Invalid value for setting 'tracing.otel.bsp_max_queue_size': 'many'. Expected a "
            "positive integer.",
        ),
        (
            {"tracing.otel.bsp_schedule_delay": "soon"},
            "Invalid value for setting 'tracing.otel.bsp_schedule_delay': 'soon'. Expected a "
            "positive number.",
        ),
        (
            {"tracing.otel.resource_attributes": "team=core, region"},
            "Invalid value for setting 'tracing.otel.resource_attributes': 'team=core, region'. "
            "'region' is not key=value. Separate items with commas or newlines.",
        ),
        (
            {"tracing.otel.headers": "authorization Bearer s3cret"},
            "Invalid value for setting 'tracing.otel.headers': '<hidden>'. an item is not "
            "key=value. Separate items with commas or newlines.",
        ),
        (
            {"tracing.otel.flush_on_sigterm": "maybe"},
            "Invalid value for setting 'tracing.otel.flush_on_sigterm': 'maybe'. Expected a "
            "boolean: true/false, yes/no, on/off or 1/0.",
        ),
    ],
)
def test_invalid_values_fail_at_startup_naming_key_and_value(
    settings: dict[str, str], message: str
) -> None:
    """Each bad value fails with the key, the value (never a header's) and what is allowed."""
    with pytest.raises(ConfigurationError) as info:
        otel.tracer_from_settings(**settings)
    assert str(info.value) == message
    assert "s3cret" not in str(info.value)


def test_an_environment_protocol_is_validated_under_its_own_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad OTEL_EXPORTER_OTLP_PROTOCOL (no key set) is named in the error."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(ConfigurationError) as info:
        OtelConfig.from_settings({})
    assert str(info.value) == (
        "Invalid value for setting 'OTEL_EXPORTER_OTLP_PROTOCOL': 'http/json'. Expected one "
        "of http/protobuf, grpc."
    )
    assert OtelConfig.from_settings({"tracing.otel.protocol": "grpc"}).protocol == "grpc"


def test_the_batch_processor_settings_reach_the_processor(tmp_path: Path) -> None:
    """bsp_* settings configure the batch span processor; an impossible pair fails."""
    _, tracer = load(
        tmp_path,
        exporter="console",
        bsp_max_queue_size="64",
        bsp_max_export_batch_size="8",
        bsp_schedule_delay="250",
    )
    processor, _sentinel = otel.tracer_provider(tracer)._active_span_processor._span_processors
    batch = processor._batch_processor
    assert (batch._max_queue_size, batch._max_export_batch_size, batch._schedule_delay) == (
        64,
        8,
        0.25,
    )
    with pytest.raises(ConfigurationError, match="max_export_batch_size must be less"):
        otel.tracer_from_settings(
            **{
                "tracing.otel.exporter": "console",
                "tracing.otel.bsp_max_queue_size": "8",
                "tracing.otel.bsp_max_export_batch_size": "64",
            }
        )


# -- resource attributes and gRPC, to a real collector ---------------------------------------


def collected(log: Path, count: int) -> list[dict[str, Any]]:
    return wait_for(log, parse_spans, count, timeout=10)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_resource_attributes_reach_the_collector_over_each_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    """resource_attributes (merged with OTEL_RESOURCE_ATTRIBUTES, INI winning) reach rotel."""
    if protocol == "grpc":
        pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=from-env,region=eu-west-1")
    with run_collector_urls(tmp_path) as (http_url, grpc_url, log):
        app, tracer = load(
            tmp_path,
            endpoint=grpc_url if protocol == "grpc" else http_url,
            protocol=protocol,
            timeout="5",
            resource_attributes="team=checkout\n  deployment.environment=prod eu%%2C1",
        )
        TestApp(app).get("/orders/1")
        assert otel.tracer_provider(tracer).force_flush(timeout_millis=10_000)
        (span,) = collected(log, 1)
        shut_down(tracer)
    assert span["Name"] == "GET /orders/{id}"
    resource = span["resource"]
    assert resource["service.name"] == "Str(production-test)"
    assert resource["team"] == "Str(checkout)"
    assert resource["region"] == "Str(eu-west-1)"
    assert resource["deployment.environment"] == "Str(prod eu,1)"


# -- OTLP headers, as a loopback receiver sees them -----------------------------------------


# Seconds the receiver waits before it answers (the timeout test sets it).
delay: list[float] = [0.0]


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP server on 127.0.0.1 that answers 200 and records each request's headers."""
    seen: list[dict[str, str]] = []
    delay[0] = 0.0

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append({name.lower(): value for name, value in self.headers.items()})
            time.sleep(delay[0])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_otlp_headers_are_sent_and_never_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[dict[str, str]]]
) -> None:
    """tracing.otel.headers reach the collector (INI winning over the variable), not a span."""
    url, seen = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=from-env,x-team=env")
    app, tracer = load(
        tmp_path,
        exporter="otlp, memory",
        endpoint=url,
        headers="Authorization=Bearer s3cret, x-tenant=acme",
    )
    TestApp(app).get("/orders/1")
    assert otel.tracer_provider(tracer).force_flush(timeout_millis=10_000)
    assert len(seen) == 1
    assert seen[0]["authorization"] == "Bearer s3cret"
    assert seen[0]["x-tenant"] == "acme"
    assert seen[0]["x-team"] == "env"
    (span,) = finished(tracer)
    assert "s3cret" not in repr(dict(span.attributes or {}))
    assert "s3cret" not in repr(OtelConfig.from_settings({"tracing.otel.headers": "a=s3cret"}))
    shut_down(tracer)


def test_the_export_timeout_bounds_a_slow_collector(
    tmp_path: Path, receiver: tuple[str, list[dict[str, str]]]
) -> None:
    """tracing.otel.timeout = 0.5: an export to a collector that answers in 3 s gives up."""
    url, seen = receiver
    delay[0] = 3.0
    app, tracer = load(tmp_path, endpoint=url, timeout="0.5")
    TestApp(app).get("/orders/1")
    started = time.monotonic()
    otel.tracer_provider(tracer).force_flush(timeout_millis=10_000)
    elapsed = time.monotonic() - started
    assert seen, "the export reached the receiver"
    assert elapsed < 2.0, elapsed
    # The batch was not delivered; counted as delivered after all, so that the exit report
    # of the test run stays quiet.
    (reporter,) = [each for each in _otel_export._reporters if each.endpoint.startswith(url)]
    assert (reporter.dropped, reporter.delivered) == (1, 0)
    reporter.delivered = 1
