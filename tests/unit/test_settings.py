"""TracingSettings.from_settings: every tracing.* key, every old ot.* key, every error text."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

import attrs
import opentracing
import pytest
from opentracing.mocktracer import MockTracer
from pyramid.exceptions import ConfigurationError

from pyramid_tracing import ScopeManager, Tracing, TracingSettings
from pyramid_tracing._otel_config import OTEL_KEYS
from pyramid_tracing._settings import DEFAULT_SENSITIVE_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS

HERE = __name__
BOOL_ERROR = "Expected a boolean: true/false, yes/no, on/off or 1/0."
KNOWN = (
    "tracing.capture_request_headers, tracing.capture_response_headers, "
    "tracing.exclude_paths, tracing.exclude_routes, tracing.finish_span_hook, "
    "tracing.instrument, tracing.max_tag_length, tracing.metrics_attributes_hook, "
    "tracing.operation_name, "
    "tracing.response_trace_headers, tracing.semconv, tracing.sensitive_headers, "
    "tracing.sensitive_query_params, tracing.start_span_hook, tracing.trace_all, "
    "tracing.traced_attributes, tracing.tracer"
)
KNOWN_OTEL = ", ".join(sorted(OTEL_KEYS))

# The tracer the module-level factories return, and the keyword arguments they got.
FACTORY_TRACER = MockTracer(scope_manager=ScopeManager())
factory_calls: list[dict[str, object]] = []


def make_tracer(**settings: object) -> MockTracer:
    factory_calls.append(settings)
    return FACTORY_TRACER


def broken_factory(**settings: object) -> MockTracer:
    raise RuntimeError("no agent")


def not_a_tracer_factory(**settings: object) -> object:
    return 42


def start_hook(span: object, request: object) -> None:
    """A start_span_hook reachable by dotted name."""


def name_by_path(request: Any) -> str:
    return str(request.path)


NOT_CALLABLE = 42


@pytest.fixture(autouse=True)
def _reset_factory_calls() -> None:
    factory_calls.clear()


def parse(settings: Mapping[str, object]) -> TracingSettings:
    """Parse settings that use no old key: any warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return TracingSettings.from_settings(settings)


def parse_warned(settings: Mapping[str, object]) -> tuple[TracingSettings, list[str]]:
    """Parse settings and return the DeprecationWarning messages, in order."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = TracingSettings.from_settings(settings)
    assert all(w.category is DeprecationWarning for w in caught)
    return result, [str(w.message) for w in caught]


def error(settings: Mapping[str, object]) -> str:
    """The ConfigurationError text that parsing ``settings`` raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ConfigurationError) as info:
            TracingSettings.from_settings(settings)
    return str(info.value)


def deprecated(old: str, new: str) -> str:
    return f"The setting {old!r} is deprecated: use {new!r} instead."


# -- defaults and the class itself --------------------------------------------------------------


def test_defaults() -> None:
    """Empty settings give the documented defaults."""
    settings = parse({})
    assert settings == TracingSettings()
    assert settings.trace_all is True
    assert settings.tracer is None
    assert settings.traced_attributes == ()
    assert settings.operation_name == "route_name"
    assert settings.start_span_hook is None
    assert settings.finish_span_hook is None
    assert settings.exclude_paths == ()
    assert settings.exclude_routes == frozenset()
    assert settings.capture_request_headers == ()
    assert settings.capture_response_headers == ()
    assert settings.sensitive_headers == DEFAULT_SENSITIVE_HEADERS
    assert settings.sensitive_query_params == DEFAULT_SENSITIVE_QUERY_PARAMS
    assert settings.max_tag_length == 1024


def test_frozen() -> None:
    """Assigning a field raises FrozenInstanceError."""
    settings = parse({})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.trace_all = False  # type: ignore[misc]


def test_slotted() -> None:
    """Instances have __slots__ and no __dict__."""
    settings = parse({})
    assert "trace_all" in TracingSettings.__slots__
    assert not hasattr(settings, "__dict__")


