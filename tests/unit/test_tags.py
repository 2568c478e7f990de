"""TagPolicy: redaction, truncation and rendering of tag values, in one place."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyramid.request import Request
from webob.multidict import MultiDict

from pyramid_tracing import Tracing, TracingSettings
from pyramid_tracing._settings import DEFAULT_SENSITIVE_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS
from pyramid_tracing._tags import REDACTED, TRUNCATED, TRUNCATED_HEAD, TagPolicy

R = REDACTED


@pytest.fixture
def policy() -> TagPolicy:
    """The default policy, with a limit large enough not to cut the examples."""
    return TagPolicy(
        sensitive_headers=DEFAULT_SENSITIVE_HEADERS,
        sensitive_query_params=DEFAULT_SENSITIVE_QUERY_PARAMS,
        max_tag_length=4096,
    )


def small(limit: int) -> TagPolicy:
    return TagPolicy(DEFAULT_SENSITIVE_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS, limit)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Named:
    def __str__(self) -> str:
        return "named-object"


# Distinctive values that must never appear in a tag.
SECRETS = ("tok-q1", "pass-q2", "cookie-c3", "bearer-a4", "apikey-h5", "form-f6")


def blank_request() -> Any:
    """A real Pyramid request with credentials in the cookie, headers, query and form."""
    request = Request.blank(
        f"/items?token={SECRETS[0]}&page=2&Password={SECRETS[1]}",
        headers={
            "Cookie": f"session={SECRETS[2]}; theme=dark",
            "Authorization": f"Bearer {SECRETS[3]}",
            "X-Api-Key": SECRETS[4],
            "X-Request-Id": "r-1",
        },
        POST={"client_secret": SECRETS[5], "name": "ada"},
    )
    # WebOb caches what it parses in the environ: make it do so.
    assert request.cookies["session"] == SECRETS[2]
    assert request.GET["token"] == SECRETS[0]
    assert request.POST["name"] == "ada"
    return request


# -- truncate ------------------------------------------------------------------------------------


def test_truncate_short_values_unchanged() -> None:
    """Values up to max_tag_length are returned as they are."""
    policy = small(20)
    assert policy.truncate("") == ""
    assert policy.truncate("x" * 20) == "x" * 20


def test_truncate_cuts_to_length_with_marker() -> None:
    """Longer values are cut to exactly max_tag_length, ending with the marker."""
    policy = small(20)
    assert TRUNCATED == "...[truncated]"
    assert policy.truncate("abcdefghijklmnopqrstuvwxyz") == "abcdef...[truncated]"
    assert len(policy.truncate("y" * 10_000)) == 20


def test_truncate_head_keeps_the_end() -> None:
    """truncate_head (for stacks) keeps the end of the value, marked at its start."""
    policy = small(20)
    assert TRUNCATED_HEAD == "[truncated]..."
    assert policy.truncate_head("abcdefghijklmnopqrstuvwxyz") == "[truncated]...uvwxyz"
    assert policy.truncate_head("short") == "short"


def test_default_max_tag_length() -> None:
    """A default Tracing cuts at 1024 characters."""
    policy = Tracing().policy
    assert policy.max_tag_length == 1024
    assert policy.truncate("z" * 2000) == "z" * (1024 - len(TRUNCATED)) + TRUNCATED


# -- url -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/a/b", "http://example.com/a/b"),
        ("http://user:pass@example.com:8080/p?q=1", "http://example.com:8080/p?q=1"),
        ("https://user@example.com/", "https://example.com/"),
        ("https://user:p@ss@example.com", "https://example.com"),
        ("https://u:p@example.com?x=1", "https://example.com?x=1"),
        ("https://u:p@example.com#top", "https://example.com#top"),
        ("http://example.com/users/@me", "http://example.com/users/@me"),
        ("http://example.com/p?email=a@b.c", "http://example.com/p?email=a@b.c"),
    ],
)
def test_url_strips_credentials(policy: TagPolicy, url: str, expected: str) -> None:
    """user:password is removed from the authority, never from the path or query."""
    assert policy.url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/p?token=abc&x=1", f"http://h/p?token={R}&x=1"),
        ("http://h/p?Token=abc&PASSWORD=pw", f"http://h/p?Token={R}&PASSWORD={R}"),
        ("http://h/p?API_KEY=1&Api_Key=2", f"http://h/p?API_KEY={R}&Api_Key={R}"),
        ("http://h/p?%74oken=abc", f"http://h/p?%74oken={R}"),
        ("http://h/p?access%5Ftoken=abc", f"http://h/p?access%5Ftoken={R}"),
        ("http://h/p?%20token%20=abc", f"http://h/p?%20token%20={R}"),
        ("http://h/p?token=a&token=b", f"http://h/p?token={R}&token={R}"),
        ("http://h/p?token=", f"http://h/p?token={R}"),
        ("http://h/p?token", "http://h/p?token"),
        ("http://h/p?tokens=1&mytoken=2&q=token", "http://h/p?tokens=1&mytoken=2&q=token"),
        ("http://h/p?X-Amz-Signature=s&a=1", f"http://h/p?X-Amz-Signature={R}&a=1"),
        ("/relative?secret=s", f"/relative?secret={R}"),
        ("/cb?next=http://x/&token=t", f"/cb?next=http://x/&token={R}"),
        ("http://h/cb?next=https://x/&token=t", f"http://h/cb?next=https://x/&token={R}"),
        ("svn+ssh://u:p@h/repo?key=k", f"svn+ssh://h/repo?key={R}"),
    ],
)
def test_url_redacts_sensitive_query_values(policy: TagPolicy, url: str, expected: str) -> None:
    """Sensitive parameter values are redacted, names matched case-insensitively and decoded."""
    assert policy.url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://u:p@h/p?token=x#section-2", f"http://h/p?token={R}#section-2"),
        ("http://h/p#frag", "http://h/p#frag"),
        ("http://h/p?a=1#", "http://h/p?a=1#"),
        ("http://h/p?code=1#x=y&z", f"http://h/p?code={R}#x=y&z"),
    ],
)
def test_url_keeps_fragments(policy: TagPolicy, url: str, expected: str) -> None:
    """The fragment is kept as it is after the redacted query."""
    assert policy.url(url) == expected


def test_url_custom_sensitive_params() -> None:
    """tracing.sensitive_query_params replaces the default names."""
    settings = TracingSettings.from_settings({"tracing.sensitive_query_params": "Session"})
    policy = Tracing(settings=settings).policy
    assert policy.url("http://h/?session=1&token=2") == f"http://h/?session={R}&token=2"


def test_url_truncated_after_redaction() -> None:
    """A long URL is redacted first, then cut: the secret never survives the cut."""
    policy = small(40)
    url = "http://u:pw@h/p?token=" + "s" * 100
    assert policy.url(url) == f"http://h/p?token={R}"
    long_path = "http://h/" + "a" * 100 + "?token=secret"
    cut = policy.url(long_path)
    assert len(cut) == 40
    assert cut.endswith(TRUNCATED)
    assert "secret" not in cut


# -- header --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Authorization", "authorization", "PROXY-AUTHORIZATION", "Cookie", "Set-Cookie", "X-API-Key"],
)
def test_header_sensitive_redacted(policy: TagPolicy, name: str) -> None:
    """Sensitive header names, in any case, are recorded as [REDACTED]."""
    assert policy.header(name, "secret value") == R


def test_header_other_values_kept_and_cut() -> None:
    """Other header values are kept as text and cut to the limit."""
    policy = small(20)
    assert policy.header("X-Request-Id", "abc") == "abc"
    assert policy.header("Content-Length", 42) == "42"
    assert policy.header("User-Agent", "u" * 50) == "u" * 6 + TRUNCATED


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "Location",
            "https://client.example/cb?code=c0de&state=s",
            f"https://client.example/cb?code={R}&state=s",
        ),
        ("location", "/cb?code=c0de", f"/cb?code={R}"),
        ("Content-Location", "/doc?sig=s", f"/doc?sig={R}"),
        ("Referer", "http://u:p@h/page?token=t", f"http://h/page?token={R}"),
        ("X-Original-Url", "http://h/?password=p", f"http://h/?password={R}"),
        ("Link", "</next?page=2>; rel=next", "</next?page=2>; rel=next"),
    ],
)
def test_header_url_values_redacted(
    policy: TagPolicy, name: str, value: str, expected: str
) -> None:
    """URL-valued headers (Location, Referer, any absolute URL) are redacted like http.url."""
    assert policy.header(name, value) == expected


def test_header_unprintable_value(policy: TagPolicy) -> None:
    """A header value whose __str__ raises gives a placeholder, not an exception."""
    assert policy.header("X-Thing", Unprintable()) == "<unprintable Unprintable: RuntimeError>"


def test_header_custom_sensitive_names() -> None:
    """tracing.sensitive_headers replaces the default set."""
    settings = TracingSettings.from_settings({"tracing.sensitive_headers": "X-Secret"})
    policy = Tracing(settings=settings).policy
    assert policy.header("x-secret", "s") == R
    assert policy.header("Authorization", "Bearer x") == "Bearer x"


# -- mapping -------------------------------------------------------------------------------------


def test_mapping_renders_json(policy: TagPolicy) -> None:
    """A mapping is rendered as a JSON object; scalars keep their JSON type, others are text."""
    rendered = policy.mapping(
        {"name": "ada", "n": 3, "ok": True, "ratio": 0.5, "none": None, "obj": Named(), 7: "k"}
    )
    assert rendered == (
        '{"name": "ada", "n": 3, "ok": true, "ratio": 0.5, "none": null, '
        '"obj": "named-object", "7": "k"}'
    )


def test_mapping_keeps_non_ascii(policy: TagPolicy) -> None:
    """Non-ASCII text is kept readable, not escaped."""
    assert policy.mapping({"city": "Zürich"}) == '{"city": "Zürich"}'


def test_mapping_redacts_sensitive_names(policy: TagPolicy) -> None:
    """Sensitive header and query parameter names are redacted, in any case."""
    rendered = json.loads(
        policy.mapping(
            {
                "Authorization": "Bearer x",
                "COOKIE": "a=b",
                "Token": "t",
                "password": "p",
                "x-api-key": "k",
                "safe": "v",
            }
        )
    )
    assert rendered == {
        "Authorization": R,
        "COOKIE": R,
        "Token": R,
        "password": R,
        "x-api-key": R,
        "safe": "v",
    }


def test_mapping_redacts_wsgi_environ_keys(policy: TagPolicy) -> None:
    """In a WSGI environ, HTTP_COOKIE and the other header keys are redacted, the query string
    and WebOb's parsed caches do not leak, and the rest is kept."""
    request = blank_request()
    rendered = json.loads(policy.mapping(request.environ))
    assert rendered["HTTP_COOKIE"] == R
    assert rendered["HTTP_AUTHORIZATION"] == R
    assert rendered["HTTP_X_API_KEY"] == R
    assert rendered["HTTP_X_REQUEST_ID"] == "r-1"
    assert rendered["QUERY_STRING"] == f"token={R}&page=2&Password={R}"
    assert rendered["PATH_INFO"] == "/items"
    assert rendered["REQUEST_METHOD"] == "POST"
    assert rendered["wsgi.multithread"] is False
    parsed = [key for key in rendered if key.startswith("webob._parsed_")]
    assert parsed  # WebOb did cache the cookies, query and form
    assert all(rendered[key] == R for key in parsed)
    text = json.dumps(rendered)
    assert [secret for secret in SECRETS if secret in text] == []


