"""The request's path and URL as tags, without WebOb's decoding and re-quoting when it is plain.

WebOb builds ``request.url`` by decoding the path from latin-1, re-encoding it as UTF-8 and
quoting it again: most paths need none of that, and the server span reads the URL on every
request. These functions give the same strings for plain paths and hosts, and fall back to
WebOb (or to the raw bytes, percent-encoded) otherwise.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Final, cast

from ._tags import TagPolicy
from .typing import Request

__all__ = ["request_path", "request_url", "url_tag"]

# The characters WebOb never quotes in a path: urllib's always-safe ones and its PATH_SAFE.
_PATH_CHARS: Final = r"[A-Za-z0-9_.~/!$&'()*+,;=:@-]"
_PLAIN_PATH: Final = re.compile(f"{_PATH_CHARS}*").fullmatch
# "scheme://Host SCRIPT_NAME+PATH_INFO" when WebOb's url keeps it as it is: http or https, a
# Host that is a name (no port, credentials, "?" or "#") and a path it would not quote. A
# scheme that is not a string cannot match ("None://", "b'http'://").
_PLAIN_URL: Final = re.compile(f"https?://[A-Za-z0-9.-]+(?:/{_PATH_CHARS}*)?").fullmatch


def _plain_path(environ: dict[str, Any]) -> str | None:
    """``SCRIPT_NAME + PATH_INFO`` when WebOb would leave it as it is, else ``None``."""
    script_name = environ.get("SCRIPT_NAME", "")
    path_info = environ.get("PATH_INFO")
    if isinstance(script_name, str) and isinstance(path_info, str):
        path = script_name + path_info
        if _PLAIN_PATH(path) is not None:
            return path
    return None


def request_path(request: Request) -> str:
    """``request.path``, without WebOb decoding, re-encoding and quoting a plain path."""
    path = _plain_path(request.environ)
    return cast("str", request.path) if path is None else path


def request_url(request: Request) -> str:
    """``request.url``; the raw path percent-encoded when it is not UTF-8."""
    environ = request.environ
    path = _plain_path(environ)
    if path is not None:
        query = environ.get("QUERY_STRING")
        url = cast("str", request.host_url) + path
        return f"{url}?{query}" if query else url
    try:
        return cast("str", request.url)
    except UnicodeDecodeError:
        # A path that is not UTF-8 (hostile or broken clients): WebOb cannot decode it, but
        # the request is still served, so record its raw bytes percent-encoded instead.
        raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
        query = environ.get("QUERY_STRING", "")
        url = request.host_url + urllib.parse.quote(raw, safe="/;=,@:!$&'()*+-._~")
        return f"{url}?{query}" if query else url


def url_tag(policy: TagPolicy, request: Request) -> str:
    """``policy.url(request.url)``, building and redacting a plain URL in one pass."""
    environ = request.environ
    host = environ.get("HTTP_HOST")
    script_name = environ.get("SCRIPT_NAME", "")
    path_info = environ.get("PATH_INFO")
    url = f"{environ.get('wsgi.url_scheme')}://{host}{script_name}{path_info}"
    if (
        type(host) is str
        and type(script_name) is str
        and type(path_info) is str
        and _PLAIN_URL(url) is not None
    ):
        # What WebOb's url is for an http(s) URL with a plain path and a Host without a
        # port, credentials, "?" or "#": nothing to quote, nothing to strip, and the query
        # starts at "?".
        query = environ.get("QUERY_STRING")
        if query:
            if "@" in query or "#" in query:
                return policy.url(request_url(request))
            url = f"{url}?{policy.query_string(query)}"
        return url if len(url) <= policy.max_tag_length else policy.truncate(url)
    return policy.url(request_url(request))