def test_non_tracing_keys_ignored() -> None:
    """Keys outside tracing.* and ot.* (including look-alikes) are ignored, silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = parse(
            {
                "pyramid.reload_templates": "true",
                "tracingx.trace_all": "bogus",
                "tracing_trace_all": "bogus",
                "sqlalchemy.url": "sqlite://",
            }
        )
    assert settings == TracingSettings()


def test_unknown_old_key_warns_with_a_suggestion() -> None:
    """An unknown ot.* key is ignored, as pyramid_opentracing did, with a warning and a hint."""
    with pytest.warns(UserWarning, match="is ignored") as caught:
        settings = TracingSettings.from_settings({"ot.traced_atributes": "path"})
    assert settings == TracingSettings()
    assert [str(w.message) for w in caught] == [
        "Unknown setting 'ot.traced_atributes' (value 'path') is ignored. Did you mean "
        "'ot.traced_attributes'? Known pyramid_opentracing settings: ot.base_tracer, "
        "ot.base_tracer_func, ot.operation_name_func, ot.start_span_cb, ot.trace_all, "
        "ot.traced_attributes, ot.tracer, ot.tracer_callable, ot.tracer_parameters, "
        "ot.tracing, ot.tracing_callable."
    ]


def test_noop_tracer_placeholder_under_ot_tracer_means_the_global_tracer() -> None:
    """``ot.tracer = opentracing.Tracer()`` was ignored by pyramid_opentracing 1.0: still is."""
    settings, messages = parse_warned({"ot.tracer": opentracing.Tracer()})
    assert settings.tracer is None
    assert messages[-1] == (
        "The setting 'ot.tracer' holds OpenTracing's no-op opentracing.Tracer(): as in "
        "pyramid_opentracing 1.0 it is ignored and the global tracer is used. Remove it, or "
        "set 'tracing.tracer' to the real tracer."
    )


# -- list settings: commas, whitespace and newlines ---------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "authorization, cookie, x-api-key",
        "authorization,cookie,x-api-key",
        "authorization cookie\nx-api-key",
        "\n  authorization,\n  cookie ,, x-api-key,\n",
        ["authorization, cookie", "", "x-api-key"],
    ],
)
def test_list_settings_accept_commas_whitespace_and_newlines(value: object) -> None:
    """Commas, whitespace and newlines all separate items; empty items are ignored."""
    settings = parse({"tracing.sensitive_headers": value})
    assert settings.sensitive_headers == frozenset({"authorization", "cookie", "x-api-key"})


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("capture_request_headers", "capture_request_headers"),
        ("capture_response_headers", "capture_response_headers"),
        ("sensitive_query_params", "sensitive_query_params"),
        ("traced_attributes", "traced_attributes"),
        ("exclude_routes", "exclude_routes"),
    ],
)
def test_no_list_setting_keeps_a_comma_in_a_name(key: str, field: str) -> None:
    """Every list setting splits ``a, b`` into ``a`` and ``b``: no name ends with a comma."""
    values = getattr(parse({f"tracing.{key}": "alpha, beta,gamma"}), field)
    assert sorted(values) == ["alpha", "beta", "gamma"]


def test_exclude_paths_split_on_top_level_commas_only() -> None:
    """Regexes split on commas outside ``{}``, ``[]`` and ``()``; ``\\,`` stays a comma."""
    settings = parse({"tracing.exclude_paths": "^/health$, ^/a{1,3}$,^/[,;]x\n^/b\\,c$"})
    assert [p.pattern for p in settings.exclude_paths] == [
        "^/health$",
        "^/a{1,3}$",
        "^/[,;]x",
        "^/b\\,c$",
    ]


def test_default_sensitive_lists_cover_csrf_and_common_credentials() -> None:
    """Pyramid's CSRF token, proxy and gateway credentials and OAuth values are redacted."""
    for header in ("x-csrf-token", "x-xsrf-token", "proxy-authorization", "x-auth-token"):
        assert header in DEFAULT_SENSITIVE_HEADERS
    for param in (
        "csrf_token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code",
        "signature",
        "sig",
    ):
        assert param in DEFAULT_SENSITIVE_QUERY_PARAMS