@pytest.mark.parametrize("key", ["REQUEST_URI", "RAW_URI"])
def test_mapping_redacts_raw_request_uri(policy: TagPolicy, key: str) -> None:
    """Servers' raw request URI keys are redacted like http.url."""
    rendered = json.loads(policy.mapping({key: "/p?token=t&a=1"}))
    assert rendered == {key: f"/p?token={R}&a=1"}


def test_mapping_redacts_urls_in_values(policy: TagPolicy) -> None:
    """A URL value (a referer, a next= link) loses credentials and sensitive parameters."""
    rendered = json.loads(
        policy.mapping({"Referer": "https://u:p@h/login?code=c&next=/"}, redact_all=False)
    )
    assert rendered == {"Referer": f"https://h/login?code={R}&next=/"}


def test_mapping_redact_all(policy: TagPolicy) -> None:
    """With redact_all every value is [REDACTED], the names are kept."""
    assert policy.mapping({"a": "1", "b": 2}, redact_all=True) == f'{{"a": "{R}", "b": "{R}"}}'


def test_mapping_multidict(policy: TagPolicy) -> None:
    """A WebOb MultiDict is rendered by its items; sensitive names are redacted."""
    values = MultiDict([("page", "2"), ("token", "t"), ("q", "x")])
    assert policy.mapping(values) == f'{{"page": "2", "token": "{R}", "q": "x"}}'


