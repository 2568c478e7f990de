"""Distributed tracing for Pyramid applications on the OpenTracing API.

``config.include("pyramid_tracing")`` traces every request; :class:`Tracing` ties a tracer to
the settings; :func:`traced` traces any function; ``request.tracing`` gives the active span.
"""

from ._clients import traced_httpx_async_client, traced_httpx_client, traced_requests_session
from ._compat import PyramidTracer, PyramidTracing
from ._config import includeme
from ._context import ContextExecutor, context_propagating
from ._instrument import transaction_tween_factory
from ._request import RequestTracing, request_tracing
from ._scope import ScopeManager
from ._settings import TracingSettings
from ._traced import traced
from ._tracing import Tracing, current_tracing, get_tracing
from ._tween import opentracing_tween_factory, tracing_tween_factory

#: The version of this package; pyproject.toml reads it from here ([tool.hatch.version]).
__version__ = "0.1.0"

__all__ = [
    "ContextExecutor",
    "PyramidTracer",
    "PyramidTracing",
    "RequestTracing",
    "ScopeManager",
    "Tracing",
    "TracingSettings",
    "context_propagating",
    "current_tracing",
    "get_tracing",
    "includeme",
    "opentracing_tween_factory",
    "request_tracing",
    "traced",
    "traced_httpx_async_client",
    "traced_httpx_client",
    "traced_requests_session",
    "tracing_tween_factory",
    "transaction_tween_factory",
]