# -- tracing.trace_all and booleans --------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["true", "TRUE", " True ", "yes", "Yes", "on", "ON", "1", True, 1]
)
def test_trace_all_true_spellings(value: object) -> None:
    """Every accepted spelling of true (any case, surrounding spaces) parses as True."""
    assert parse({"tracing.trace_all": value}).trace_all is True


@pytest.mark.parametrize(
    "value", ["false", "FALSE", " False\n", "no", "No", "off", "OFF", "0", False, 0]
)
def test_trace_all_false_spellings(value: object) -> None:
    """Every accepted spelling of false parses as False."""
    assert parse({"tracing.trace_all": value}).trace_all is False


@pytest.mark.parametrize(
    "value", ["treu", "", "2", "nope", "enabled", "t", "Y", "f", "n", 2, -1, None, 1.0]
)
def test_trace_all_invalid(value: object) -> None:
    """A value that is no boolean spelling is an error naming key and value, not False."""
    assert error({"tracing.trace_all": value}) == (
        f"Invalid value for setting 'tracing.trace_all': {value!r}. {BOOL_ERROR}"
    )


# -- tracing.tracer ------------------------------------------------------------------------------


def test_tracer_object() -> None:
    """A tracer object is used as it is."""
    tracer = MockTracer()
    assert parse({"tracing.tracer": tracer}).tracer is tracer


def test_tracer_factory_called_with_settings() -> None:
    """A factory is called once with the whole app settings as keyword arguments."""
    settings = {"tracing.tracer": make_tracer, "service": "shop", "tracing.trace_all": "true"}
    assert parse(settings).tracer is FACTORY_TRACER
    assert factory_calls == [settings]


@pytest.mark.parametrize("separator", [".", ":"])
def test_tracer_factory_dotted_name(separator: str) -> None:
    """Both pkg.mod.name and pkg.mod:name name a factory, called with the settings."""
    settings = {"tracing.tracer": f"{HERE}{separator}make_tracer", "a": "b"}
    assert parse(settings).tracer is FACTORY_TRACER
    assert factory_calls == [settings]


@pytest.mark.parametrize("dotted", ["opentracing.tracer", "opentracing:tracer"])
def test_tracer_dotted_name_of_tracer_object(dotted: str) -> None:
    """A dotted name of a tracer object gives that object, without calling it."""
    assert parse({"tracing.tracer": dotted}).tracer is opentracing.tracer


@pytest.mark.parametrize("value", ["", "   "])
def test_tracer_blank_means_global(value: str) -> None:
    """A blank INI value leaves the tracer unset (the global tracer)."""
    assert parse({"tracing.tracer": value}).tracer is None


def test_tracer_factory_raises() -> None:
    """A factory that raises is a ConfigurationError naming key, value and the exception."""
    assert error({"tracing.tracer": broken_factory}) == (
        f"Invalid value for setting 'tracing.tracer': {broken_factory!r}. Calling it to create "
        "the tracer raised RuntimeError: no agent"
    )


def test_tracer_factory_raises_by_dotted_name() -> None:
    """The error repeats the dotted name as written."""
    dotted = f"{HERE}:broken_factory"
    assert error({"tracing.tracer": dotted}) == (
        f"Invalid value for setting 'tracing.tracer': {dotted!r}. Calling it to create "
        "the tracer raised RuntimeError: no agent"
    )


def test_tracer_factory_returns_non_tracer() -> None:
    """A factory returning something else than a tracer is an error showing what it returned."""
    assert error({"tracing.tracer": not_a_tracer_factory}) == (
        f"Invalid value for setting 'tracing.tracer': {not_a_tracer_factory!r}. It returned 42, "
        "which is not an OpenTracing tracer."
    )


def test_tracer_class_is_called_not_used() -> None:
    """A tracer class is a factory: called with the settings, its TypeError is reported."""
    settings = {"tracing.tracer": "opentracing.mocktracer:MockTracer", "x": "1"}
    with pytest.raises(TypeError) as direct:
        MockTracer(**settings)  # the error the factory call gets (its wording varies by Python)
    assert error(settings) == (
        "Invalid value for setting 'tracing.tracer': 'opentracing.mocktracer:MockTracer'. "
        f"Calling it to create the tracer raised TypeError: {direct.value}"
    )


