"""Parsing and validation of the ``tracing.*`` settings (and the old ``ot.*`` ones)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import attrs
import opentracing
from pyramid.exceptions import ConfigurationError

from ._defaults import (
    DEFAULT_SENSITIVE_HEADERS,
    DEFAULT_SENSITIVE_QUERY_PARAMS,
    INSTRUMENT_CHOICES,
    OPERATION_NAME_CHOICES,
    SEMCONV_CHOICES,
    TRACE_HEADER_CHOICES,
)
from ._otel_config import OTEL_KEYS, OtelConfig
from ._parsing import (
    as_attribute_names,
    as_bool,
    as_callable,
    as_choices,
    as_lower_name_set,
    as_lower_names,
    as_name_set,
    as_patterns,
    as_positive_int,
    did_you_mean,
    fail,
    is_tracer,
    is_unset,
    make_tracer,
    resolve,
)
from ._warn import warn_user

if TYPE_CHECKING:
    from .typing import FinishSpanHook, OperationNameFunc, StartSpanHook

__all__ = [
    "DEFAULT_SENSITIVE_HEADERS",
    "DEFAULT_SENSITIVE_QUERY_PARAMS",
    "INSTRUMENT_CHOICES",
    "OPERATION_NAME_CHOICES",
    "TRACER_KEYS",
    "TracingSettings",
    "check_settings",
]

PREFIX: Final = "tracing."
OTEL_PREFIX: Final = "tracing.otel."


_as_instrument = as_choices(INSTRUMENT_CHOICES)


def _as_semconv(key: str, value: object) -> str:
    if isinstance(value, str) and value.strip().lower() in SEMCONV_CHOICES:
        return value.strip().lower()
    raise fail(
        key,
        value,
        f"Expected one of {', '.join(SEMCONV_CHOICES)}.",
        choices=SEMCONV_CHOICES,
        word=value.strip().lower() if isinstance(value, str) else value,
    )


_as_trace_headers = as_choices(TRACE_HEADER_CHOICES)


def _as_operation_name(key: str, value: object) -> str | OperationNameFunc:
    if isinstance(value, str) and value.strip() in OPERATION_NAME_CHOICES:
        return value.strip()
    if (isinstance(value, str) and "." not in value and ":" not in value) or not (
        isinstance(value, str) or callable(value)
    ):
        choices = ", ".join(OPERATION_NAME_CHOICES)
        raise fail(
            key,
            value,
            f"Expected one of {choices} or the dotted name of a callable.",
            choices=OPERATION_NAME_CHOICES,
        )
    func = as_callable(key, value)
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
    warn_user(
        f"The setting {old!r} is deprecated: use {new!r} instead.",
        DeprecationWarning,
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
    #: Response headers that give the caller the trace: ``traceresponse``, ``server-timing``.
    response_trace_headers: tuple[str, ...] = ()
    #: The tag vocabulary of server and client spans: ``opentracing``, ``stable``, ``both``.
    semconv: str = "opentracing"
    #: Called as ``hook(request)`` when a request's metrics are recorded: more attributes.
    metrics_attributes_hook: Callable[[Any], Mapping[str, object]] | None = None

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

        for name, (convert, old_keys) in _CONVERTERS.items():
            # The new key wins over the old ones; the error names the key that was read.
            for key in (PREFIX + name, *old_keys):
                if key in settings:
                    values[name] = convert(key, settings[key])
                    break
        values["tracer"] = tracer = _tracer_from_settings(settings)
        if "semconv" not in values:
            # OpenTelemetry backends read its conventions: the default for its tracer.
            otel = getattr(tracer, "_pyramid_tracing_otel", False) is True
            values["semconv"] = "stable" if otel else "opentracing"
        if values["semconv"] != "opentracing" and "operation_name" not in values:
            values["operation_name"] = "method_route"  # the conventions' {method} {route}
        return cls(**values)  # type: ignore[arg-type]  # values are checked one by one above


# Each field but the tracer: its converter, and the pyramid_opentracing keys it replaces.
_CONVERTERS: Final[dict[str, tuple[Callable[[str, object], object], tuple[str, ...]]]] = {
    "trace_all": (as_bool, ("ot.trace_all",)),
    "traced_attributes": (as_attribute_names, ("ot.traced_attributes",)),
    "operation_name": (_as_operation_name, ("ot.operation_name_func",)),
    "start_span_hook": (as_callable, ("ot.start_span_cb",)),
    "finish_span_hook": (as_callable, ()),
    "exclude_paths": (as_patterns, ()),
    "exclude_routes": (as_name_set, ()),
    "capture_request_headers": (as_lower_names, ()),
    "capture_response_headers": (as_lower_names, ()),
    "sensitive_headers": (as_lower_name_set, ()),
    "sensitive_query_params": (as_lower_name_set, ()),
    "max_tag_length": (as_positive_int, ()),
    "instrument": (_as_instrument, ()),
    "response_trace_headers": (_as_trace_headers, ()),
    "semconv": (_as_semconv, ()),
    "metrics_attributes_hook": (as_callable, ()),
}


def is_tracing(value: object) -> bool:
    """Whether ``value`` is a :class:`~pyramid_tracing.Tracing` object.

    Recognised by its parsed ``settings`` rather than by its class, so that this module
    imports nothing from the package.
    """
    return not isinstance(value, type) and isinstance(
        getattr(value, "settings", None), TracingSettings
    )


#: The keys that name the tracer or its factory, in the order they are read.
TRACER_KEYS: Final = (
    "tracing.tracer",
    "ot.base_tracer",
    "ot.base_tracer_func",
    "ot.tracer_callable",
)


def check_settings(settings: Mapping[str, object]) -> None:
    """Fail now on an invalid value among ``settings``, without making the tracer.

    ``includeme`` runs it: Pyramid wraps an error raised by the deferred action that parses
    the settings in a ``ConfigurationExecutionError`` that ends ``Line 0 of file None``, after
    the whole chain of tracebacks. Raised here, the error is one paragraph naming the key, the
    value and a suggestion. The deferred action still parses every setting, added later or not.

    Raises:
        pyramid.exceptions.ConfigurationError: a value is invalid, or the tracer's dotted name
            does not resolve; with ``pyramid_tracing.otel:tracer_from_settings``, a
            ``tracing.otel.*`` value is invalid.
    """
    for name, (convert, old_keys) in _CONVERTERS.items():
        for key in (PREFIX + name, *old_keys):
            if key in settings:
                convert(key, settings[key])
                break
    tracer_key = next((name for name in TRACER_KEYS if name in settings), None)
    if tracer_key is None or is_unset(settings[tracer_key]):
        return
    factory = resolve(tracer_key, settings[tracer_key])
    # By name, not identity: this module imports nothing that needs OpenTelemetry.
    if getattr(factory, "__name__", None) == "tracer_from_settings" and str(
        getattr(factory, "__module__", "")
    ).startswith("pyramid_tracing."):
        OtelConfig.from_settings(settings)


def _tracer_from_settings(settings: Mapping[str, object]) -> opentracing.Tracer | None:
    kwargs = dict(settings)
    if "tracing.tracer" in settings:
        return make_tracer("tracing.tracer", settings["tracing.tracer"], kwargs)
    if "ot.base_tracer" in settings:
        return make_tracer("ot.base_tracer", settings["ot.base_tracer"], kwargs)
    if "ot.base_tracer_func" in settings:
        return make_tracer("ot.base_tracer_func", settings["ot.base_tracer_func"], kwargs)
    if "ot.tracer_callable" in settings:
        params = settings.get("ot.tracer_parameters") or {}
        if not isinstance(params, Mapping):
            raise fail("ot.tracer_parameters", params, "Expected a mapping of keyword arguments.")
        return make_tracer("ot.tracer_callable", settings["ot.tracer_callable"], params)
    for key in ("ot.tracer", "ot.tracing"):
        old = settings.get(key)
        if old is None or is_tracing(old):
            continue  # A Tracing under these keys is handled by includeme.
        if type(old) is opentracing.Tracer:
            # pyramid_opentracing 1.0 ignored ot.tracer; apps set OpenTracing's no-op base
            # Tracer there as a placeholder and installed the real one globally.
            warn_user(
                f"The setting {key!r} holds OpenTracing's no-op opentracing.Tracer(): as in "
                "pyramid_opentracing 1.0 it is ignored and the global tracer is used. Remove "
                "it, or set 'tracing.tracer' to the real tracer.",
                DeprecationWarning,
            )
            continue
        if is_tracer(old):
            return cast("opentracing.Tracer", old)
        # Silently falling back to the global tracer would hide a misconfiguration.
        allowed = "Expected an OpenTracing tracer or a pyramid_tracing.Tracing."
        raise fail(key, old, allowed)
    return None


_KNOWN_KEYS: Final = frozenset(PREFIX + field.name for field in attrs.fields(TracingSettings))


# The ot.* keys pyramid_opentracing read ("ot.tracing" and "ot.tracer" are also where it and
# this add-on store the app's Tracing).
_OLD_PREFIX: Final = "ot."


def _check_unknown_keys(settings: Mapping[str, object]) -> None:
    for key in settings:
        if key.startswith(_OLD_PREFIX) and key not in _OLD_KEYS:
            # pyramid_opentracing ignored unknown ot.* keys: warn, as a typo loses a setting.
            hint = did_you_mean(key, _OLD_KEYS, prefix=_OLD_PREFIX)
            warn_user(
                f"Unknown setting {key!r} (value {settings[key]!r}) is ignored.{hint} Known "
                f"pyramid_opentracing settings: {', '.join(sorted(_OLD_KEYS))}.",
                UserWarning,
            )
            continue
        if not key.startswith(PREFIX) or key in _KNOWN_KEYS or key in OTEL_KEYS:
            continue
        prefix, candidates = (
            (OTEL_PREFIX, OTEL_KEYS) if key.startswith(OTEL_PREFIX) else (PREFIX, _KNOWN_KEYS)
        )
        hint = did_you_mean(key, candidates, prefix=prefix)
        known = ", ".join(sorted(candidates))
        msg = f"Unknown setting {key!r} (value {settings[key]!r}).{hint} Known settings: {known}."
        raise ConfigurationError(msg)
