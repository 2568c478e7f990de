"""The pyramid.tweens order the startup warning advises, for the lists apps write."""

from __future__ import annotations

import pytest

from pyramid_tracing._tween_order import advised_tweens

TM = "pyramid_tm.tm_tween_factory"
EXC = "pyramid.tweens.excview_tween_factory"
TRACING = "pyramid_tracing.tracing_tween_factory"
TRANSACTION = "pyramid_tracing.transaction_tween_factory"
OLD_TRACING = "pyramid_tracing.opentracing_tween_factory"


@pytest.mark.parametrize(
    ("names", "transaction", "advised"),
    [
        ([EXC], True, [TRACING, EXC]),
        (["myapp.timing", TM, EXC], True, ["myapp.timing", TRACING, TM, TRANSACTION, EXC]),
        ([TM, EXC], False, [TRACING, TM, EXC]),
        ([TM, OLD_TRACING, EXC], True, [OLD_TRACING, TM, TRANSACTION, EXC]),
        (["myapp.timing"], True, ["myapp.timing", TRACING]),
        ([TRACING, TM, TRANSACTION, EXC], True, [TRACING, TM, TRANSACTION, EXC]),
    ],
)
def test_the_advised_order(names: list[str], transaction: bool, advised: list[str]) -> None:
    """Tracing above pyramid_tm's and the exception views'; transaction right under tm's."""
    assert advised_tweens(names, trace=True, transaction=transaction) == advised
