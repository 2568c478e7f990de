"""Parsing and validation of the ``tracing.*`` settings (and the old ``ot.*`` ones)."""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import attrs
import opentracing
from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver
from pyramid.settings import aslist

from .typing import FinishSpanHook, OperationNameFunc, StartSpanHook

__all__ = [
    "DEFAULT_SENSITIVE_HEADERS",
    "DEFAULT_SENSITIVE_QUERY_PARAMS",
    "INSTRUMENT_CHOICES",
    "OPERATION_NAME_CHOICES",
    "TracingSettings",
]

PREFIX: Final = "tracing."
OTEL_PREFIX: Final = "tracing.otel."

#: The keys read by :func:`pyramid_tracing.otel.tracer_from_settings`.
OTEL_KEYS: Final = frozenset(
    {"tracing.otel.service_name", "tracing.otel.exporter", "tracing.otel.endpoint"}
)

#: Header names whose values are never recorded.
DEFAULT_SENSITIVE_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

#: Query parameter names whose values are redacted in ``http.url`` tags.
DEFAULT_SENSITIVE_QUERY_PARAMS: Final = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "client_secret",
        "code",
        "id_token",
        "key",
        "passwd",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
        "x-amz-credential",
        "x-amz-security-token",
        "x-amz-signature",
        "x-goog-signature",
    }
)

#: The named strategies accepted by ``tracing.operation_name``.
OPERATION_NAME_CHOICES: Final = ("route_name", "route_pattern", "method_route")

#: What ``tracing.instrument`` may list (see :mod:`pyramid_tracing._instrument`).
INSTRUMENT_CHOICES: Final = ("render", "sqlalchemy", "transaction")

# Exactly the documented spellings: a misspelt value must fail, not mean False.
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0"})

_resolver = DottedNameResolver()


def _fail(key: str, value: object, allowed: str) -> ConfigurationError:
    msg = f"Invalid value for setting {key!r}: {value!r}. {allowed}"
    return ConfigurationError(msg)


def _as_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise _fail(key, value, "Expected a boolean: true/false, yes/no, on/off or 1/0.")


