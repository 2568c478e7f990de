"""The metrics keys of tracing.otel.*: defaults, OTEL_* fallbacks, and every error text."""

from __future__ import annotations

import pytest
from pyramid.exceptions import ConfigurationError

from pyramid_tracing._otel_config import OtelConfig
from pyramid_tracing._otel_metrics_config import MetricsConfig

pytest.importorskip("opentelemetry.sdk")


def parse(environ: dict[str, str] | None = None, **keys: str) -> MetricsConfig:
    """What tracer_from_settings reads: the tracing keys first, then the metrics keys."""
    settings = {f"tracing.otel.{key}": value for key, value in keys.items()}
    config = OtelConfig.from_settings(settings, environ or {})
    own = config.exporters if config.provider == "own" else None
    return MetricsConfig.from_settings(settings, own, environ or {})


def error(environ: dict[str, str] | None = None, **keys: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        parse(environ, **keys)
    return str(info.value)


def test_defaults_record_the_duration_where_the_spans_go() -> None:
    """By default the duration is recorded and exported as the spans are (otlp, console)."""
    assert parse().metrics == ("duration",)
    assert parse().exporter == "otlp"
    assert parse(exporter="console").exporter == "console"
    assert parse(exporter="tree console").exporter == "console"
    assert parse().interval is None


@pytest.mark.parametrize("exporter", ["memory", "tree", "none"])
def test_in_process_span_exporters_export_no_metrics_unless_asked(exporter: str) -> None:
    """With memory, tree or none for the spans, no metrics exporter is built by default."""
    assert parse(exporter=exporter).exporter == "none"
    assert parse(exporter=exporter, metrics_exporter="memory").exporter == "memory"


def test_metrics_lists_and_none() -> None:
    """Several metrics may be listed, repeated ones once; none records nothing."""
    config = parse(metrics="duration, active_requests\nbody_size duration")
    assert config.metrics == ("duration", "active_requests", "body_size")
    assert parse(metrics="NONE").metrics == ()


def test_the_metrics_variables_apply_to_absent_keys() -> None:
    """OTEL_METRICS_EXPORTER applies when the key is absent; the key wins over it."""
    assert parse({"OTEL_METRICS_EXPORTER": "console"}).exporter == "console"
    environ = {"OTEL_METRICS_EXPORTER": "console"}
    assert parse(environ, metrics_exporter="none").exporter == "none"
    assert parse(metrics_interval="2.5").interval == 2.5


def test_an_unknown_metric_suggests_the_closest() -> None:
    """A misspelt metric is named, with the closest one and every choice."""
    assert error(metrics="duration active_request") == (
        "Invalid value for setting 'tracing.otel.metrics': 'duration active_request'. "
        "'active_request' is not a metric. Did you mean 'active_requests'? Expected one or "
        "more of duration, active_requests, body_size, none."
    )


def test_none_cannot_be_combined_and_an_empty_list_fails() -> None:
    """'none' with another metric, or no metric at all, is an error."""
    assert error(metrics="none duration") == (
        "Invalid value for setting 'tracing.otel.metrics': 'none duration'. "
        "'none' cannot be combined with another metric."
    )
    assert error(metrics=" ") == (
        "Invalid value for setting 'tracing.otel.metrics': ' '. Expected one or more of "
        "duration, active_requests, body_size, none. Write none to record no metric."
    )


def test_an_unknown_metrics_exporter_suggests_the_closest() -> None:
    """A misspelt metrics exporter, from the key or the variable, is named with a suggestion."""
    assert error(metrics_exporter="otpl") == (
        "Invalid value for setting 'tracing.otel.metrics_exporter': 'otpl'. Expected one of "
        "otlp, console, memory, none. Did you mean 'otlp'?"
    )
    assert error({"OTEL_METRICS_EXPORTER": "prometheus"}) == (
        "Invalid value for setting 'OTEL_METRICS_EXPORTER': 'prometheus'. Expected one of "
        "otlp, console, memory, none."
    )


def test_the_interval_is_a_positive_number() -> None:
    """tracing.otel.metrics_interval is seconds, a positive number."""
    assert error(metrics_interval="0") == (
        "Invalid value for setting 'tracing.otel.metrics_interval': '0'. "
        "Expected a positive number."
    )


@pytest.mark.parametrize("key", ["metrics_exporter", "metrics_interval"])
def test_a_global_provider_takes_no_metrics_exporter_key(key: str) -> None:
    """With provider = global the process's meter provider exports: its keys are errors."""
    assert error(provider="global", **{key: "5"}) == (
        f"Invalid value for setting 'tracing.otel.{key}': '5'. With 'tracing.otel.provider' "
        "= global the process's tracer and meter providers (set up by opentelemetry-"
        "instrument, a distro or the app) have their exporters, sampler and resource "
        "already: remove this key, or set 'tracing.otel.provider' = own for pyramid_tracing "
        "to build one from these keys."
    )
    config = parse(provider="global", metrics="duration body_size")
    assert config.metrics == ("duration", "body_size")


def test_measuring_excluded_requests_is_a_boolean_read_with_either_provider() -> None:
    """metrics_include_excluded: false by default, a boolean, with provider own or global."""
    assert parse().include_excluded is False
    assert parse(metrics_include_excluded="yes").include_excluded is True
    assert parse(provider="global", metrics_include_excluded="true").include_excluded is True
    assert error(metrics_include_excluded="sometimes") == (
        "Invalid value for setting 'tracing.otel.metrics_include_excluded': 'sometimes'. "
        "Expected a boolean: true/false, yes/no, on/off or 1/0."
    )
