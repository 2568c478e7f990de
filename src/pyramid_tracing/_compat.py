"""pyramid_opentracing compatibility: its classes, its ready-made Tracing settings, its methods.

An application written for ``pyramid_opentracing`` 1.0 (or 0.x) keeps working when only the
import name changes. Its ``ot.*`` *settings* are parsed in :mod:`._settings` with the new
ones (same parsers, errors naming the key the user wrote); its tween factory name is an alias
in :mod:`._tween`; its submodules are :mod:`pyramid_tracing.tracing` and
:mod:`pyramid_tracing.tween_factory`. Everything else is here.
"""

from __future__ import annotations

from typing import Any, cast

import attrs
import opentracing
from opentracing import Span
from pyramid.exceptions import ConfigurationError
from typing_extensions import deprecated

from ._parsing import call, resolve
from ._settings import TracingSettings, is_tracing
from ._state import request_state
from ._tracing import Tracing
from ._warn import warn_user
from .typing import OperationNameFunc, Request, StartSpanHook

__all__ = ["PyramidTracer", "PyramidTracing", "ready_tracing"]


class PyramidTracing(Tracing):
    """The ``pyramid_opentracing`` 1.0 class, kept so that old code runs unchanged.

    ``PyramidTracing(tracer, start_span_cb)`` is ``Tracing(tracer, start_span_cb=...)``.
    """

    def __init__(
        self,
        tracer: opentracing.Tracer | None = None,
        start_span_cb: StartSpanHook | None = None,
        *,
        settings: TracingSettings | None = None,
    ) -> None:
        super().__init__(tracer, settings=settings, start_span_cb=start_span_cb)

    def _apply_tracing(self, request: Request, attributes: list[str] | tuple[str, ...]) -> Span:
        """pyramid_opentracing's start of a server span: started, routed, returned.

        Use :meth:`~pyramid_tracing.Tracing.start_server_span` in new code.
        """
        scope = self.start_server_span(request)
        if scope is None:
            return opentracing.Tracer().start_span(request.method)
        state = request_state(request)
        if state is not None:
            self._spans.routed(state, request, tuple(attributes))
        return scope.span

    def _finish_tracing(self, request: Request, error: BaseException | None = None) -> None:
        """pyramid_opentracing's end of a server span (the status of ``request.response``).

        Use :meth:`~pyramid_tracing.Tracing.finish_server_span` in new code.
        """
        state = request_state(request)
        if state is None or state._scope is None:
            return
        response = None if error is not None else request.response
        (state._spans or self._spans).finish(state, request, response, error)


@deprecated("PyramidTracer is deprecated since pyramid_opentracing 1.0: use Tracing.")
class PyramidTracer(PyramidTracing):
    """The ``pyramid_opentracing`` 0.x class (a deprecated alias in 1.0), kept for old code.

    Accepts both old signatures: ``PyramidTracer(tracer, trace_all, operation_name_func)``
    (0.x) and ``PyramidTracer(tracer, start_span_cb)`` (1.0). ``trace_all`` is accepted and
    ignored: the decorator never creates a second span for a request the tween traces.
    Creating one emits a :class:`DeprecationWarning`.
    """

    def __init__(
        self,
        tracer: opentracing.Tracer | None = None,
        trace_all: bool | StartSpanHook | None = None,
        operation_name_func: OperationNameFunc | None = None,
        *,
        start_span_cb: StartSpanHook | None = None,
        settings: TracingSettings | None = None,
    ) -> None:
        if callable(trace_all) and start_span_cb is None:
            # 1.0's PyramidTracer was PyramidTracing: the second argument was the callback.
            start_span_cb = trace_all
        if operation_name_func is not None:
            base = settings if settings is not None else TracingSettings()
            settings = attrs.evolve(base, operation_name=operation_name_func)
        super().__init__(tracer, settings=settings, start_span_cb=start_span_cb)


def ready_tracing(settings: dict[str, Any]) -> Tracing | None:
    """The Tracing an old app gave ready-made: ``ot.tracing``, ``ot.tracer`` or a factory.

    Raises:
        pyramid.exceptions.ConfigurationError: ``ot.tracing_callable`` is not a callable that
            returns a Tracing.
    """
    for key in ("ot.tracing", "ot.tracer"):
        value = settings.get(key)
        if is_tracing(value):
            warn_user(
                f"The setting {key!r} is deprecated: use 'tracing.tracer' with the tracer.",
                DeprecationWarning,
            )
            return cast("Tracing", value)
    key = "ot.tracing_callable"
    if key not in settings:
        return None
    factory = resolve(key, settings[key])
    if not callable(factory):
        msg = f"Invalid value for setting {key!r}: {settings[key]!r}. Expected a callable."
        raise ConfigurationError(msg)
    tracing = call(key, settings[key], factory, settings, "")
    if not is_tracing(tracing):
        msg = (
            f"Invalid value for setting {key!r}: {settings[key]!r}. It returned "
            f"{tracing!r}, which is not a pyramid_tracing.Tracing."
        )
        raise ConfigurationError(msg)
    return cast("Tracing", tracing)