def test_tracer_not_callable() -> None:
    """A value that is neither a tracer nor callable says what is allowed."""
    assert error({"tracing.tracer": f"{HERE}.NOT_CALLABLE"}) == (
        f"Invalid value for setting 'tracing.tracer': '{HERE}.NOT_CALLABLE'. "
        "Expected a tracer, a callable returning one, or a dotted name."
    )


@pytest.mark.parametrize(
    ("dotted", "reason"),
    [
        ("no_such_module_xyz.make", "No module named 'no_such_module_xyz'"),
        ("no_such_module_xyz:make", "No module named 'no_such_module_xyz'"),
        ("opentracing.no_such_name", "No module named 'opentracing.no_such_name'"),
        ("opentracing:no_such_name", "module 'opentracing' has no attribute 'no_such_name'"),
    ],
)
def test_tracer_unimportable(dotted: str, reason: str) -> None:
    """An unimportable dotted name (either form) is an error with the import failure."""
    assert error({"tracing.tracer": dotted}) == (
        f"Invalid value for setting 'tracing.tracer': {dotted!r}. Cannot import it: {reason}."
    )


# -- tracing.traced_attributes -------------------------------------------------------------------


def test_traced_attributes_ini() -> None:
    """Names are separated by whitespace and newlines, in order."""
    settings = parse({"tracing.traced_attributes": "\n  headers  path\n\tmatchdict\n"})
    assert settings.traced_attributes == ("headers", "path", "matchdict")


def test_traced_attributes_list() -> None:
    """A list of names is accepted, names stripped."""
    settings = parse({"tracing.traced_attributes": ["headers", " path "]})
    assert settings.traced_attributes == ("headers", "path")


def test_traced_attributes_invalid_name() -> None:
    """A name that is not an identifier is an error naming it."""
    assert error({"tracing.traced_attributes": "path request.headers"}) == (
        "Invalid value for setting 'tracing.traced_attributes': 'path request.headers'. "
        "'request.headers' is not a valid request attribute name."
    )


@pytest.mark.parametrize("value", [42, ["path", 1], {"path": 1}, [b"path"]])
def test_traced_attributes_invalid_type(value: object) -> None:
    """Anything but a string or a list of strings is an error."""
    assert error({"tracing.traced_attributes": value}) == (
        f"Invalid value for setting 'tracing.traced_attributes': {value!r}. "
        "Expected names separated by commas, whitespace or newlines, or a list."
    )


# -- tracing.operation_name ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["route_name", "route_pattern", " method_route\n"])
def test_operation_name_choices(value: str) -> None:
    """The named strategies are accepted (surrounding whitespace stripped)."""
    assert parse({"tracing.operation_name": value}).operation_name == value.strip()


def test_operation_name_callable() -> None:
    """A callable is used as it is."""
    assert parse({"tracing.operation_name": name_by_path}).operation_name is name_by_path


@pytest.mark.parametrize("separator", [".", ":"])
def test_operation_name_dotted(separator: str) -> None:
    """A dotted name (either form) resolves to the callable."""
    value = f"{HERE}{separator}name_by_path"
    assert parse({"tracing.operation_name": value}).operation_name is name_by_path


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("route", " Did you mean 'route_name'?"),
        ("method_rout", " Did you mean 'method_route'?"),
        ("", ""),
        ("GET", ""),
        (42, ""),
        (None, ""),
    ],
)
def test_operation_name_invalid(value: object, hint: str) -> None:
    """An unknown strategy or a non-callable is an error listing the choices, and the closest."""
    assert error({"tracing.operation_name": value}) == (
        f"Invalid value for setting 'tracing.operation_name': {value!r}. Expected one of "
        f"route_name, route_pattern, method_route or the dotted name of a callable.{hint}"
    )


def test_operation_name_dotted_not_callable() -> None:
    """A dotted name of something that is not callable is an error."""
    assert error({"tracing.operation_name": "os.sep"}) == (
        "Invalid value for setting 'tracing.operation_name': 'os.sep'. "
        "Expected a callable or the dotted name of one."
    )


