"""Value converters for settings: each parses one INI string (or Python value) or fails.

Every converter takes the setting's key and value, so that its error names both and says what
is allowed. A leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import difflib
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import opentracing
from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver

__all__ = [
    "as_attribute_names",
    "as_bool",
    "as_callable",
    "as_choices",
    "as_lower_name_set",
    "as_lower_names",
    "as_name_set",
    "as_names",
    "as_patterns",
    "as_positive_float",
    "as_positive_int",
    "call",
    "did_you_mean",
    "fail",
    "is_tracer",
    "is_unset",
    "make_tracer",
    "resolve",
]

# Exactly the documented spellings: a misspelt value must fail, not mean False.
_TRUE: Final = frozenset({"true", "yes", "on", "1"})
_FALSE: Final = frozenset({"false", "no", "off", "0"})

_resolver = DottedNameResolver()


def did_you_mean(
    word: object, choices: Iterable[str], *, prefix: str = "", cutoff: float = 0.6
) -> str:
    """`` Did you mean 'otlp'?``: the closest of ``choices`` to ``word``, or ``""``.

    ``prefix`` is shared by every choice: compared without it (it would make every choice
    look close), and shown with it.
    """
    if not isinstance(word, str):
        return ""
    suffixes = sorted(choice[len(prefix) :] for choice in choices)
    close = difflib.get_close_matches(word[len(prefix) :], suffixes, n=1, cutoff=cutoff)
    return f" Did you mean {prefix + close[0]!r}?" if close else ""


def fail(
    key: str,
    value: object,
    allowed: str,
    *,
    choices: Iterable[str] = (),
    word: object = None,
) -> ConfigurationError:
    """The error for an invalid value: the key, the value, what is allowed.

    With ``choices``, the closest one to ``word`` (the value itself by default) follows.
    """
    hint = did_you_mean(value if word is None else word, choices) if choices else ""
    msg = f"Invalid value for setting {key!r}: {value!r}. {allowed}{hint}"
    return ConfigurationError(msg)


def as_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise fail(key, value, "Expected a boolean: true/false, yes/no, on/off or 1/0.")


# Items of a list setting are separated by commas, whitespace or newlines, in any mix.
_SEPARATORS: Final = re.compile(r"[\s,]+")


def _split(text: str) -> list[str]:
    return [item for item in _SEPARATORS.split(text) if item]


def as_names(key: str, value: object) -> tuple[str, ...]:
    """Parse names separated by commas, whitespace or newlines, or an iterable of strings.

    An empty item is ignored; a string item of an iterable is split the same way, so that no
    name ever keeps a comma.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(_split(value))
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return tuple(name for item in items for name in _split(item))
    raise fail(
        key, value, "Expected names separated by commas, whitespace or newlines, or a list."
    )


def as_choices(choices: tuple[str, ...]) -> Callable[[str, object], tuple[str, ...]]:
    """A converter of a list of names, lowercased, each one of ``choices``; empty for none."""

    def convert(key: str, value: object) -> tuple[str, ...]:
        names = as_lower_names(key, value)
        unknown = [name for name in names if name not in choices]
        if unknown:
            allowed = ", ".join(choices)
            raise fail(
                key,
                value,
                f"{unknown[0]!r} is not one of {allowed} (or empty for none).",
                choices=choices,
                word=unknown[0],
            )
        return names

    return convert


def as_name_set(key: str, value: object) -> frozenset[str]:
    """:func:`as_names` as a set."""
    return frozenset(as_names(key, value))


def as_lower_name_set(key: str, value: object) -> frozenset[str]:
    """:func:`as_lower_names` as a set."""
    return frozenset(as_lower_names(key, value))


def call(
    key: str, value: object, factory: Callable[..., Any], kwargs: Mapping[str, Any], what: str
) -> Any:
    """Call the factory a setting names; its exception becomes an error naming the setting."""
    try:
        return factory(**kwargs)
    except Exception as exc:
        msg = (
            f"Invalid value for setting {key!r}: {value!r}. Calling it{what} raised "
            f"{type(exc).__name__}: {exc}"
        )
        raise ConfigurationError(msg) from exc


def as_lower_names(key: str, value: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name.lower() for name in as_names(key, value)))


def as_attribute_names(key: str, value: object) -> tuple[str, ...]:
    names = as_names(key, value)
    for name in names:
        if not name.isidentifier():
            raise fail(key, value, f"{name!r} is not a valid request attribute name.")
    return names


