"""``pyramid_opentracing.tween_factory``'s import path, kept for old code; deprecated.

Import :func:`~pyramid_tracing.includeme` and the tween factory from ``pyramid_tracing``
instead. Importing this module emits a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings

from ._config import includeme
from ._tween import opentracing_tween_factory

__all__ = ["includeme", "opentracing_tween_factory"]

warnings.warn(
    "pyramid_tracing.tween_factory is deprecated (it mirrors "
    "pyramid_opentracing.tween_factory): import includeme and tracing_tween_factory from "
    "pyramid_tracing.",
    DeprecationWarning,
    stacklevel=2,
)
