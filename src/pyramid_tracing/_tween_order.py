"""An explicit ``pyramid.tweens`` list: the order that gives every span, and one warning.

Without ``pyramid.tweens``, Pyramid places the add-on's tweens itself: the tracing tween over
pyramid_tm's and over the exception views (its span covers the commit and the error pages),
the transaction tween right under pyramid_tm's. An explicit list replaces all of that, and
a list that misses either tween, or puts the tracing tween under pyramid_tm's, loses spans
without an error. :func:`warn_about_tween_order` says so once, with the list to paste.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, cast

from pyramid.settings import aslist

from ._warn import warn_user

__all__ = [
    "TRACING_TWEEN",
    "TRACING_TWEENS",
    "TRANSACTION_TWEEN",
    "advised_tweens",
    "warn_about_tween_order",
]

#: The public dotted names of the two tweens.
TRACING_TWEEN: Final = "pyramid_tracing.tracing_tween_factory"
TRANSACTION_TWEEN: Final = "pyramid_tracing.transaction_tween_factory"
#: Every name the tracing tween answers to (pyramid_opentracing's and the module path too).
TRACING_TWEENS: Final = frozenset(
    {
        TRACING_TWEEN,
        "pyramid_tracing.opentracing_tween_factory",
        "pyramid_tracing._tween.tracing_tween_factory",
    }
)
_TRANSACTION_TWEENS: Final = frozenset(
    {TRANSACTION_TWEEN, "pyramid_tracing._instrument.transaction_tween_factory"}
)
_PYRAMID_TM: Final = "pyramid_tm.tm_tween_factory"
_EXCVIEW: Final = "pyramid.tweens.excview_tween_factory"


def advised_tweens(names: Sequence[str], *, trace: bool, transaction: bool) -> list[str]:
    """``names`` with the add-on's tweens where they give every span.

    The tracing tween (when ``trace``, or listed) goes right above the first of pyramid_tm's
    tween and the exception view tween (at the bottom when neither is listed); the
    transaction tween (when ``transaction`` and pyramid_tm's tween is listed) right under
    pyramid_tm's. A name the list already uses for a tween is kept.
    """
    tracing = next((name for name in names if name in TRACING_TWEENS), None)
    listed_transaction = next((name for name in names if name in _TRANSACTION_TWEENS), None)
    has_tm = _PYRAMID_TM in names
    ours = TRACING_TWEENS | (_TRANSACTION_TWEENS if has_tm else frozenset())
    advised = [name for name in dict.fromkeys(names) if name not in ours]
    if has_tm and (transaction or listed_transaction is not None):
        advised.insert(advised.index(_PYRAMID_TM) + 1, listed_transaction or TRANSACTION_TWEEN)
    if trace or tracing is not None:
        anchors = [index for index, name in enumerate(advised) if name in (_PYRAMID_TM, _EXCVIEW)]
        advised.insert(anchors[0] if anchors else len(advised), tracing or TRACING_TWEEN)
    return advised


def _problems(names: Sequence[str], advised: Sequence[str]) -> list[str]:
    """What the list ``names`` loses, against the ``advised`` one."""
    problems = []
    tracing = next((name for name in names if name in TRACING_TWEENS), None)
    if tracing is None:
        if any(name in TRACING_TWEENS for name in advised):
            problems.append(f"{TRACING_TWEEN!r} is missing: requests are not traced")
    elif _PYRAMID_TM in names and names.index(tracing) > names.index(_PYRAMID_TM):
        problems.append(f"{tracing!r} is under {_PYRAMID_TM!r}: the spans of the commit are lost")
    elif _EXCVIEW in names and names.index(tracing) > names.index(_EXCVIEW):
        problems.append(f"{tracing!r} is under {_EXCVIEW!r}: error pages are not recorded")
    transaction = next((name for name in advised if name in _TRANSACTION_TWEENS), None)
    if transaction is not None:
        if transaction not in names:
            problems.append(f"{transaction!r} is missing: the transaction is not traced")
        elif names.index(transaction) != names.index(_PYRAMID_TM) + 1:
            problems.append(f"{transaction!r} is not right under {_PYRAMID_TM!r}")
    return problems


def warn_about_tween_order(
    settings: Mapping[str, object], *, trace: bool, transaction: bool
) -> None:
    """Warn, with the list to paste, when an explicit ``pyramid.tweens`` loses spans."""
    explicit = settings.get("pyramid.tweens")
    if not explicit:
        return
    if isinstance(explicit, str):
        names = aslist(explicit)
    else:
        names = [str(name) for name in cast("Iterable[object]", explicit)]
    advised = advised_tweens(names, trace=trace, transaction=transaction)
    if advised == names:
        return
    problems = _problems(names, advised) or ["the tweens are not in this order"]
    places = []
    if any(name in TRACING_TWEENS for name in advised):
        places.append("the tracing tween above pyramid_tm's and the exception views'")
    if any(name in _TRANSACTION_TWEENS for name in advised):
        places.append("the transaction tween right under pyramid_tm's")
    alternative = " (or remove 'transaction' from tracing.instrument)" if len(places) > 1 else ""
    listing = "".join(f"\n    {name}" for name in advised)
    warn_user(
        f"pyramid.tweens lists the tweens explicitly, and spans are lost: {'; '.join(problems)}. "
        f"The order that gives every span for this app puts {', and '.join(places)}"
        f"{alternative}:\n\n"
        f"pyramid.tweens ={listing}\n"
    )
