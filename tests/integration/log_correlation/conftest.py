"""The four real tracers of the instrument tests, for the log correlation tests."""

from __future__ import annotations

from ..instrument.conftest import kit

__all__ = ["kit"]
