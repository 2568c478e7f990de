"""The ``tracing.otel.*`` settings, parsed once into a frozen :class:`OtelConfig`.

Each key mirrors an OpenTelemetry environment variable: when the key is absent, the variable
applies (read here, or by the SDK itself); when both are set, the key wins. A leaf module: it
imports nothing from the package but the converters, and nothing from OpenTelemetry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote, urlsplit

import attrs
from pyramid.exceptions import ConfigurationError

from ._otel_metrics_config import METRICS_KEYS, METRICS_OWN_ONLY
from ._parsing import as_bool, as_lower_names, fail
from ._parsing import as_positive_float as _positive_float

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "EXPORTERS",
    "OTEL_KEYS",
    "OtelConfig",
    "configures_own_provider",
]

#: The values accepted by ``tracing.otel.exporter`` (several may be listed).
EXPORTERS: Final = ("console", "memory", "none", "otlp", "tree")
#: The values accepted by ``tracing.otel.sampler`` (those of ``OTEL_TRACES_SAMPLER``).
SAMPLERS: Final = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_RATIO_SAMPLERS: Final = frozenset({"traceidratio", "parentbased_traceidratio"})
#: The values accepted by ``tracing.otel.provider``.
_PROVIDERS: Final = ("own", "global")
# What pyramid_tracing would configure on its own provider: with provider = global the
# process's provider (opentelemetry-instrument, a distro, the app) has done it already.
_OWN_ONLY: Final = (
    "service_name",
    "exporter",
    "endpoint",
    "protocol",
    "headers",
    "timeout",
    "sampler",
    "sampler_arg",
    "resource_attributes",
    "bsp_max_queue_size",
    "bsp_max_export_batch_size",
    "bsp_schedule_delay",
    *METRICS_OWN_ONLY,
)
# What pyramid_tracing does at SIGTERM and at exit: read with either provider.
_EITHER: Final = ("provider", "flush_on_sigterm", "shutdown_timeout")
#: The values accepted by ``tracing.otel.protocol`` (those of ``OTEL_EXPORTER_OTLP_PROTOCOL``).
PROTOCOLS: Final = ("http/protobuf", "grpc")

_P: Final = "tracing.otel."
#: Every key read by :func:`pyramid_tracing.otel.tracer_from_settings`.
OTEL_KEYS: Final = frozenset(_P + name for name in (*_EITHER, *_OWN_ONLY)) | METRICS_KEYS
_TRACES_PATH: Final = "v1/traces"
#: Seconds that the exit (or a SIGTERM) may spend exporting what is left.
DEFAULT_SHUTDOWN_TIMEOUT: Final = 2.0


@attrs.frozen(kw_only=True)
class OtelConfig:
    """The parsed ``tracing.otel.*`` settings; ``None`` leaves the choice to OpenTelemetry."""

    #: ``own`` (built from these settings) or ``global`` (the process's provider).
    provider: str = "own"
    service_name: str | None = None
    exporters: tuple[str, ...] = ("otlp",)
    protocol: str = "http/protobuf"
    #: The OTLP endpoint, complete (``/v1/traces`` appended for OTLP/HTTP base URLs).
    endpoint: str | None = None
    #: Exporter headers; never logged, never in a span, never in an error message.
    headers: Mapping[str, str] | None = attrs.field(default=None, repr=False)
    timeout: float | None = None
    #: ``(name, ratio)`` when a key or variable names a sampler, else ``None``.
    sampler: tuple[str, float | None] | None = None
    resource_attributes: Mapping[str, str] = attrs.field(factory=dict)
    bsp_max_queue_size: int | None = None
    bsp_max_export_batch_size: int | None = None
    bsp_schedule_delay: float | None = None
    flush_on_sigterm: bool = True
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> OtelConfig:
        """Parse and validate the ``tracing.otel.*`` keys of ``settings``.

        Args:
            settings: the application settings.
            environ: the environment whose ``OTEL_*`` variables apply to absent keys
                (``os.environ`` by default).

        Raises:
            pyramid.exceptions.ConfigurationError: a value is invalid; the message names the
                key, the value (never for headers) and what is allowed.
        """
        env = os.environ if environ is None else environ
        flush_on_sigterm = as_bool(
            _P + "flush_on_sigterm", settings.get(_P + "flush_on_sigterm", True)
        )
        shutdown_timeout = (
            _positive_float(_P + "shutdown_timeout", settings.get(_P + "shutdown_timeout"))
            or DEFAULT_SHUTDOWN_TIMEOUT
        )
        if _provider(settings) == "global":
            return cls(
                provider="global",
                flush_on_sigterm=flush_on_sigterm,
                shutdown_timeout=shutdown_timeout,
            )
        exporters = _exporters(settings.get(_P + "exporter", "otlp"))
        protocol = _protocol(settings, env)
        endpoint = _endpoint(settings.get(_P + "endpoint"), exporters, protocol)
        return cls(
            service_name=_service_name(settings.get(_P + "service_name")),
            exporters=exporters,
            protocol=protocol,
            endpoint=endpoint,
            headers=_headers(settings.get(_P + "headers")),
            timeout=_positive_float(_P + "timeout", settings.get(_P + "timeout")),
            sampler=_sampler(settings, env),
            resource_attributes=_pairs(
                _P + "resource_attributes", settings.get(_P + "resource_attributes")
            )
            or {},
            bsp_max_queue_size=_count(_P + "bsp_max_queue_size", settings),
            bsp_max_export_batch_size=_count(_P + "bsp_max_export_batch_size", settings),
            bsp_schedule_delay=_positive_float(
                _P + "bsp_schedule_delay", settings.get(_P + "bsp_schedule_delay")
            ),
            flush_on_sigterm=flush_on_sigterm,
            shutdown_timeout=shutdown_timeout,
        )


def _provider(settings: Mapping[str, object]) -> str:
    key = _P + "provider"
    value = settings.get(key, "own")
    provider = value.strip().lower() if isinstance(value, str) else value
    if provider not in _PROVIDERS:
        raise fail(key, value, f"Expected one of {', '.join(_PROVIDERS)}.")
    if provider == "global":
        for name in _OWN_ONLY:
            if _P + name in settings:
                raise fail(
                    _P + name,
                    "[hidden]" if name == "headers" else settings[_P + name],
                    f"With {key!r} = global the process's tracer and meter providers (set up "
                    "by opentelemetry-instrument, a distro or the app) have their exporters, "
                    "sampler and resource already: remove this key, or set "
                    f"{key!r} = own for pyramid_tracing to build one from these keys.",
                )
    assert isinstance(provider, str)
    return provider


def configures_own_provider(settings: Mapping[str, object]) -> bool:
    """Whether ``settings`` have a key that only a provider of pyramid_tracing's own reads."""
    return any(_P + name in settings for name in _OWN_ONLY)