# -- hooks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["start_span_hook", "finish_span_hook"])
def test_hook_callable(key: str) -> None:
    """A callable hook is used as it is."""
    assert getattr(parse({f"tracing.{key}": start_hook}), key) is start_hook


@pytest.mark.parametrize("key", ["start_span_hook", "finish_span_hook"])
@pytest.mark.parametrize("separator", [".", ":"])
def test_hook_dotted(key: str, separator: str) -> None:
    """A dotted name (either form) resolves to the hook."""
    settings = parse({f"tracing.{key}": f"{HERE}{separator}start_hook"})
    assert getattr(settings, key) is start_hook


@pytest.mark.parametrize("key", ["start_span_hook", "finish_span_hook"])
def test_hook_blank(key: str) -> None:
    """A blank INI value means no hook."""
    assert getattr(parse({f"tracing.{key}": " "}), key) is None


@pytest.mark.parametrize("key", ["start_span_hook", "finish_span_hook"])
@pytest.mark.parametrize("value", [42, f"{HERE}.NOT_CALLABLE"])
def test_hook_not_callable(key: str, value: object) -> None:
    """A hook that is not callable is an error naming key and value."""
    assert error({f"tracing.{key}": value}) == (
        f"Invalid value for setting 'tracing.{key}': {value!r}. "
        "Expected a callable or the dotted name of one."
    )


@pytest.mark.parametrize(
    ("dotted", "reason"),
    [
        ("json:nope", "module 'json' has no attribute 'nope'"),
        ("json.nope", "No module named 'json.nope'"),
        (
            "json.decoder.nope",
            "No module named 'json.decoder.nope'; 'json.decoder' is not a package",
        ),
        ("nope_pkg_xyz.hook", "No module named 'nope_pkg_xyz'"),
    ],
)
def test_hook_unimportable(dotted: str, reason: str) -> None:
    """An unimportable hook name is an error with the import failure."""
    assert error({"tracing.start_span_hook": dotted}) == (
        f"Invalid value for setting 'tracing.start_span_hook': {dotted!r}. "
        f"Cannot import it: {reason}."
    )


# -- exclusions ----------------------------------------------------------------------------------


def test_exclude_paths_ini() -> None:
    """One regex per line; a regex may contain spaces."""
    settings = parse({"tracing.exclude_paths": "\n^/static/\n  ^/health check$  \n"})
    assert [p.pattern for p in settings.exclude_paths] == ["^/static/", "^/health check$"]


def test_exclude_paths_list() -> None:
    """A list of strings and compiled patterns is accepted; flags are kept."""
    compiled = re.compile("^/admin", re.IGNORECASE)
    settings = parse({"tracing.exclude_paths": ["^/static/", compiled]})
    assert settings.exclude_paths[0].pattern == "^/static/"
    assert settings.exclude_paths[1] is compiled


def test_exclude_paths_bad_regex() -> None:
    """An invalid regex is an error naming it and the regex error."""
    assert error({"tracing.exclude_paths": "^/ok\n^/bad(\n"}) == (
        "Invalid value for setting 'tracing.exclude_paths': '^/bad('. Not a valid regular "
        "expression: missing ), unterminated subpattern at position 5."
    )


def test_exclude_paths_bad_type() -> None:
    """A value that is neither text nor a list is an error."""
    assert error({"tracing.exclude_paths": 42}) == (
        "Invalid value for setting 'tracing.exclude_paths': 42. "
        "Expected regular expressions, one per line or comma-separated, or a list."
    )


def test_exclude_paths_bad_item() -> None:
    """A list item that is not a string is an error naming it."""
    assert error({"tracing.exclude_paths": ["^/a", 1]}) == (
        "Invalid value for setting 'tracing.exclude_paths': ['^/a', 1]. "
        "1 is not a regular expression string."
    )


@pytest.mark.parametrize("value", ["home  health\nstatic", ["home", "health", "static"]])
def test_exclude_routes(value: object) -> None:
    """Route names are parsed into a set, from INI text or a list."""
    assert parse({"tracing.exclude_routes": value}).exclude_routes == {
        "home",
        "health",
        "static",
    }


