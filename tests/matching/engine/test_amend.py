"""AmendOrder: shrink in place keeps priority, any other change is an atomic
cancel-replace that loses it; holds end exact; rejections change nothing."""

from __future__ import annotations

from apps.matching.engine import (
    Amended,
    AmendOrder,
    AmendRejected,
    BookDelta,
    Engine,
    Reason,
    buy_limit_hold,
)
from apps.matching.engine.fees import buy_amend_hold

from .helpers import BUY, FEES, FILLED, SELL, Harness, done, kinds, trades


def amend(h: Harness, oid: int, acc: int, price: int, size: int, **kw: object):
    return h.do(
        AmendOrder(
            order_id=oid,
            account_id=acc,
            price=price,
            size=size,
            ts=h.next_ts(),
            **kw,  # type: ignore[arg-type]
        )
    )


def test_size_reduction_at_same_price_keeps_time_priority() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 5)
    h.limit(2, 11, SELL, 100, 5)
    ev = amend(h, 1, 10, 100, 3)
    assert ev == [
        Amended(1, 10, 100, 3, 3, 0, 3, 2, False, 3),
        BookDelta(SELL, 100, 8),
    ]
    # Order 1 is still first in the queue: a taker of 3 fills it alone.
    ev = h.limit(3, 12, BUY, 100, 3)
    assert trades(ev) == [(1, 3, 100, 3)]
    assert done(ev, 1).reason is FILLED


def test_price_change_requeues_behind_the_new_level() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 101, 5)
    h.limit(2, 11, SELL, 100, 5)
    ev = amend(h, 1, 10, 100, 5)
    assert kinds(ev) == ["Amended", "BookDelta", "BookDelta"]
    assert ev[0].requeued is True
    assert h.depth()[1] == [(100, 10)]
    ev = h.limit(3, 12, BUY, 100, 5)
    assert trades(ev) == [(2, 3, 100, 5)]  # order 2 was there first


def test_size_increase_at_same_price_loses_priority() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 5)
    h.limit(2, 11, SELL, 100, 5)
    ev = amend(h, 1, 10, 100, 6, hold_add=1)
    assert ev[0] == Amended(1, 10, 100, 6, 6, 0, 6, 0, True, 3)
    ev = h.limit(3, 12, BUY, 100, 5)
    assert trades(ev) == [(2, 3, 100, 5)]


def test_reduction_after_a_partial_fill_counts_the_fill_in_the_size() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 10)
    h.limit(2, 11, BUY, 100, 4)
    ev = amend(h, 1, 10, 100, 6)  # total 6: 4 filled, 2 left
    assert ev[0] == Amended(1, 10, 100, 6, 2, 4, 6, 4, False, 3)
    assert h.engine.open_order(1).remaining_size == 2  # type: ignore[union-attr]


def test_size_not_above_filled_is_rejected_and_nothing_changes() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 10)
    h.limit(2, 11, BUY, 100, 4)
    before = h.engine.state_hash()
    ev = amend(h, 1, 10, 100, 4, hold_add=0)
    assert ev == [AmendRejected(1, 10, Reason.SIZE_BELOW_FILLED, 0, 3)]
    assert h.engine.state_hash() == before


def test_unknown_finished_or_foreign_order_is_not_found_and_releases_hold_add() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 5)
    assert amend(h, 1, 99, 100, 6, hold_add=1) == [
        AmendRejected(1, 99, Reason.ORDER_NOT_FOUND, 1, 2)
    ]
    assert amend(h, 7, 10, 100, 6, hold_add=3)[0].released == 3
    h.stop(8, 10, SELL, 90, 2)
    assert amend(h, 8, 10, 100, 1)[0].reason is Reason.ORDER_NOT_FOUND


def test_increase_without_enough_hold_is_rejected() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 100, 5)
    before = h.engine.state_hash()
    ev = amend(h, 1, 10, 100, 6, hold_add=99)
    assert ev == [AmendRejected(1, 10, Reason.HOLD_EXHAUSTED, 99, 2)]
    assert h.engine.state_hash() == before


def test_post_only_amend_that_would_take_is_rejected_and_order_stays() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 99, 5, post_only=True)
    h.limit(2, 11, SELL, 100, 5)
    before = h.engine.state_hash()
    ev = amend(h, 1, 10, 100, 5, post_only=True, hold_add=5)
    assert ev == [AmendRejected(1, 10, Reason.POST_ONLY_WOULD_TAKE, 5, 3)]
    assert h.engine.state_hash() == before


def test_price_change_that_crosses_trades_as_taker_and_releases_the_rest() -> None:
    h = Harness(FEES)
    h.limit(2, 11, SELL, 98, 5)
    h.limit(1, 10, BUY, 97, 5)
    need = buy_limit_hold(100, 5, FEES)
    add = need - buy_limit_hold(97, 5, FEES)
    ev = amend(h, 1, 10, 100, 5, hold_add=add)
    assert kinds(ev)[:3] == ["Amended", "Trade", "Done"]
    assert trades(ev) == [(2, 1, 98, 5)]
    d = done(ev, 1)
    assert d.reason is FILLED
    # Paid 490 + ceil(490 * 20 bps) = 491; the rest of the 501 held comes back.
    assert ev[0].hold == need == 501
    assert d.released == need - 491


def test_reduction_releases_exactly_the_excess_hold_with_fees() -> None:
    h = Harness(FEES)
    h.limit(1, 10, BUY, 1000, 10)
    hold = buy_limit_hold(1000, 10, FEES)
    ev = amend(h, 1, 10, 1000, 4)
    assert ev[0].hold == buy_limit_hold(1000, 4, FEES)
    assert ev[0].released == hold - buy_limit_hold(1000, 4, FEES)


def test_amend_hold_bound_covers_fills_racing_a_price_cut() -> None:
    """The API's bound: whatever the order fills at its old price before the
    amend applies, the engine finds the hold sufficient."""
    cfg = FEES
    for filled_meanwhile in range(0, 5):
        h = Harness(cfg)
        h.limit(1, 10, BUY, 100, 5)
        bound = buy_amend_hold(0, 90, 6, 100, 5, cfg)
        add = bound - buy_limit_hold(100, 5, cfg)
        if filled_meanwhile:
            h.limit(2, 11, SELL, 100, filled_meanwhile)
        ev = amend(h, 1, 10, 90, 6, hold_add=add)
        assert type(ev[0]) is Amended, (filled_meanwhile, ev)
        h.engine.check_invariants()


def test_amend_and_rebuild_hash_the_same() -> None:
    h = Harness(FEES)
    h.limit(1, 10, SELL, 101, 5)
    h.limit(2, 11, SELL, 101, 5)
    h.limit(3, 12, BUY, 101, 2)
    amend(h, 1, 10, 101, 4)
    amend(h, 2, 11, 102, 5)
    rebuilt = Engine(FEES)
    for o in h.engine.resting_orders():
        rebuilt.restore_resting(**o.restore_kwargs())
    rebuilt.set_last_price(h.engine.last_price)
    assert rebuilt.state_hash() == h.engine.state_hash()
