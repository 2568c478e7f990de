"""``includeme``: wiring the add-on into a Pyramid configuration."""

from __future__ import annotations

import warnings
from typing import Any, Final, cast

import attrs
from opentracing.scope_managers import ThreadLocalScopeManager
from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist
from pyramid.tweens import EXCVIEW

from ._settings import TracingSettings, _resolve, is_tracing
from ._tracing import Tracing

__all__ = ["TWEEN_NAME", "get_tracing", "includeme", "setup_tracing"]

#: The dotted name under which the tween is registered.
TWEEN_NAME: Final = "pyramid_tracing.tracing_tween_factory"
_TWEEN_NAMES: Final = frozenset(
    {
        TWEEN_NAME,
        "pyramid_tracing.opentracing_tween_factory",
        "pyramid_tracing._tween.tracing_tween_factory",
    }
)
# The registry attribute holding the app's Tracing (the registry outlives every request).
_REGISTRY_ATTR: Final = "_pyramid_tracing"
_INCLUDED_ATTR: Final = "_pyramid_tracing_included"


def includeme(config: Any) -> None:
    """Set up pyramid_tracing: ``config.include('pyramid_tracing')``.

    Registers the tween (over ``EXCVIEW``), the ``request.tracing`` property, and a deferred
    configuration action that parses the settings, so that settings added after the include
    still count. Including it twice is harmless.
    """
    registry = config.registry
    if getattr(registry, _INCLUDED_ATTR, False):
        return
    setattr(registry, _INCLUDED_ATTR, True)
    from ._instrument import include_instrumentation
    from ._request import _PerRequest

    # Over pyramid_tm's tween too (when it is there): the server span covers the commit.
    config.add_tween(TWEEN_NAME, over=(EXCVIEW, "pyramid_tm.tm_tween_factory"))
    config.add_request_method(_PerRequest(), "tracing")
    config.action(("pyramid_tracing", "setup"), setup_tracing, args=(registry,))
    include_instrumentation(config)


def get_tracing(request_or_registry: Any) -> Tracing:
    """The application's :class:`Tracing`.

    Args:
        request_or_registry: a request, or the application registry.

    Raises:
        LookupError: pyramid_tracing is not included in this application.
    """
    registry = getattr(request_or_registry, "registry", request_or_registry)
    tracing = getattr(registry, _REGISTRY_ATTR, None)
    if tracing is None:
        msg = (
            "pyramid_tracing is not set up for this application: call "
            "config.include('pyramid_tracing') (or list it in pyramid.includes)."
        )
        raise LookupError(msg)
    return cast("Tracing", tracing)


def setup_tracing(registry: Any) -> Tracing:
    """Create the app's Tracing from ``registry.settings``, once; return it.

    The Tracing is also stored at ``registry.settings["ot.tracing"]`` and
    ``registry.settings["ot.tracer"]``, where ``pyramid_opentracing`` code looks for it.
    """
    existing = getattr(registry, _REGISTRY_ATTR, None)
    if existing is not None:
        return cast("Tracing", existing)
    settings = registry.settings
    if settings is None:
        settings = {}
        registry.settings = settings
    tracing = _tracing_from_settings(settings)
    setattr(registry, _REGISTRY_ATTR, tracing)
    settings["ot.tracing"] = tracing
    settings["ot.tracer"] = tracing
    _warn_about_setup(settings, tracing)
    return tracing


def _tracing_from_settings(settings: dict[str, Any]) -> Tracing:
    parsed = TracingSettings.from_settings(settings)
    ready = None if "tracing.tracer" in settings else _ready_tracing(settings)
    if ready is None:
        return Tracing(settings=parsed)
    # Settings still apply to a Tracing given ready-made, as in pyramid_opentracing.
    if parsed.tracer is None:
        parsed = attrs.evolve(parsed, tracer=ready._tracer)
    hook = parsed.start_span_hook or ready._start_span_hook
    return Tracing(settings=parsed, start_span_cb=hook)


def _ready_tracing(settings: dict[str, Any]) -> Tracing | None:
    for key in ("ot.tracing", "ot.tracer"):
        value = settings.get(key)
        if is_tracing(value):
            warnings.warn(
                f"The setting {key!r} is deprecated: use 'tracing.tracer' with the tracer.",
                DeprecationWarning,
                stacklevel=3,
            )
            return cast("Tracing", value)
    if "ot.tracing_callable" in settings:
        key = "ot.tracing_callable"
        factory = _resolve(key, settings[key])
        if not callable(factory):
            msg = f"Invalid value for setting {key!r}: {settings[key]!r}. Expected a callable."
            raise ConfigurationError(msg)
        try:
            tracing = factory(**settings)
        except Exception as exc:
            msg = (
                f"Invalid value for setting {key!r}: {settings[key]!r}. Calling it raised "
                f"{type(exc).__name__}: {exc}"
            )
            raise ConfigurationError(msg) from exc
        if not is_tracing(tracing):
            msg = (
                f"Invalid value for setting {key!r}: {settings[key]!r}. It returned "
                f"{tracing!r}, which is not a pyramid_tracing.Tracing."
            )
            raise ConfigurationError(msg)
        return cast("Tracing", tracing)
    return None


def _warn_about_setup(settings: dict[str, Any], tracing: Tracing) -> None:
    explicit = settings.get("pyramid.tweens")
    if explicit and tracing.settings.trace_all:
        names = aslist(explicit) if isinstance(explicit, str) else list(explicit)
        if not _TWEEN_NAMES.intersection(names):
            warnings.warn(
                "pyramid.tweens lists the tweens explicitly and does not list "
                f"{TWEEN_NAME!r}: requests will not be traced. Add it over "
                "'pyramid.tweens.excview_tween_factory'.",
                UserWarning,
                stacklevel=2,
            )
    try:
        scope_manager = tracing.tracer.scope_manager
    except Exception:
        return
    if isinstance(scope_manager, ThreadLocalScopeManager):
        warnings.warn(
            f"The tracer {tracing.tracer!r} uses a thread-local scope manager: the active span "
            "will not follow asyncio tasks or copied contexts. Create the tracer with "
            "scope_manager=pyramid_tracing.ScopeManager().",
            UserWarning,
            stacklevel=2,
        )