def test_mapping_unprintable_value(policy: TagPolicy) -> None:
    """A value whose __str__ raises is rendered as a placeholder naming its type."""
    assert policy.mapping({"x": Unprintable()}) == (
        '{"x": "<unprintable Unprintable: RuntimeError>"}'
    )


def test_mapping_unprintable_key(policy: TagPolicy) -> None:
    """A key whose __str__ raises is rendered as a placeholder too."""
    assert policy.mapping({Unprintable(): "v"}) == (
        '{"<unprintable Unprintable: RuntimeError>": "v"}'
    )


def test_mapping_truncated() -> None:
    """The rendered JSON is cut to max_tag_length."""
    rendered = small(30).mapping({"k": "v" * 100})
    assert rendered == '{"k": "' + "v" * 9 + TRUNCATED


# -- attribute -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, 0, 7, 2.5])
def test_attribute_scalars_unchanged(policy: TagPolicy, value: object) -> None:
    """Booleans and numbers are tag values as they are."""
    assert policy.attribute("content_length", value) is value


def test_attribute_text(policy: TagPolicy) -> None:
    """Plain text is kept."""
    assert policy.attribute("method", "GET") == "GET"


def test_attribute_cookies_all_redacted(policy: TagPolicy) -> None:
    """Every cookie value is redacted: all of them come from the Cookie header."""
    request = blank_request()
    assert policy.attribute("cookies", request.cookies) == (
        f'{{"session": "{R}", "theme": "{R}"}}'
    )