def _as_names(key: str, value: object) -> tuple[str, ...]:
    """Parse a whitespace/newline separated string or an iterable of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(aslist(value))
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        names = tuple(value)
        if all(isinstance(name, str) and name.strip() for name in names):
            return tuple(name.strip() for name in names)
    raise _fail(key, value, "Expected names separated by whitespace or newlines, or a list.")


def _as_lower_names(key: str, value: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name.lower() for name in _as_names(key, value)))


def _as_attribute_names(key: str, value: object) -> tuple[str, ...]:
    names = _as_names(key, value)
    for name in names:
        if not name.isidentifier():
            raise _fail(key, value, f"{name!r} is not a valid request attribute name.")
    return names


def _as_patterns(key: str, value: object) -> tuple[re.Pattern[str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # One regex per line: a regex may contain spaces.
        sources: list[object] = [line.strip() for line in value.splitlines() if line.strip()]
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        sources = list(value)
    else:
        raise _fail(key, value, "Expected regular expressions, one per line, or a list.")
    patterns = []
    for source in sources:
        if isinstance(source, re.Pattern):
            patterns.append(cast("re.Pattern[str]", source))
            continue
        if not isinstance(source, str):
            raise _fail(key, value, f"{source!r} is not a regular expression string.")
        try:
            patterns.append(re.compile(source))
        except re.error as exc:
            raise _fail(key, source, f"Not a valid regular expression: {exc}.") from exc
    return tuple(patterns)


def _as_instrument(key: str, value: object) -> tuple[str, ...]:
    # Commas too ("render, sqlalchemy"): split here, whatever separators _as_names accepts.
    parts = (part.strip() for name in _as_names(key, value) for part in name.split(","))
    names = tuple(dict.fromkeys(part.lower() for part in parts if part))
    unknown = [name for name in names if name not in INSTRUMENT_CHOICES]
    if unknown:
        allowed = ", ".join(INSTRUMENT_CHOICES)
        raise _fail(key, value, f"{unknown[0]!r} is not one of {allowed} (or empty for none).")
    return names


def _as_positive_int(key: str, value: object) -> int:
    if isinstance(value, bool):
        raise _fail(key, value, "Expected a positive integer.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise _fail(key, value, "Expected a positive integer.")
    if number < 16:
        raise _fail(key, value, "Expected an integer of at least 16.")
    return number


def _resolve(key: str, value: object) -> object:
    """Resolve a dotted name (``pkg.mod.name`` or ``pkg.mod:name``); other values as they are."""
    if not isinstance(value, str):
        return value
    name = value.strip()
    try:
        return _resolver.maybe_resolve(name)
    except (ImportError, AttributeError, ValueError) as exc:
        msg = f"Invalid value for setting {key!r}: {value!r}. Cannot import it: {exc}."
        raise ConfigurationError(msg) from exc


def _is_unset(value: object) -> bool:
    # A blank INI line (``tracing.start_span_hook =``) means "not set", as it did in
    # pyramid_opentracing; it must not reach the resolver, which fails on "" with IndexError.
    return value is None or (isinstance(value, str) and not value.strip())


def _as_callable(key: str, value: object) -> Callable[..., Any] | None:
    if _is_unset(value):
        return None
    resolved = _resolve(key, value)
    if not callable(resolved):
        raise _fail(key, value, "Expected a callable or the dotted name of one.")
    return cast("Callable[..., Any]", resolved)


def is_tracer(value: object) -> bool:
    """Whether ``value`` is an OpenTracing tracer object (not a tracer class or factory)."""
    if isinstance(value, opentracing.Tracer):
        return True
    return (
        not isinstance(value, type)
        and hasattr(value, "start_active_span")
        and hasattr(value, "scope_manager")
    )


def _make_tracer(
    key: str, value: object, kwargs: Mapping[str, object]
) -> opentracing.Tracer | None:
    if _is_unset(value):
        return None
    resolved = _resolve(key, value)
    if is_tracer(resolved):
        return cast("opentracing.Tracer", resolved)
    if not callable(resolved):
        raise _fail(key, value, "Expected a tracer, a callable returning one, or a dotted name.")
    try:
        tracer = resolved(**kwargs)
    except Exception as exc:
        msg = (
            f"Invalid value for setting {key!r}: {value!r}. Calling it to create the tracer "
            f"raised {type(exc).__name__}: {exc}"
        )
        raise ConfigurationError(msg) from exc
    if not is_tracer(tracer):
        raise _fail(key, value, f"It returned {tracer!r}, which is not an OpenTracing tracer.")
    return cast("opentracing.Tracer", tracer)


def _as_operation_name(key: str, value: object) -> str | OperationNameFunc:
    if isinstance(value, str) and value.strip() in OPERATION_NAME_CHOICES:
        return value.strip()
    if (isinstance(value, str) and "." not in value and ":" not in value) or not (
        isinstance(value, str) or callable(value)
    ):
        choices = ", ".join(OPERATION_NAME_CHOICES)
        raise _fail(key, value, f"Expected one of {choices} or the dotted name of a callable.")
    func = _as_callable(key, value)
    assert func is not None
    return func


# Old pyramid_opentracing keys and the new key each one maps to.
_OLD_KEYS: Final = {
    "ot.trace_all": "tracing.trace_all",
    "ot.traced_attributes": "tracing.traced_attributes",
    "ot.base_tracer": "tracing.tracer",
    "ot.base_tracer_func": "tracing.tracer",
    "ot.tracer": "tracing.tracer",
    "ot.tracer_callable": "tracing.tracer",
    "ot.tracer_parameters": "tracing.tracer",
    "ot.operation_name_func": "tracing.operation_name",
    "ot.start_span_cb": "tracing.start_span_hook",
    "ot.tracing": "tracing.tracer",
    "ot.tracing_callable": "tracing.tracer",
}


def _warn_old_key(old: str, new: str) -> None:
    warnings.warn(
        f"The setting {old!r} is deprecated: use {new!r} instead.",
        DeprecationWarning,
        stacklevel=4,
    )


@attrs.frozen(kw_only=True)
class TracingSettings:
    """The add-on's settings, parsed and validated once at configuration time.

    Build it with :meth:`from_settings`; the class itself does no parsing.
    """

    #: Trace every request with the tween.
    trace_all: bool = True
    #: The tracer; ``None`` means the OpenTracing global tracer, looked up at each use.
    tracer: opentracing.Tracer | None = None
    #: Request attributes recorded as tags named after the attribute.
    traced_attributes: tuple[str, ...] = ()
    #: ``route_name``, ``route_pattern``, ``method_route`` or a ``(request) -> str`` callable.
    operation_name: str | OperationNameFunc = "route_name"
    #: Called as ``hook(span, request)`` after the server span starts.
    start_span_hook: StartSpanHook | None = None
    #: Called as ``hook(span, request, response, exception)`` before the server span finishes.
    finish_span_hook: FinishSpanHook | None = None
    #: Compiled regexes searched in ``request.path``; a match gets no span.
    exclude_paths: tuple[re.Pattern[str], ...] = ()
    #: Route names that get no span.
    exclude_routes: frozenset[str] = frozenset()
    #: Request header names (lowercase) recorded as ``http.request.header.<name>`` tags.
    capture_request_headers: tuple[str, ...] = ()
    #: Response header names (lowercase) recorded as ``http.response.header.<name>`` tags.
    capture_response_headers: tuple[str, ...] = ()
    #: Header names (lowercase) whose values are recorded as ``[REDACTED]``.
    sensitive_headers: frozenset[str] = DEFAULT_SENSITIVE_HEADERS
    #: Query parameter names (lowercase) whose values are redacted in ``http.url`` tags.
    sensitive_query_params: frozenset[str] = DEFAULT_SENSITIVE_QUERY_PARAMS
    #: Longer string tag values are cut to this length and marked as cut.
    max_tag_length: int = 1024
    #: What is traced inside requests: ``render``, ``transaction``, ``sqlalchemy``.
    instrument: tuple[str, ...] = ("render", "transaction")

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> TracingSettings:
        """Parse the ``tracing.*`` keys (and the old ``ot.*`` keys) of Pyramid settings.

        Values may be strings, as read from an INI file, or Python objects. Old
        ``pyramid_opentracing`` keys are accepted with a :class:`DeprecationWarning` that names
        the new key; a new key wins over an old one.

        Args:
            settings: the application settings (``registry.settings``).

        Returns:
            The parsed settings.

        Raises:
            pyramid.exceptions.ConfigurationError: a value is invalid, or a ``tracing.*`` key is
                unknown. The message names the key, the value and what is allowed.
        """
        _check_unknown_keys(settings)
        values: dict[str, object] = {}
        for old, new in _OLD_KEYS.items():
            # A Tracing object under ot.tracing / ot.tracer is handled by includeme.
            if old in settings and not is_tracing(settings[old]):
                _warn_old_key(old, new)

        def get(name: str, *old_keys: str) -> tuple[str, object] | None:
            key = PREFIX + name
            if key in settings:
                return key, settings[key]
            for old in old_keys:
                if old in settings:
                    return old, settings[old]
            return None

        if found := get("trace_all", "ot.trace_all"):
            values["trace_all"] = _as_bool(*found)
        if found := get("traced_attributes", "ot.traced_attributes"):
            values["traced_attributes"] = _as_attribute_names(*found)
        if found := get("operation_name", "ot.operation_name_func"):
            values["operation_name"] = _as_operation_name(*found)
        if found := get("start_span_hook", "ot.start_span_cb"):
            values["start_span_hook"] = _as_callable(*found)
        if found := get("finish_span_hook"):
            values["finish_span_hook"] = _as_callable(*found)
        if found := get("exclude_paths"):
            values["exclude_paths"] = _as_patterns(*found)
        if found := get("exclude_routes"):
            values["exclude_routes"] = frozenset(_as_names(*found))
        if found := get("capture_request_headers"):
            values["capture_request_headers"] = _as_lower_names(*found)
        if found := get("capture_response_headers"):
            values["capture_response_headers"] = _as_lower_names(*found)
        if found := get("sensitive_headers"):
            values["sensitive_headers"] = frozenset(_as_lower_names(*found))
        if found := get("sensitive_query_params"):
            values["sensitive_query_params"] = frozenset(_as_lower_names(*found))
        if found := get("max_tag_length"):
            values["max_tag_length"] = _as_positive_int(*found)
        if found := get("instrument"):
            values["instrument"] = _as_instrument(*found)
        values["tracer"] = _tracer_from_settings(settings)
        return cls(**values)  # type: ignore[arg-type]  # values are checked one by one above


def is_tracing(value: object) -> bool:
    """Whether ``value`` is a :class:`~pyramid_tracing.Tracing` object."""
    from ._tracing import Tracing  # _tracing imports this module

    return isinstance(value, Tracing)


def _tracer_from_settings(settings: Mapping[str, object]) -> opentracing.Tracer | None:
    kwargs = dict(settings)
    if "tracing.tracer" in settings:
        return _make_tracer("tracing.tracer", settings["tracing.tracer"], kwargs)
    if "ot.base_tracer" in settings:
        return _make_tracer("ot.base_tracer", settings["ot.base_tracer"], kwargs)
    if "ot.base_tracer_func" in settings:
        return _make_tracer("ot.base_tracer_func", settings["ot.base_tracer_func"], kwargs)
    if "ot.tracer_callable" in settings:
        params = settings.get("ot.tracer_parameters") or {}
        if not isinstance(params, Mapping):
            raise _fail("ot.tracer_parameters", params, "Expected a mapping of keyword arguments.")
        return _make_tracer("ot.tracer_callable", settings["ot.tracer_callable"], params)
    for key in ("ot.tracer", "ot.tracing"):
        old = settings.get(key)
        if old is None or is_tracing(old):
            continue  # A Tracing under these keys is handled by includeme.
        if is_tracer(old):
            return cast("opentracing.Tracer", old)
        # Silently falling back to the global tracer would hide a misconfiguration.
        allowed = "Expected an OpenTracing tracer or a pyramid_tracing.Tracing."
        raise _fail(key, old, allowed)
    return None


_KNOWN_KEYS: Final = frozenset(PREFIX + field.name for field in attrs.fields(TracingSettings))


def _check_unknown_keys(settings: Mapping[str, object]) -> None:
    for key in settings:
        if not key.startswith(PREFIX) or key in _KNOWN_KEYS or key in OTEL_KEYS:
            continue
        prefix, candidates = (
            (OTEL_PREFIX, OTEL_KEYS) if key.startswith(OTEL_PREFIX) else (PREFIX, _KNOWN_KEYS)
        )
        # Compare without the shared prefix: it would make every key look close to any other.
        suffixes = sorted(candidate[len(prefix) :] for candidate in candidates)
        close = difflib.get_close_matches(key[len(prefix) :], suffixes, n=1, cutoff=0.6)
        hint = f" Did you mean {prefix + close[0]!r}?" if close else ""
        known = ", ".join(sorted(candidates))
        msg = f"Unknown setting {key!r} (value {settings[key]!r}).{hint} Known settings: {known}."
        raise ConfigurationError(msg)