def test_exclude_routes_bad() -> None:
    """A non-string route name is an error."""
    assert error({"tracing.exclude_routes": [None]}) == (
        "Invalid value for setting 'tracing.exclude_routes': [None]. "
        "Expected names separated by commas, whitespace or newlines, or a list."
    )


# -- headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["capture_request_headers", "capture_response_headers"])
def test_capture_headers(key: str) -> None:
    """Header names are lowercased and de-duplicated, in order."""
    settings = parse({f"tracing.{key}": "X-Request-Id Accept\nx-request-id"})
    assert getattr(settings, key) == ("x-request-id", "accept")


@pytest.mark.parametrize("key", ["capture_request_headers", "capture_response_headers"])
def test_capture_headers_list(key: str) -> None:
    """A list of header names is accepted."""
    assert getattr(parse({f"tracing.{key}": ["User-Agent"]}), key) == ("user-agent",)


def test_sensitive_headers() -> None:
    """The setting replaces the default set, lowercased."""
    settings = parse({"tracing.sensitive_headers": "Authorization X-Secret"})
    assert settings.sensitive_headers == frozenset({"authorization", "x-secret"})
    assert frozenset({"authorization", "x-secret"}) != DEFAULT_SENSITIVE_HEADERS


def test_sensitive_query_params() -> None:
    """Sensitive query parameter names are lowercased."""
    settings = parse({"tracing.sensitive_query_params": ["Session", "PIN"]})
    assert settings.sensitive_query_params == frozenset({"session", "pin"})


@pytest.mark.parametrize(
    "key",
    [
        "capture_request_headers",
        "capture_response_headers",
        "sensitive_headers",
        "sensitive_query_params",
    ],
)
@pytest.mark.parametrize("value", [7, ["X-Ok", b"X-Bytes"], {"a": "b"}])
def test_names_bad(key: str, value: object) -> None:
    """A value that is not text or a list of names is an error naming key and value."""
    assert error({f"tracing.{key}": value}) == (
        f"Invalid value for setting 'tracing.{key}': {value!r}. "
        "Expected names separated by commas, whitespace or newlines, or a list."
    )


# -- tracing.max_tag_length ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("2048", 2048), (" 16 ", 16), (100, 100)])
def test_max_tag_length(value: object, expected: int) -> None:
    """An integer of at least 16, as text or int, is accepted."""
    assert parse({"tracing.max_tag_length": value}).max_tag_length == expected


@pytest.mark.parametrize("value", ["15", 0, 15])
def test_max_tag_length_too_small(value: object) -> None:
    """A length below 16 is an error."""
    assert error({"tracing.max_tag_length": value}) == (
        f"Invalid value for setting 'tracing.max_tag_length': {value!r}. "
        "Expected an integer of at least 16."
    )


@pytest.mark.parametrize("value", ["abc", "-20", "1e3", "", 64.0, True, None])
def test_max_tag_length_not_an_integer(value: object) -> None:
    """A value that is not a positive integer is an error."""
    assert error({"tracing.max_tag_length": value}) == (
        f"Invalid value for setting 'tracing.max_tag_length': {value!r}. "
        "Expected a positive integer."
    )


# -- unknown keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("tracing.trace_al", "tracing.trace_all"),
        ("tracing.tracers", "tracing.tracer"),
        ("tracing.exclude_path", "tracing.exclude_paths"),
        ("tracing.max_tag_len", "tracing.max_tag_length"),
        ("tracing.start_span_cb", "tracing.start_span_hook"),
    ],
)
def test_unknown_key_suggests(key: str, suggestion: str) -> None:
    """An unknown tracing.* key is an error suggesting the closest key."""
    assert error({key: "1"}) == (
        f"Unknown setting {key!r} (value '1'). Did you mean {suggestion!r}? "
        f"Known settings: {KNOWN}."
    )


def test_unknown_key_without_close_match() -> None:
    """An unknown key with no close match lists the known keys without a suggestion."""
    assert error({"tracing.zzz": 1}) == (
        f"Unknown setting 'tracing.zzz' (value 1). Known settings: {KNOWN}."
    )