def _regex_sources(text: str) -> list[str]:
    r"""Split regexes by lines and by top-level commas (not in ``{}``, ``[]``, ``()``, escaped).

    A regex may contain spaces, so whitespace does not separate; a literal comma is written
    ``\,`` or ``[,]``.
    """
    sources: list[str] = []
    for line in text.splitlines():
        depth, escaped, start = 0, False, 0
        for index, char in enumerate(line):
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char in "([{":
                depth += 1
            elif char in ")]}":
                depth = max(depth - 1, 0)
            elif char == "," and depth == 0:
                sources.append(line[start:index])
                start = index + 1
        sources.append(line[start:])
    return [source.strip() for source in sources if source.strip()]


def as_patterns(key: str, value: object) -> tuple[re.Pattern[str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        sources: list[object] = list(_regex_sources(value))
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        sources = [
            item
            for each in value
            for item in (_regex_sources(each) if isinstance(each, str) else [each])
        ]
    else:
        raise fail(
            key, value, "Expected regular expressions, one per line or comma-separated, or a list."
        )
    patterns = []
    for source in sources:
        if isinstance(source, re.Pattern):
            patterns.append(cast("re.Pattern[str]", source))
            continue
        if not isinstance(source, str):
            raise fail(key, value, f"{source!r} is not a regular expression string.")
        try:
            patterns.append(re.compile(source))
        except re.error as exc:
            raise fail(key, source, f"Not a valid regular expression: {exc}.") from exc
    return tuple(patterns)


def as_positive_float(key: str, value: object) -> float | None:
    if is_unset(value):
        return None
    if isinstance(value, bool):
        raise fail(key, value, "Expected a positive number.")
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]  # checked below
    except (TypeError, ValueError):
        raise fail(key, value, "Expected a positive number.") from None
    if not number > 0 or number == float("inf"):
        raise fail(key, value, "Expected a positive number.")
    return number


def as_positive_int(key: str, value: object) -> int:
    if isinstance(value, bool):
        raise fail(key, value, "Expected a positive integer.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise fail(key, value, "Expected a positive integer.")
    if number < 16:
        raise fail(key, value, "Expected an integer of at least 16.")
    return number


def resolve(key: str, value: object) -> object:
    """Resolve a dotted name (``pkg.mod.name`` or ``pkg.mod:name``); other values as they are."""
    if not isinstance(value, str):
        return value
    name = value.strip()
    try:
        return _resolver.maybe_resolve(name)
    except (ImportError, AttributeError, ValueError) as exc:
        hint = _dotted_suggestion(name)
        msg = f"Invalid value for setting {key!r}: {value!r}. Cannot import it: {exc}.{hint}"
        raise ConfigurationError(msg) from exc


def _dotted_suggestion(name: str) -> str:
    """What Python suggests for a misspelt name: a close name in its module or package."""
    parent, _, last = name.rpartition(":") if ":" in name else name.rpartition(".")
    if not parent:
        # Only a near miss: an app's own package that is not importable is no typo of mypy.
        return did_you_mean(last, [module.name for module in pkgutil.iter_modules()], cutoff=0.85)
    try:
        found = _resolver.maybe_resolve(parent)
    except (ImportError, AttributeError, ValueError):
        return _dotted_suggestion(parent)  # the first misspelt part
    names = [attribute for attribute in dir(found) if not attribute.startswith("_")]
    # A module not imported yet is no attribute of its package: list the package's modules.
    names += [module.name for module in pkgutil.iter_modules(getattr(found, "__path__", ()))]
    return did_you_mean(last, names)


def is_unset(value: object) -> bool:
    # A blank INI line (``tracing.start_span_hook =``) means "not set", as it did in
    # pyramid_opentracing; it must not reach the resolver, which fails on "" with IndexError.
    return value is None or (isinstance(value, str) and not value.strip())


def as_callable(key: str, value: object) -> Callable[..., Any] | None:
    if is_unset(value):
        return None
    resolved = resolve(key, value)
    if not callable(resolved):
        raise fail(key, value, "Expected a callable or the dotted name of one.")
    return cast("Callable[..., Any]", resolved)


def is_tracer(value: object) -> bool:
    """Whether ``value`` is an OpenTracing tracer object (not a tracer class or factory)."""
    if isinstance(value, opentracing.Tracer):
        return True
    return (
        not isinstance(value, type)
        and hasattr(value, "start_active_span")
        and hasattr(value, "scope_manager")
    )


def make_tracer(
    key: str, value: object, kwargs: Mapping[str, object]
) -> opentracing.Tracer | None:
    if is_unset(value):
        return None
    resolved = resolve(key, value)
    if is_tracer(resolved):
        return cast("opentracing.Tracer", resolved)
    if not callable(resolved):
        raise fail(key, value, "Expected a tracer, a callable returning one, or a dotted name.")
    tracer = call(key, value, resolved, kwargs, " to create the tracer")
    if not is_tracer(tracer):
        raise fail(key, value, f"It returned {tracer!r}, which is not an OpenTracing tracer.")
    return cast("opentracing.Tracer", tracer)
