"""``pyramid_opentracing.tracing``'s import path, kept for old code; deprecated.

Import :class:`~pyramid_tracing.PyramidTracing` (or :class:`~pyramid_tracing.Tracing`) from
``pyramid_tracing`` instead. Importing this module emits a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings

from ._compat import PyramidTracing

__all__ = ["PyramidTracing"]

warnings.warn(
    "pyramid_tracing.tracing is deprecated (it mirrors pyramid_opentracing.tracing): import "
    "PyramidTracing or Tracing from pyramid_tracing.",
    DeprecationWarning,
    stacklevel=2,
)
