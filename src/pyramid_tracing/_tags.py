"""Tag values: redaction, truncation and rendering, in one place.

The tween, the decorators and the outbound helpers all build their tags through this module,
so that what is never recorded (credentials, sensitive headers and query parameters) and how
long a value may be are decided once.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Collection, Mapping
from typing import Final
from urllib.parse import unquote_plus

import attrs

__all__ = ["REDACTED", "TRUNCATED", "TagPolicy", "error_log"]

#: What a redacted value is replaced with.
REDACTED: Final = "[REDACTED]"
#: The marker that ends a value cut to ``max_tag_length``.
TRUNCATED: Final = "...[truncated]"
#: The marker that starts a stack cut to ``max_tag_length`` (its start is dropped).
TRUNCATED_HEAD: Final = "[truncated]..."

# Request attributes that hold one cookie value per key: all of them come from the Cookie header.
_COOKIE_ATTRIBUTES: Final = frozenset({"cookies"})
# Request attributes that are URLs or query strings: redacted like http.url.
_URL_ATTRIBUTES: Final = frozenset(
    {"url", "path_qs", "query_string", "relative_url", "current_route_url"}
)
# RFC 3986 scheme: what may come before "://" in an absolute URL.
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# Header names (lowercase) whose values are URLs, possibly relative: redacted like http.url.
_URL_HEADERS: Final = frozenset({"location", "content-location", "referer"})
# WSGI environ keys (lowercased) that hold a URL or query string: redacted like http.url.
_URL_ENVIRON_KEYS: Final = frozenset({"query_string", "request_uri", "raw_uri"})
# WebOb caches the parsed query, form and cookies in the environ: values the policy cannot vet.
_PARSED_CACHE_PREFIX: Final = "webob._parsed_"


@attrs.frozen
class TagPolicy:
    """How values become tags: what is redacted and how long a string may be."""

    sensitive_headers: frozenset[str]
    sensitive_query_params: frozenset[str]
    max_tag_length: int
    # Finds a parameter that may be sensitive in "&" + a lowercased query (see _param_search).
    _sensitive_in: Callable[[str], object] | None = attrs.field(
        init=False,
        repr=False,
        eq=False,
        default=attrs.Factory(
            lambda self: _param_search(self.sensitive_query_params), takes_self=True
        ),
    )

    def truncate(self, value: str) -> str:
        """Cut ``value`` to ``max_tag_length`` characters, ending with the truncation marker."""
        limit = self.max_tag_length
        if len(value) <= limit:
            return value
        return value[: limit - len(TRUNCATED)] + TRUNCATED

    def truncate_head(self, value: str) -> str:
        """Cut ``value`` to ``max_tag_length`` keeping its end (for stacks: the raising frame)."""
        limit = self.max_tag_length
        if len(value) <= limit:
            return value
        return TRUNCATED_HEAD + value[len(value) - limit + len(TRUNCATED_HEAD) :]

    def url(self, url: str) -> str:
        """``url`` without user:password and with sensitive query parameter values redacted."""
        if "@" not in url:
            query_start = url.find("?") + 1
            if not query_start:
                return self.truncate(url)
            # No credentials to strip, and the first "?" starts the query whichever way the
            # full parse below splits the scheme: only the query needs redacting.
            query, hashmark, fragment = url[query_start:].partition("#")
            return self.truncate(
                url[:query_start] + self.query_string(query) + hashmark + fragment
            )
        scheme, sep, rest = url.partition("://")
        if not sep or not _SCHEME.fullmatch(scheme):
            # No scheme: a "://" further on is in the query (next=http://...), not a separator.
            scheme, sep, rest = "", "", url
        else:
            scheme += sep
        authority_end = len(rest)
        for stop in "/?#":
            index = rest.find(stop)
            if index != -1:
                authority_end = min(authority_end, index)
        authority, tail = rest[:authority_end], rest[authority_end:]
        if sep and "@" in authority:
            authority = authority.rpartition("@")[2]
        path, qmark, query = tail.partition("?")
        if qmark:
            query, hashmark, fragment = query.partition("#")
            tail = path + qmark + self.query_string(query) + hashmark + fragment
        return self.truncate(scheme + authority + tail)

    def query_string(self, query: str) -> str:
        """``query`` with the values of sensitive parameters replaced by ``[REDACTED]``."""
        sensitive_in = self._sensitive_in
        if sensitive_in is None:
            return query
        # With nothing to decode, and ASCII (whose lowercasing is exact), a parameter can only
        # be sensitive if a sensitive name, stripped, is all of a parameter's name.
        if (
            query.isascii()
            and "%" not in query
            and "+" not in query
            and sensitive_in("&" + query.lower()) is None
        ):
            return query
        sensitive = self.sensitive_query_params
        parts = query.split("&")
        for index, part in enumerate(parts):
            name, eq, _ = part.partition("=")
            if not eq:
                continue
            # unquote_plus only when it can change the name (it is the costly part).
            plain = unquote_plus(name) if "%" in name or "+" in name else name
            if plain.strip().lower() in sensitive:
                parts[index] = name + "=" + REDACTED
        return "&".join(parts)

    def header(self, name: str, value: object) -> str:
        """A header value as a tag: ``[REDACTED]`` for sensitive names, URLs redacted, cut."""
        lowered = name.lower()
        if lowered in self.sensitive_headers:
            return REDACTED
        text = _safe_str(value)
        if "://" in text or lowered in _URL_HEADERS:
            # Referer and Location carry URLs: an OAuth redirect's code=, a signed link.
            return self.truncate(self._url_like(text))
        return self.truncate(text)

    def _is_sensitive_key(self, key: str) -> bool:
        lowered = key.lower()
        if lowered in self.sensitive_query_params or lowered in self.sensitive_headers:
            return True
        # WSGI environ keys: HTTP_COOKIE is the Cookie header.
        if lowered.startswith("http_"):
            lowered = lowered[5:]
        return lowered.replace("_", "-") in self.sensitive_headers

    def mapping(self, values: object, *, redact_all: bool = False) -> str:
        """Render a mapping (headers, params, cookies, matchdict, environ) as a JSON object.

        Values of sensitive names are ``[REDACTED]``; with ``redact_all`` every value is.
        """
        rendered: dict[str, object] = {}
        for key, value in _items(values):
            name = key if isinstance(key, str) else _safe_str(key)
            if redact_all or self._is_sensitive_key(name) or name.startswith(_PARSED_CACHE_PREFIX):
                rendered[name] = REDACTED
            elif isinstance(value, str) and (name.lower() in _URL_ENVIRON_KEYS or "://" in value):
                rendered[name] = self._url_like(value)
            elif isinstance(value, str | int | float | bool) or value is None:
                rendered[name] = value
            else:
                rendered[name] = _safe_str(value)
        return self.truncate(json.dumps(rendered, ensure_ascii=False, default=_safe_str))

    def attribute(self, name: str, value: object) -> str | int | float | bool:
        """A request attribute's value as a tag value."""
        if isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            if name in _URL_ATTRIBUTES:
                return self.truncate(self._url_like(value))
            if self._is_sensitive_key(name):
                return REDACTED
            if "://" in value:
                # Any URL (referer, a custom attribute) may carry user:password or a token.
                return self.url(value)
            return self.truncate(value)
        if isinstance(value, Mapping) or _is_multidict(value):
            return self.mapping(value, redact_all=name in _COOKIE_ATTRIBUTES)
        if self._is_sensitive_key(name):
            return REDACTED
        if hasattr(value, "headerlist"):
            # A WebOb response's str() is the whole HTTP message, Set-Cookie included.
            return self.truncate(_safe_str(getattr(value, "status", type(value).__name__)))
        return self.truncate(_safe_str(value))

    def _url_like(self, value: str) -> str:
        return self.url(value) if "://" in value else self._query_or_path(value)

    def _query_or_path(self, value: str) -> str:
        path, qmark, query = value.partition("?")
        if qmark:
            return path + qmark + self.query_string(query)
        if "=" in value:
            return self.query_string(value)
        return value