def test_otel_keys_accepted() -> None:
    """The tracing.otel.* keys pass the unknown-key check."""
    settings = parse(
        {
            "tracing.otel.service_name": "shop",
            "tracing.otel.exporter": "console",
            "tracing.otel.endpoint": "http://127.0.0.1:4318",
        }
    )
    assert settings == TracingSettings()


def test_otel_typo_suggests_within_otel() -> None:
    """A typo inside tracing.otel.* suggests an otel key and lists only those."""
    assert error({"tracing.otel.servce_name": "shop"}) == (
        "Unknown setting 'tracing.otel.servce_name' (value 'shop'). Did you mean "
        f"'tracing.otel.service_name'? Known settings: {KNOWN_OTEL}."
    )


def test_unknown_key_checked_before_values() -> None:
    """An unknown key is reported even when other values are valid."""
    message = error({"tracing.trace_all": "true", "tracing.trace_alll": "true"})
    assert message.startswith("Unknown setting 'tracing.trace_alll'")


# -- old ot.* keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("on", True), (False, False)])
def test_old_trace_all(value: object, expected: bool) -> None:
    """ot.trace_all maps to trace_all with a warning naming tracing.trace_all."""
    settings, messages = parse_warned({"ot.trace_all": value})
    assert settings.trace_all is expected
    assert messages == [deprecated("ot.trace_all", "tracing.trace_all")]


def test_old_trace_all_invalid_names_old_key() -> None:
    """An invalid old value is reported under the old key."""
    assert error({"ot.trace_all": "treu"}) == (
        f"Invalid value for setting 'ot.trace_all': 'treu'. {BOOL_ERROR}"
    )


def test_old_traced_attributes() -> None:
    """ot.traced_attributes maps to traced_attributes with a warning."""
    settings, messages = parse_warned({"ot.traced_attributes": "path\nheaders"})
    assert settings.traced_attributes == ("path", "headers")
    assert messages == [deprecated("ot.traced_attributes", "tracing.traced_attributes")]


def test_old_base_tracer() -> None:
    """ot.base_tracer (a tracer object) maps to tracer with a warning."""
    tracer = MockTracer()
    settings, messages = parse_warned({"ot.base_tracer": tracer})
    assert settings.tracer is tracer
    assert messages == [deprecated("ot.base_tracer", "tracing.tracer")]


def test_old_base_tracer_func_callable() -> None:
    """ot.base_tracer_func is called with the settings as keyword arguments."""
    settings = {"ot.base_tracer_func": make_tracer, "ot.trace_all": "true"}
    parsed, messages = parse_warned(settings)
    assert parsed.tracer is FACTORY_TRACER
    assert factory_calls == [settings]
    assert messages == [
        deprecated("ot.trace_all", "tracing.trace_all"),
        deprecated("ot.base_tracer_func", "tracing.tracer"),
    ]


@pytest.mark.parametrize("separator", [".", ":"])
def test_old_base_tracer_func_dotted(separator: str) -> None:
    """ot.base_tracer_func accepts a dotted name in either form."""
    settings = {"ot.base_tracer_func": f"{HERE}{separator}make_tracer"}
    parsed, messages = parse_warned(settings)
    assert parsed.tracer is FACTORY_TRACER
    assert factory_calls == [settings]
    assert messages == [deprecated("ot.base_tracer_func", "tracing.tracer")]


def test_old_base_tracer_func_raises() -> None:
    """A failing ot.base_tracer_func is reported under its own key."""
    assert error({"ot.base_tracer_func": broken_factory}) == (
        f"Invalid value for setting 'ot.base_tracer_func': {broken_factory!r}. Calling it to "
        "create the tracer raised RuntimeError: no agent"
    )


def test_old_tracer_object() -> None:
    """ot.tracer holding a tracer object maps to tracer with a warning."""
    tracer = MockTracer()
    settings, messages = parse_warned({"ot.tracer": tracer})
    assert settings.tracer is tracer
    assert messages == [deprecated("ot.tracer", "tracing.tracer")]