def _unset(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _service_name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(_P + "service_name", value, "Expected a non-empty service name.")
    return value.strip()


def _exporters(value: object) -> tuple[str, ...]:
    key = _P + "exporter"
    allowed = ", ".join(EXPORTERS)
    try:
        names = as_lower_names(key, value)
    except ConfigurationError:
        names = ()
    unknown = [name for name in names if name not in EXPORTERS]
    if not names or unknown:
        raise fail(
            key,
            value,
            f"Expected one or more of {allowed}.",
            choices=EXPORTERS,
            word=unknown[0] if unknown else None,
        )
    if "none" in names and len(names) > 1:
        raise fail(key, value, "'none' cannot be combined with another exporter.")
    return tuple(dict.fromkeys(names))


def _protocol(settings: Mapping[str, object], env: Mapping[str, str]) -> str:
    key = _P + "protocol"
    value = settings.get(key)
    if _unset(value):
        for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            if env.get(name, "").strip():
                key, value = name, env[name]
                break
        else:
            return "http/protobuf"
    protocol = value.strip().lower() if isinstance(value, str) else value
    if protocol not in PROTOCOLS:
        raise fail(
            key,
            value,
            f"Expected one of {', '.join(PROTOCOLS)}.",
            choices=PROTOCOLS,
            word=protocol,
        )
    assert isinstance(protocol, str)
    return protocol


def _endpoint(value: object, exporters: tuple[str, ...], protocol: str) -> str | None:
    key = _P + "endpoint"
    if _unset(value):
        return None
    if "otlp" not in exporters:
        raise fail(
            key,
            value,
            f"It is only used by the otlp exporter; set {_P + 'exporter'!r} to otlp or remove it.",
        )
    url = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        example = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
        raise fail(key, value, f"Expected an http:// or https:// URL such as {example}.")
    if protocol == "http/protobuf" and parts.path in ("", "/"):
        # Like OTEL_EXPORTER_OTLP_ENDPOINT: the base URL of the collector.
        return f"{url.rstrip('/')}/{_TRACES_PATH}"
    return url


def _pairs(key: str, value: object, *, secret: bool = False) -> dict[str, str] | None:
    """``key=value`` items separated by commas or newlines; values percent-decoded.

    Unlike the name lists, whitespace does not separate items here: a header value such as
    ``Bearer abc`` holds a space, and percent-encoding it would mean ``%%20`` in an INI file
    (PasteDeploy interpolates ``%``). Percent-decoding keeps the OTEL_* variables' format.
    """
    if _unset(value):
        return None
    shown = "<hidden>" if secret else value
    if isinstance(value, Mapping):
        items = [f"{name}={item}" for name, item in value.items()]
    elif isinstance(value, str):
        items = [item.strip() for item in re.split(r"[,\n]", value) if item.strip()]
    else:
        raise fail(key, shown, "Expected key=value items separated by commas or newlines.")
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip() or any(char.isspace() for char in name.strip()):
            where = "an item" if secret else repr(item)
            raise fail(
                key,
                shown,
                f"{where} is not key=value. Separate items with commas or newlines.",
            )
        pairs[unquote(name.strip())] = unquote(raw.strip())
    return pairs


def _headers(value: object) -> dict[str, str] | None:
    pairs = _pairs(_P + "headers", value, secret=True)
    # HTTP header names are case-insensitive; gRPC metadata keys must be lowercase.
    return None if pairs is None else {name.lower(): item for name, item in pairs.items()}


def _count(key: str, settings: Mapping[str, object]) -> int | None:
    value = settings.get(key)
    if _unset(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise fail(key, value, "Expected a positive integer.")
    if number < 1:
        raise fail(key, value, "Expected a positive integer.")
    return number


def _sampler(
    settings: Mapping[str, object], env: Mapping[str, str]
) -> tuple[str, float | None] | None:
    key, value = _P + "sampler", settings.get(_P + "sampler")
    arg_key, arg = _P + "sampler_arg", settings.get(_P + "sampler_arg")
    if _unset(value) and _unset(arg):
        return None  # the SDK reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG itself
    if _unset(value):
        key, value = "OTEL_TRACES_SAMPLER", env.get("OTEL_TRACES_SAMPLER", "")
        if not value.strip():
            raise fail(
                arg_key,
                arg,
                f"It is the ratio of a ratio sampler: set {_P + 'sampler'!r} to "
                "traceidratio or parentbased_traceidratio.",
            )
    name = value.strip().lower() if isinstance(value, str) else value
    if name not in SAMPLERS:
        raise fail(
            key, value, f"Expected one of {', '.join(SAMPLERS)}.", choices=SAMPLERS, word=name
        )
    assert isinstance(name, str)
    if name not in _RATIO_SAMPLERS:
        if not _unset(arg):
            raise fail(
                arg_key, arg, f"The sampler {name!r} takes no argument: remove {arg_key!r}."
            )
        return name, None
    if _unset(arg):
        arg_key, arg = "OTEL_TRACES_SAMPLER_ARG", env.get("OTEL_TRACES_SAMPLER_ARG", "")
        if not arg.strip():
            return name, 1.0  # OpenTelemetry's default ratio
    try:
        ratio = float(arg.strip() if isinstance(arg, str) else arg)  # type: ignore[arg-type]  # checked below
    except (TypeError, ValueError):
        ratio = -1.0
    if isinstance(arg, bool) or not 0.0 <= ratio <= 1.0:
        raise fail(arg_key, arg, "Expected a sampling ratio between 0 and 1, such as 0.25.")
    return name, ratio
