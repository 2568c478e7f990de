"""The metrics keys of ``tracing.otel.*``: what :class:`~._otel_config.OtelConfig` reads of them.

A leaf module, as :mod:`._otel_config`: the converters only, nothing from OpenTelemetry.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Final

import attrs
from pyramid.exceptions import ConfigurationError

from ._parsing import as_bool, as_lower_names, as_positive_float, fail, is_unset

__all__ = [
    "METRICS",
    "METRICS_EXPORTERS",
    "METRICS_KEYS",
    "METRICS_OWN_ONLY",
    "MetricsConfig",
]

_P: Final = "tracing.otel."
#: The values accepted by ``tracing.otel.metrics`` (several may be listed).
METRICS: Final = ("duration", "active_requests", "body_size", "none")
#: The values accepted by ``tracing.otel.metrics_exporter``.
METRICS_EXPORTERS: Final = ("otlp", "console", "memory", "none")
#: The keys that configure the meter provider pyramid_tracing builds (not the global one).
METRICS_OWN_ONLY: Final = ("metrics_exporter", "metrics_interval")
#: Every metrics key.
METRICS_KEYS: Final = frozenset(
    _P + name for name in ("metrics", "metrics_include_excluded", *METRICS_OWN_ONLY)
)


@attrs.frozen(kw_only=True)
class MetricsConfig:
    """The parsed metrics keys of ``tracing.otel.*``."""

    #: The HTTP server metrics recorded: ``duration``, ``active_requests``, ``body_size``.
    metrics: tuple[str, ...] = ("duration",)
    #: Where they go (``none``: no meter provider is built; unused with ``provider = global``).
    exporter: str = "none"
    #: Seconds between two exports; ``None``: ``OTEL_METRIC_EXPORT_INTERVAL`` or 60.
    interval: float | None = None
    #: Whether the requests that tracing excludes are measured (they still get no span).
    include_excluded: bool = False

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, object],
        span_exporters: tuple[str, ...] | None,
        environ: Mapping[str, str],
    ) -> MetricsConfig:
        """Parse the metrics keys; ``span_exporters`` is ``None`` with ``provider = global``.

        Raises:
            pyramid.exceptions.ConfigurationError: a value is invalid; the message names the
                key, the value, what is allowed and the closest choice.
        """
        key = _P + "metrics_include_excluded"
        include_excluded = as_bool(key, settings.get(key, False))
        if span_exporters is None:
            # OtelConfig refused the other keys already (they configure an own provider).
            return cls(metrics=metrics(settings), include_excluded=include_excluded)
        return cls(
            metrics=metrics(settings),
            include_excluded=include_excluded,
            exporter=metrics_exporter(settings, environ, span_exporters),
            interval=as_positive_float(
                _P + "metrics_interval", settings.get(_P + "metrics_interval")
            ),
        )


def _did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def metrics(settings: Mapping[str, object]) -> tuple[str, ...]:
    """``tracing.otel.metrics``: the metrics recorded (``()`` for ``none``)."""
    key = _P + "metrics"
    value = settings.get(key, "duration")
    allowed = f"Expected one or more of {', '.join(METRICS)}."
    try:
        names = as_lower_names(key, value)
    except ConfigurationError:
        raise fail(key, value, allowed) from None
    for name in names:
        if name not in METRICS:
            raise fail(
                key, value, f"{name!r} is not a metric.{_did_you_mean(name, METRICS)} {allowed}"
            )
    if not names:
        raise fail(key, value, f"{allowed} Write none to record no metric.")
    if "none" in names:
        if len(names) > 1:
            raise fail(key, value, "'none' cannot be combined with another metric.")
        return ()
    return tuple(dict.fromkeys(names))


def metrics_exporter(
    settings: Mapping[str, object], env: Mapping[str, str], exporters: tuple[str, ...]
) -> str:
    """``tracing.otel.metrics_exporter``, else ``OTEL_METRICS_EXPORTER``, else the spans'."""
    key, value = _P + "metrics_exporter", settings.get(_P + "metrics_exporter")
    if is_unset(value):
        if env.get("OTEL_METRICS_EXPORTER", "").strip():
            key, value = "OTEL_METRICS_EXPORTER", env["OTEL_METRICS_EXPORTER"]
        else:
            # Metrics go where the spans go out of the process; memory, tree and none
            # exporters (tests, development) build no meter provider unless asked.
            return next((name for name in ("otlp", "console") if name in exporters), "none")
    name = value.strip().lower() if isinstance(value, str) else value
    if name not in METRICS_EXPORTERS:
        hint = _did_you_mean(name, METRICS_EXPORTERS) if isinstance(name, str) else ""
        raise fail(key, value, f"Expected one of {', '.join(METRICS_EXPORTERS)}.{hint}")
    assert isinstance(name, str)
    return name
