"""Zero-code: ``opentelemetry-instrument pserve app.ini`` traces every Pyramid app it builds.

pyramid_tracing registers :class:`PyramidTracingInstrumentor` under the
``opentelemetry_instrumentor`` entry point ``pyramid_tracing``, so that
``opentelemetry-instrument`` (or the OpenTelemetry operator's injection) loads it like every
other instrumentation. Once instrumented, each :class:`pyramid.config.Configurator` that sets
up a new registry includes pyramid_tracing, with defaults that make it use the process's
providers:

* ``tracing.tracer = pyramid_tracing.otel:tracer_from_settings`` (the OpenTelemetry
  backend), unless the settings name a tracer;
* ``tracing.otel.provider = global``: the tracer and meter providers the distro configured
  from the ``OTEL_*`` variables, unless the settings configure a provider of their own
  (``tracing.otel.exporter``, ``endpoint``, ...) or choose one;
* an explicit ``pyramid.tweens`` list gets the tracing tween above pyramid_tm's and the
  exception views', and the transaction tween right under pyramid_tm's.

Every ``tracing.*`` key of the settings still applies, and an app that includes
pyramid_tracing itself is traced once. With ``opentelemetry-instrumentation-pyramid``
instrumented in the same process, its tween is switched off in these apps (its public
``PyramidInstrumentor.uninstrument_config``): a request gets one server span, pyramid_tracing's.
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=pyramid_tracing`` chooses the other.

Needs ``opentelemetry-instrumentation`` (the ``zero-code`` extra).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import warnings
from collections.abc import Callable, Collection, Mapping
from contextvars import ContextVar
from typing import Any, Final

from pyramid.config import Configurator
from pyramid.path import package_of
from pyramid.settings import aslist

try:
    from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
        BaseInstrumentor,
    )
    from opentelemetry.instrumentation.utils import unwrap
    from wrapt import wrap_function_wrapper
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    msg = (
        f"pyramid_tracing.otel.instrumentor needs opentelemetry-instrumentation ({exc}): "
        "pip install 'pyramid_tracing[zero-code]'"
    )
    raise ImportError(msg) from exc

from .._otel_config import configures_own_provider
from .._settings import TRACER_KEYS, TracingSettings
from .._tween_order import advised_tweens

__all__ = ["PyramidTracingInstrumentor", "instrumented_settings"]

#: The tracer factory that selects the OpenTelemetry backend.
OTEL_TRACER: Final = "pyramid_tracing.otel:tracer_from_settings"
#: What :meth:`PyramidTracingInstrumentor.instrumentation_dependencies` asks for.
_INSTRUMENTS: Final = ("pyramid >= 2.0",)
# The modules whose frames stand between the app's `Configurator(...)` and the wrapper.
_WRAPPER_MODULES: Final = ("wrapt", __name__)
# Configurator's own signature, to read a call's arguments by name.
_INIT: Final = inspect.signature(Configurator.__init__)


class _State:
    """Whether the instrumentation is on, and the wrapper it installed."""

    on = False
    wrapper: object = None


_state = _State()
# Set while a wrapper calls the Configurator it wraps: a wrapper under it passes through.
_inside: ContextVar[bool] = ContextVar("pyramid_tracing_configurator", default=False)


def instrumented_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with what zero-code adds: a copy, with only the keys that are absent.

    The OpenTelemetry backend on the process's providers, unless the settings name another
    tracer or configure a provider; an explicit ``pyramid.tweens`` list with the add-on's
    tweens where they give every span.

    .. versionadded:: 0.3.0
    """
    added = dict(settings)
    named = next((key for key in TRACER_KEYS if key in settings), None)
    if named is None:
        added["tracing.tracer"] = OTEL_TRACER
    ours = named is None or settings[named] == OTEL_TRACER
    if ours and "tracing.otel.provider" not in settings and not configures_own_provider(settings):
        added["tracing.otel.provider"] = "global"
    explicit = settings.get("pyramid.tweens")
    if explicit:
        names = aslist(explicit) if isinstance(explicit, str) else [str(n) for n in explicit]
        trace, transaction = _tweens_wanted(settings)
        added["pyramid.tweens"] = "\n".join(
            advised_tweens(names, trace=trace, transaction=transaction)
        )
    return added


