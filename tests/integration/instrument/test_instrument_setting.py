"""The ``tracing.instrument`` setting: parsed once, validated with the allowed names."""

from __future__ import annotations

from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from pyramid.exceptions import ConfigurationError

from pyramid_tracing import ScopeManager, TracingSettings

from .conftest import make_app


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("render, sqlalchemy", ("render", "sqlalchemy")),
        ("render,transaction,sqlalchemy", ("render", "transaction", "sqlalchemy")),
        ("\n  transaction\n  render\n", ("transaction", "render")),
        ("Render  render", ("render",)),
        ("", ()),
        (["sqlalchemy"], ("sqlalchemy",)),
        ((), ()),
    ],
)
def test_instrument_accepts_commas_whitespace_and_lists(value: Any, expected: Any) -> None:
    """Names separated by commas, whitespace or newlines (or a list) parse in order, once each."""
    assert TracingSettings.from_settings({"tracing.instrument": value}).instrument == expected


def test_the_default_is_render_and_transaction() -> None:
    """Without the key, rendering and the transaction are traced, SQL is not."""
    assert TracingSettings.from_settings({}).instrument == ("render", "transaction")


def test_an_unknown_name_fails_with_the_key_value_and_choices() -> None:
    """A misspelt name stops the app at startup, naming the key, the value and what is allowed."""
    message = (
        "Invalid value for setting 'tracing.instrument': 'render sql'. "
        "'sql' is not one of render, sqlalchemy, transaction (or empty for none)."
    )
    with pytest.raises(ConfigurationError) as raised:
        TracingSettings.from_settings({"tracing.instrument": "render sql"})
    assert str(raised.value) == message
    tracer = MockTracer(scope_manager=ScopeManager())
    with pytest.raises(ConfigurationError) as at_startup:
        make_app(tracer, lambda config: None, {"tracing.instrument": "render sql"})
    assert message in str(at_startup.value)


def test_a_value_of_the_wrong_type_fails() -> None:
    """A number is not a list of names."""
    with pytest.raises(ConfigurationError) as raised:
        TracingSettings.from_settings({"tracing.instrument": 3})
    # The rest is _as_names' own text (which lists the separators it accepts).
    assert str(raised.value).startswith(
        "Invalid value for setting 'tracing.instrument': 3. Expected names separated by "
    )
