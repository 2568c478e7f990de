"""OpenTracing's conventions on OpenTelemetry spans: the kind a tag names, plain values.

Shared by the OpenTelemetry backend (child spans with OpenTracing tags, the OpenTracing error
log) and by its OpenTracing view (:mod:`.view`), so that both map them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.trace import SpanKind

__all__ = ["kind_and_attributes", "plain_attributes"]

_PLAIN_TYPES: Final = (bool, str, bytes, int, float)
# OpenTracing's span.kind tag values and the OpenTelemetry span kinds they stand for.
_KINDS: Final[Mapping[object, SpanKind]] = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_INTERNAL: Final = SpanKind.INTERNAL


def plain_attributes(attributes: Mapping[str, object]) -> dict[str, Any]:
    """``attributes`` with every value that OpenTelemetry cannot hold turned into text.

    The OpenTracing error log carries the exception object (``error.object``); OpenTelemetry
    would store its ``str()`` too, but log a warning for every failed request.
    """
    return {key: value if _is_plain(value) else str(value) for key, value in attributes.items()}


def _is_plain(value: object) -> bool:
    if isinstance(value, _PLAIN_TYPES):
        return True
    return isinstance(value, list | tuple) and all(
        isinstance(item, _PLAIN_TYPES) for item in value
    )


def kind_and_attributes(
    tags: Mapping[str, object] | None,
) -> tuple[SpanKind, dict[str, Any] | None]:
    """The span kind that the OpenTracing ``span.kind`` tag names, and the attributes.

    ``span.kind`` stays an attribute in OpenTracing's vocabulary (as the shim left it); in
    the stable one (``http.request.method`` without ``http.method``) it only gave the kind.
    """
    if not tags:
        return _INTERNAL, None
    kind = _KINDS.get(tags.get("span.kind"), _INTERNAL)
    if "http.request.method" in tags and "http.method" not in tags:
        return kind, {key: value for key, value in tags.items() if key != "span.kind"}
    return kind, dict(tags)