def _tweens_wanted(settings: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether the settings want the tracing tween and the transaction tween."""
    try:
        with warnings.catch_warnings():
            # Said once, by the include that parses them for real.
            warnings.simplefilter("ignore")
            parsed = TracingSettings.from_settings(settings)
    except Exception:  # the include reports a bad value, naming the key
        return True, True
    return parsed.trace_all, "transaction" in parsed.instrument


def _caller_package() -> Any:
    """The package of the code that called ``Configurator(...)``, as Pyramid would find it.

    ``Configurator.__init__`` looks a fixed number of frames up for its caller's package
    (``package=None``); the wrapper adds frames, so it passes the package itself.
    """
    frame = inspect.currentframe()
    assert frame is not None  # CPython and PyPy have frames
    while frame.f_back is not None and str(frame.f_globals.get("__name__")).startswith(
        _WRAPPER_MODULES
    ):
        frame = frame.f_back
    return package_of(sys.modules[frame.f_globals["__name__"]])


def _traced_init(
    wrapped: Callable[..., None], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """``Configurator.__init__`` that includes pyramid_tracing in the app it sets up."""
    bound = None
    # Off, or under another of these wrappers (instrumented again after a foreign unwrap):
    # the call passes through.
    if _state.on and not _inside.get():
        # The call as Configurator sees it, whether its arguments came by position or name;
        # a wrong call gets Pyramid's own error, from the call as it was made.
        with contextlib.suppress(TypeError):
            bound = _INIT.bind(instance, *args, **kwargs)
    if bound is None or bound.arguments.get("registry") is not None:
        # Configurator(registry=...): with_package(), testing.setUp(), an app's own helpers.
        wrapped(*args, **kwargs)
        return
    arguments = dict(bound.arguments)
    del arguments["self"]
    arguments["settings"] = instrumented_settings(arguments.get("settings") or {})
    if arguments.get("package") is None:
        arguments["package"] = _caller_package()
    token = _inside.set(True)
    try:
        wrapped(**arguments)
    finally:
        _inside.reset(token)
    instance.include("pyramid_tracing")
    # At commit, after every include has set its settings: the peer's tween passes through.
    instance.action(None, _switch_off_the_peer, args=(instance,))


def _switch_off_the_peer(config: Any) -> None:
    """Switch off opentelemetry-instrumentation-pyramid's spans in this app, if it is on."""
    try:
        from opentelemetry.instrumentation.pyramid import PyramidInstrumentor
    except ImportError:
        return
    if PyramidInstrumentor().is_instrumented_by_opentelemetry:
        PyramidInstrumentor.uninstrument_config(config)  # type: ignore[no-untyped-call]


class PyramidTracingInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces every Pyramid app with pyramid_tracing, as ``opentelemetry-instrument`` asks.

    ``PyramidTracingInstrumentor().instrument()`` wraps ``Configurator.__init__`` (see the
    module's documentation); :meth:`uninstrument` puts it back, or, when another
    instrumentation wrapped it since (its wrapper is the outermost), leaves the wrapper in
    place, passing every call through. Apps built before ``instrument()`` or after
    ``uninstrument()`` are left as they are.

    .. versionadded:: 0.3.0
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """The packages this instrumentation needs: Pyramid 2."""
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        _state.on = True
        if Configurator.__dict__["__init__"] is not _state.wrapper:
            wrap_function_wrapper("pyramid.config", "Configurator.__init__", _traced_init)
            _state.wrapper = Configurator.__dict__["__init__"]

    def _uninstrument(self, **kwargs: Any) -> None:
        _state.on = False
        # Only if it is the outermost wrapper: unwrapping would otherwise remove another
        # instrumentation's (opentelemetry-instrumentation-pyramid's, instrumented later).
        # Left in place under it, it passes every call through until instrumented again.
        if Configurator.__dict__["__init__"] is _state.wrapper:
            unwrap(Configurator, "__init__")
            _state.wrapper = None