def test_old_tracer_holding_tracing_is_left_to_includeme() -> None:
    """ot.tracer holding a Tracing gives no warning here and no tracer (includeme uses it)."""
    settings = parse({"ot.tracer": Tracing(MockTracer()), "ot.tracing": Tracing()})
    assert settings.tracer is None


@pytest.mark.parametrize("key", ["ot.tracer", "ot.tracing"])
def test_old_tracer_invalid(key: str) -> None:
    """An ot.tracer / ot.tracing value that is neither tracer nor Tracing is an error."""
    assert error({key: "not a tracer"}) == (
        f"Invalid value for setting {key!r}: 'not a tracer'. "
        "Expected an OpenTracing tracer or a pyramid_tracing.Tracing."
    )


def test_old_tracer_callable_with_parameters() -> None:
    """ot.tracer_callable is called with ot.tracer_parameters as keyword arguments."""
    scope_manager = ScopeManager()
    settings, messages = parse_warned(
        {
            "ot.tracer_callable": "opentracing.mocktracer:MockTracer",
            "ot.tracer_parameters": {"scope_manager": scope_manager},
        }
    )
    assert isinstance(settings.tracer, MockTracer)
    assert settings.tracer.scope_manager is scope_manager
    assert messages == [
        deprecated("ot.tracer_callable", "tracing.tracer"),
        deprecated("ot.tracer_parameters", "tracing.tracer"),
    ]


def test_old_tracer_callable_without_parameters() -> None:
    """Without ot.tracer_parameters the callable is called with no arguments."""
    settings, _ = parse_warned({"ot.tracer_callable": make_tracer})
    assert settings.tracer is FACTORY_TRACER
    assert factory_calls == [{}]


def test_old_tracer_parameters_not_a_mapping() -> None:
    """ot.tracer_parameters must be a mapping."""
    assert error({"ot.tracer_callable": make_tracer, "ot.tracer_parameters": "a=1"}) == (
        "Invalid value for setting 'ot.tracer_parameters': 'a=1'. "
        "Expected a mapping of keyword arguments."
    )


def test_old_operation_name_func() -> None:
    """ot.operation_name_func maps to operation_name with a warning."""
    settings, messages = parse_warned({"ot.operation_name_func": f"{HERE}.name_by_path"})
    assert settings.operation_name is name_by_path
    assert messages == [deprecated("ot.operation_name_func", "tracing.operation_name")]


def test_old_start_span_cb() -> None:
    """ot.start_span_cb maps to start_span_hook with a warning."""
    settings, messages = parse_warned({"ot.start_span_cb": start_hook})
    assert settings.start_span_hook is start_hook
    assert messages == [deprecated("ot.start_span_cb", "tracing.start_span_hook")]


def test_new_keys_win_over_old() -> None:
    """When both are given, the tracing.* key wins (the old one still warns)."""
    new_tracer, old_tracer = MockTracer(), MockTracer()
    settings, messages = parse_warned(
        {
            "tracing.trace_all": "false",
            "ot.trace_all": "true",
            "tracing.traced_attributes": "path",
            "ot.traced_attributes": "headers",
            "tracing.tracer": new_tracer,
            "ot.base_tracer": old_tracer,
            "ot.tracer": old_tracer,
            "ot.base_tracer_func": make_tracer,
            "tracing.operation_name": "route_pattern",
            "ot.operation_name_func": name_by_path,
            "tracing.start_span_hook": name_by_path,
            "ot.start_span_cb": start_hook,
        }
    )
    assert settings.trace_all is False
    assert settings.traced_attributes == ("path",)
    assert settings.tracer is new_tracer
    assert settings.operation_name == "route_pattern"
    assert settings.start_span_hook is name_by_path
    assert factory_calls == []
    assert len(messages) == 7


def test_old_base_tracer_wins_over_base_tracer_func() -> None:
    """Among old keys, ot.base_tracer is used before ot.base_tracer_func is called."""
    tracer = MockTracer()
    settings, _ = parse_warned({"ot.base_tracer": tracer, "ot.base_tracer_func": make_tracer})
    assert settings.tracer is tracer
    assert factory_calls == []
