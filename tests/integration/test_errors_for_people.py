"""Configuration errors are one paragraph with a suggestion; warnings point at the user's code."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from tests.helpers.production import run_python

MISSPELT = "pyramid_tracing.otel:tracer_from_setting"
MISSPELT_ERROR = (
    f"Invalid value for setting 'tracing.tracer': {MISSPELT!r}. Cannot import it: module "
    "'pyramid_tracing.otel' has no attribute 'tracer_from_setting'. Did you mean "
    "'tracer_from_settings'?"
)


def include(settings: dict[str, Any]) -> None:
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.make_wsgi_app()


def test_a_misspelt_tracer_factory_fails_at_the_include_with_a_suggestion() -> None:
    """config.include raises one ConfigurationError naming key, value and the close name."""
    with pytest.raises(ConfigurationError) as info:
        include({"tracing.tracer": MISSPELT})
    assert type(info.value) is ConfigurationError  # not Pyramid's wrapper of deferred actions
    assert str(info.value) == MISSPELT_ERROR
    assert isinstance(info.value.__cause__, ImportError)


def test_a_misspelt_tracer_factory_added_after_the_include_keeps_the_suggestion() -> None:
    """Set after the include, the key fails at commit, in Pyramid's wrapper, with the same text."""
    config = Configurator()
    config.include("pyramid_tracing")
    config.add_settings({"tracing.tracer": MISSPELT})
    with pytest.raises(ConfigurationError) as info:
        config.make_wsgi_app()
    assert str(getattr(info.value, "evalue", None)) == MISSPELT_ERROR


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "pyramid_tracing.otl:tracer_from_settings",
            "No module named 'pyramid_tracing.otl'. Did you mean 'otel'?",
        ),
        (
            "pyramid_tracin.otel:tracer_from_settings",
            "No module named 'pyramid_tracin'. Did you mean 'pyramid_tracing'?",
        ),
        ("myapp.tracing:make_tracer", "No module named 'myapp'."),
    ],
)
def test_a_misspelt_module_gets_the_closest_module(value: str, message: str) -> None:
    """The first part that does not import is the one compared; a far miss gets no guess."""
    with pytest.raises(ConfigurationError) as info:
        include({"tracing.tracer": value})
    assert str(info.value) == (
        f"Invalid value for setting 'tracing.tracer': {value!r}. Cannot import it: {message}"
    )


SCRIPT = f"""
from pyramid.config import Configurator
with Configurator(settings={{"tracing.tracer": {MISSPELT!r}}}) as config:
    config.include("pyramid_tracing")
"""


def test_the_error_a_user_sees_ends_with_the_paragraph() -> None:
    """Run as a script: the output ends with the error, without Pyramid's 'Line 0 of file None'."""
    result = run_python("-c", SCRIPT)
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert lines[-1] == f"pyramid.exceptions.ConfigurationError: {MISSPELT_ERROR}"
    assert "Line 0 of file None" not in result.stderr
    assert len(lines) < 45, result.stderr  # was 83 lines, ending in Pyramid's wrapper


OTEL = "pyramid_tracing.otel:tracer_from_settings"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"tracing.tracer": OTEL, "tracing.otel.exporter": "otpl"},
            "'tracing.otel.exporter': 'otpl'. Expected one or more of console, memory, none, "
            "otlp, tree. Did you mean 'otlp'?",
        ),
        (
            {"tracing.tracer": OTEL, "tracing.otel.protocol": "grcp"},
            "'tracing.otel.protocol': 'grcp'. Expected one of http/protobuf, grpc. Did you "
            "mean 'grpc'?",
        ),
        (
            {"tracing.tracer": OTEL, "tracing.otel.sampler": "parentbased_traceidratoi"},
            "'tracing.otel.sampler': 'parentbased_traceidratoi'. Expected one of always_on, "
            "always_off, traceidratio, parentbased_always_on, parentbased_always_off, "
            "parentbased_traceidratio. Did you mean 'parentbased_traceidratio'?",
        ),
        (
            {"tracing.semconv": "stabel"},
            "'tracing.semconv': 'stabel'. Expected one of opentracing, stable, both. Did you "
            "mean 'stable'?",
        ),
        (
            {"tracing.instrument": "render transacton"},
            "'tracing.instrument': 'render transacton'. 'transacton' is not one of render, "
            "sqlalchemy, transaction (or empty for none). Did you mean 'transaction'?",
        ),
        (
            {"tracing.response_trace_headers": "traceresponce"},
            "'tracing.response_trace_headers': 'traceresponce'. 'traceresponce' is not one of "
            "server-timing, traceresponse (or empty for none). Did you mean 'traceresponse'?",
        ),
        (
            {"tracing.operation_name": "route_nam"},
            "'tracing.operation_name': 'route_nam'. Expected one of route_name, route_pattern, "
            "method_route or the dotted name of a callable. Did you mean 'route_name'?",
        ),
    ],
)
def test_every_choice_setting_suggests_the_closest_choice(
    settings: dict[str, Any], message: str
) -> None:
    """A misspelt choice names the key, the value, the choices and the closest one."""
    settings.setdefault("tracing.tracer", MockTracer())
    with pytest.raises(ConfigurationError) as info:
        include(settings)
    assert type(info.value) is ConfigurationError
    assert str(info.value) == f"Invalid value for setting {message}"


# -- warnings, attributed to the line of the user's configuration -----------------------------


def caught(settings: dict[str, Any]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        include(settings)
    return records


def test_a_deprecated_key_is_attributed_to_the_users_configuration() -> None:
    """The deprecation of an ot.* key points at this file (the make_wsgi_app line), not ours."""
    records = caught({"tracing.tracer": MockTracer(), "ot.trace_all": "true"})
    deprecations = [r for r in records if r.category is DeprecationWarning]
    assert [str(r.message) for r in deprecations] == [
        "The setting 'ot.trace_all' is deprecated: use 'tracing.trace_all' instead."
    ]
    assert deprecations[0].filename == __file__


def test_the_thread_local_scope_manager_warning_points_at_the_users_configuration() -> None:
    """The thread-local scope manager warning points at this file, not at pyramid_tracing."""
    tracer = MockTracer()
    (record,) = [r for r in caught({"tracing.tracer": tracer}) if r.category is UserWarning]
    assert str(record.message) == (
        f"The tracer {tracer!r} uses a thread-local scope manager: the active span will not "
        "follow asyncio tasks or copied contexts. Create the tracer with "
        "scope_manager=pyramid_tracing.ScopeManager()."
    )
    assert record.filename == __file__


def test_a_warning_from_pyramid_includes_points_at_the_configurator() -> None:
    """Included through pyramid.includes, as an INI file does: the warning points here too."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        config = Configurator(
            settings={"pyramid.includes": "pyramid_tracing", "ot.trace_all": "true"}
        )
        config.make_wsgi_app()
    deprecations = [r for r in records if r.category is DeprecationWarning]
    assert [r.filename for r in deprecations] == [__file__]