def _is_multidict(value: object) -> bool:
    return hasattr(value, "items") and hasattr(value, "keys")


def _items(values: object) -> list[tuple[object, object]]:
    items = values.items()  # type: ignore[attr-defined]  # checked by the callers
    return list(items)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception as exc:
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"


def _param_search(names: Collection[str]) -> Callable[[str], object] | None:
    """A search for a parameter named one of ``names`` in ``"&" + query``; ``None`` if no names.

    It finds what :meth:`TagPolicy.query_string` would redact in a query with nothing to
    unquote: a name between a ``&`` (or the start) and the first ``=`` after it, give or take
    the whitespace ``str.strip`` removes. A literal ``&`` starts the pattern, so the regex
    engine skips to each ``&`` instead of trying every name at every character.
    """
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    return re.compile(rf"&[\s\x1c-\x1f]*(?:{alternatives})[\s\x1c-\x1f]*=").search


def error_log(exc: BaseException, policy: TagPolicy) -> dict[str, object]:
    """The OpenTracing error log fields for ``exc``, with strings cut to length."""
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "event": "error",
        "error.kind": type(exc).__name__,
        "error.object": exc,
        "message": policy.truncate(_safe_str(exc)),
        "stack": policy.truncate_head(stack),
    }


def header_tags(prefix: str, names: Collection[str]) -> tuple[tuple[str, str], ...]:
    """Pair each lowercase header name with its tag name, computed once."""
    return tuple((name, prefix + name) for name in names)
