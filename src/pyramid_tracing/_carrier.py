"""The request headers as ``tracer.extract`` reads them, without WebOb's per-key translation.

Tracers extract by iterating over the whole carrier (basictracer, jaeger-client, MockTracer),
and iterating over WebOb's ``request.headers`` translates every WSGI environ key on every
pass: that cost more than the span itself. :class:`HeaderCarrier` is the same mapping (an
``EnvironHeaders`` on the same environ, same names, same order, same case-insensitive lookup)
with the names translated once per distinct environ key for the life of the process.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator
from typing import Any, Final

from webob.headers import EnvironHeaders

__all__ = ["HeaderCarrier", "environ_key"]

# Environ keys WebOb names irregularly ("HTTP_CONTENT_TYPE" -> "Content_Type") or in a way
# that does not map back to the same key: these requests get WebOb's own mapping.
_IRREGULAR: Final = "irregular"
_NOT_A_HEADER: Final = ""
_SPECIAL: Final = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
# Bounded: header names come from clients, and a cache keyed by them must not grow forever.
_MAX_NAMES: Final = 2048
_names: dict[str, str] = {}
# WebOb's header2key: how it turns a header name (upper-cased) into an environ key.
_HEADER_KEYS: Final = {
    "CONTENT-TYPE": "CONTENT_TYPE",
    "CONTENT-LENGTH": "CONTENT_LENGTH",
    "CONTENT_TYPE": "HTTP_CONTENT_TYPE",
    "CONTENT_LENGTH": "HTTP_CONTENT_LENGTH",
}


def environ_key(name: str) -> str:
    """WebOb's ``_trans_name``: the environ key of the header ``name``.

    For a header name that is an ASCII token this is the CGI rule (RFC 3875, section 4.1.18)
    that WSGI servers follow: ``HTTP_`` + the name upper-cased with ``_`` for ``-``.
    """
    upper = name.upper()
    key = _HEADER_KEYS.get(upper)
    return "HTTP_" + upper.replace("-", "_") if key is None else key


def _translate(key: object) -> str:
    """WebOb's header name for an environ key (``_trans_key``), checked to map back to it."""
    if not isinstance(key, str):
        return _NOT_A_HEADER
    if key in _SPECIAL:
        return _SPECIAL[key]
    if not key.startswith("HTTP_"):
        return _NOT_A_HEADER
    name = key[5:].replace("_", "-").title()
    upper = name.upper()
    if upper in ("CONTENT-TYPE", "CONTENT-LENGTH") or "HTTP_" + upper.replace("-", "_") != key:
        return _IRREGULAR
    return name


class HeaderCarrier(EnvironHeaders):
    """``request.headers`` whose names are computed in one pass, when first iterated.

    Lookups by name are WebOb's (case-insensitive, straight into the environ), so a tracer
    that only looks up its own headers (the OpenTelemetry shim) never pays for the pass.
    It is a read of the environ: use ``request.headers`` to change headers.
    """

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ  # all that EnvironHeaders.__init__ does, without the call
        self._items: dict[str, str] | None = None

    def _headers(self) -> dict[str, str] | None:
        items = self._items
        if items is None:
            items = self._items = _read(self.environ)
        return items if items is not _IRREGULAR_ENVIRON else None

    def __getitem__(self, name: str) -> str:
        items = self._items
        if items:
            try:
                return items[name]
            except KeyError:
                pass
        # Other spellings ("traceparent" for "Traceparent"): WebOb's lookup.
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        """WebOb's lookup, without raising and catching ``KeyError`` for a missing header.

        The OpenTelemetry propagators look up each of their headers with ``get``, and most
        requests carry none of them.
        """
        return self.environ.get(environ_key(name), default)

    def __iter__(self) -> Iterator[str]:
        items = self._headers()
        return super().__iter__() if items is None else iter(items)

    def __len__(self) -> int:
        items = self._headers()
        return super().__len__() if items is None else len(items)

    def keys(self) -> Iterator[str]:  # type: ignore[override]  # an iterator, as WebOb's
        items = self._headers()
        return super().keys() if items is None else iter(items)

    def items(self) -> ItemsView[str, str]:
        items = self._headers()
        return super().items() if items is None else items.items()


# An environ with a key that WebOb names irregularly: such requests get WebOb's iteration.
_IRREGULAR_ENVIRON: Final[dict[str, str]] = {}


def _read(environ: dict[str, Any]) -> dict[str, str]:
    names = _names
    items: dict[str, str] = {}
    for key, value in environ.items():
        name = names.get(key)
        if name is None:
            name = _translate(key)
            if len(names) < _MAX_NAMES:
                names[key] = name
        if name:
            if name is _IRREGULAR:
                return _IRREGULAR_ENVIRON
            items[name] = value
    return items