def test_attribute_headers(policy: TagPolicy) -> None:
    """Request headers are rendered with sensitive headers redacted."""
    rendered = json.loads(policy.attribute("headers", blank_request().headers))  # type: ignore[arg-type]
    assert rendered["Cookie"] == R
    assert rendered["Authorization"] == R
    assert rendered["X-Api-Key"] == R
    assert rendered["X-Request-Id"] == "r-1"


@pytest.mark.parametrize("name", ["GET", "params"])
def test_attribute_query_params(policy: TagPolicy, name: str) -> None:
    """Query parameters are rendered with sensitive values redacted."""
    rendered = json.loads(policy.attribute(name, getattr(blank_request(), name)))  # type: ignore[arg-type]
    assert rendered["token"] == R
    assert rendered["Password"] == R
    assert rendered["page"] == "2"


def test_attribute_post(policy: TagPolicy) -> None:
    """Form fields with sensitive names are redacted."""
    rendered = json.loads(policy.attribute("POST", blank_request().POST))  # type: ignore[arg-type]
    assert rendered == {"client_secret": R, "name": "ada"}


def test_attribute_matchdict(policy: TagPolicy) -> None:
    """A matchdict is rendered as its items, not as a dict repr."""
    assert policy.attribute("matchdict", {"name": "ada", "id": "7"}) == (
        '{"name": "ada", "id": "7"}'
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("url", "http://u:p@h/items?token=t&a=1", f"http://h/items?token={R}&a=1"),
        ("path_qs", "/items?token=t&a=1", f"/items?token={R}&a=1"),
        ("path_qs", "/login?next=http://x/&token=t", f"/login?next=http://x/&token={R}"),
        ("query_string", "token=t&a=1", f"token={R}&a=1"),
        ("query_string", "", ""),
        ("relative_url", "items?password=p", f"items?password={R}"),
        ("current_route_url", "http://h/r?sig=s", f"http://h/r?sig={R}"),
        ("path", "/items/token=t", "/items/token=t"),
        ("referer", "https://u:p@ref.example/?token=t", f"https://ref.example/?token={R}"),
        ("referrer", "https://ref.example/page", "https://ref.example/page"),
        ("next_url", "http://u:p@h/", "http://h/"),
    ],
)
def test_attribute_url_like(policy: TagPolicy, name: str, value: str, expected: str) -> None:
    """URL attributes and any URL-looking value are redacted like http.url."""
    assert policy.attribute(name, value) == expected


@pytest.mark.parametrize("name", ["authorization", "Authorization", "cookie", "token"])
def test_attribute_sensitive_name(policy: TagPolicy, name: str) -> None:
    """An attribute named like a sensitive header or parameter is redacted, whatever its type."""
    assert policy.attribute(name, "Bearer x") == R
    assert policy.attribute(name, ("Bearer", "x")) == R


def test_attribute_parsed_authorization(policy: TagPolicy) -> None:
    """WebOb's parsed request.authorization is redacted."""
    assert policy.attribute("authorization", blank_request().authorization) == R


def test_attribute_object_rendered_as_text(policy: TagPolicy) -> None:
    """Other objects are rendered with str()."""
    assert policy.attribute("context", Named()) == "named-object"
    assert policy.attribute("body", b"raw") == "b'raw'"


def test_attribute_unprintable(policy: TagPolicy) -> None:
    """An object whose __str__ raises gives a placeholder instead of an exception."""
    assert policy.attribute("context", Unprintable()) == (
        "<unprintable Unprintable: RuntimeError>"
    )


def test_attribute_huge_values_cut() -> None:
    """Huge text, objects and mappings are cut to max_tag_length."""
    policy = small(64)
    huge = "h" * 1_000_000
    assert policy.attribute("body_text", huge) == "h" * 50 + TRUNCATED

    class Huge:
        def __str__(self) -> str:
            return huge

    assert policy.attribute("context", Huge()) == "h" * 50 + TRUNCATED
    rendered = policy.attribute("matchdict", {"k": huge})
    assert isinstance(rendered, str)
    assert len(rendered) == 64
    assert rendered.endswith(TRUNCATED)
    url = policy.attribute("url", "http://h/" + huge + "?token=t")
    assert isinstance(url, str)
    assert len(url) == 64
    assert "token=t" not in url
