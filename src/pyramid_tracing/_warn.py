"""Warnings attributed to the user's configuration, not to this package or to Pyramid.

The add-on reads its settings in a deferred configuration action: a warning raised there is
several Pyramid frames away from the user's ``config.include`` or ``make_wsgi_app``, and a
fixed ``stacklevel`` points into ``pyramid/config/actions.py`` (or into this package).
"""

from __future__ import annotations

import sys
import warnings
from typing import Final

__all__ = ["warn_user"]

# Modules whose frames are skipped: this package, Pyramid and what loads an INI file.
_INTERNAL: Final = ("pyramid_tracing", "pyramid", "paste", "plaster", "plaster_pastedeploy")


def _internal(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in _INTERNAL)


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the first caller outside this package and Pyramid."""
    level = 2  # the caller of warn_user
    # sys._getframe: what the warnings module itself walks; no other API gives the caller.
    frame = sys._getframe(1)
    while frame.f_back is not None and _internal(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
