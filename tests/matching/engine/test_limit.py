"""Limit orders: resting, price-time priority, IOC, FOK, post-only."""

from __future__ import annotations

from apps.matching.engine import (
    Accepted,
    BookDelta,
    Cancelled,
    Done,
    OrderType,
    Reason,
    Rejected,
    TimeInForce,
    Trade,
)

from .helpers import (
    BUY,
    CANCELLED,
    FILLED,
    REJECTED,
    SELL,
    Harness,
    deltas,
    done,
    kinds,
    trades,
)


def test_limit_order_rests_and_emits_accepted_then_delta() -> None:
    h = Harness()
    ev = h.limit(1, 10, BUY, 100, 5)
    assert ev == [
        Accepted(1, 10, BUY, OrderType.LIMIT, 100, 5, 1),
        BookDelta(BUY, 100, 5),
    ]
    assert h.depth() == ([(100, 5)], [])
    assert h.engine.best_bid() == 100 and h.engine.best_ask() is None
    o = h.engine.open_order(1)
    assert o is not None and o.remaining_size == 5 and o.spent == 0


def test_crossing_limit_trades_at_maker_price_and_both_get_done() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 5)
    ev = h.limit(2, 20, BUY, 105, 5)
    assert ev == [
        Accepted(2, 20, BUY, OrderType.LIMIT, 105, 5, 2),
        Trade(1, 2, 10, 20, 100, 5, 500, 0, 0, BUY, 2),
        Done(1, 10, FILLED, 5, 500, 0, 0),
        Done(2, 20, FILLED, 5, 500, 0, 25),  # held at 105, paid at 100
        BookDelta(SELL, 100, 0),
    ]
    assert h.depth() == ([], [])
    assert h.engine.last_price == 100


def test_partial_fill_rests_remainder_at_limit_price() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 3)
    ev = h.limit(2, 20, BUY, 101, 5)
    assert trades(ev) == [(1, 2, 100, 3)]
    assert deltas(ev) == [(SELL, 100, 0), (BUY, 101, 2)]
    o = h.engine.open_order(2)
    assert (
        o is not None
        and o.remaining_size == 2
        and o.filled_size == 3
        and o.taker_quote == 300
    )


def test_sweep_takes_levels_best_price_first() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 102, 1)
    h.limit(2, 10, SELL, 100, 1)
    h.limit(3, 10, SELL, 101, 1)
    h.limit(4, 10, SELL, 103, 1)
    ev = h.limit(5, 20, BUY, 102, 5)
    assert trades(ev) == [(2, 5, 100, 1), (3, 5, 101, 1), (1, 5, 102, 1)]
    assert deltas(ev) == [(SELL, 100, 0), (SELL, 101, 0), (SELL, 102, 0), (BUY, 102, 2)]
    assert h.depth() == ([(102, 2)], [(103, 1)])


def test_fifo_within_a_level() -> None:
    h = Harness()
    for oid in (1, 2, 3):
        h.limit(oid, 10 + oid, BUY, 100, 2)
    ev = h.limit(4, 20, SELL, 100, 5)
    assert trades(ev) == [(1, 4, 100, 2), (2, 4, 100, 2), (3, 4, 100, 1)]
    assert h.depth() == ([(100, 1)], [])
    assert [o.order_id for o in h.engine.resting_orders()] == [3]


def test_cancelled_order_loses_nothing_for_others_and_is_skipped() -> None:
    h = Harness()
    for oid in (1, 2, 3):
        h.limit(oid, 10 + oid, SELL, 100, 2)
    h.cancel(2, 12)
    ev = h.limit(4, 20, BUY, 100, 3)
    assert trades(ev) == [(1, 4, 100, 2), (3, 4, 100, 1)]
    assert h.depth() == ([], [(100, 1)])


def test_ioc_cancels_remainder_without_resting() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    ev = h.limit(2, 20, BUY, 100, 5, tif=TimeInForce.IOC)
    assert kinds(ev) == ["Accepted", "Trade", "Done", "Cancelled", "Done", "BookDelta"]
    assert Cancelled(2, 20, Reason.IOC_REMAINDER, 3, 2) in ev
    assert done(ev, 2) == Done(2, 20, CANCELLED, 2, 200, 0, 300)
    assert h.depth() == ([], [])


def test_ioc_with_nothing_to_take_is_cancelled_not_rejected() -> None:
    h = Harness()
    ev = h.limit(1, 10, BUY, 100, 5, tif=TimeInForce.IOC)
    assert kinds(ev) == ["Accepted", "Cancelled", "Done"]
    assert done(ev, 1).released == 500


def test_fok_fills_completely_across_levels() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    h.limit(2, 11, SELL, 101, 3)
    ev = h.limit(3, 20, BUY, 101, 5, tif=TimeInForce.FOK)
    assert trades(ev) == [(1, 3, 100, 2), (2, 3, 101, 3)]
    assert done(ev, 3).reason is FILLED


def test_fok_not_fillable_is_rejected_without_trades() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    h.limit(2, 11, SELL, 102, 3)
    before = h.engine.state_hash()
    ev = h.limit(3, 20, BUY, 101, 5, tif=TimeInForce.FOK)
    assert ev == [
        Rejected(3, 20, Reason.FOK_NOT_FILLABLE, 3),
        Done(3, 20, REJECTED, 0, 0, 0, 505),
    ]
    assert h.engine.state_hash() == before


def test_post_only_rests_when_it_does_not_cross() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 101, 2)
    ev = h.limit(2, 20, BUY, 100, 5, post_only=True)
    assert kinds(ev) == ["Accepted", "BookDelta"]


def test_post_only_that_would_take_is_rejected_not_repriced() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    ev = h.limit(2, 20, BUY, 100, 5, post_only=True)
    assert ev == [
        Rejected(2, 20, Reason.POST_ONLY_WOULD_TAKE, 2),
        Done(2, 20, REJECTED, 0, 0, 0, 500),
    ]
    assert h.depth() == ([], [(100, 2)])


def test_sell_taker_walks_bids_from_highest() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 99, 1)
    h.limit(2, 10, BUY, 101, 1)
    h.limit(3, 10, BUY, 100, 1)
    ev = h.limit(4, 20, SELL, 100, 3)
    assert trades(ev) == [(2, 4, 101, 1), (3, 4, 100, 1)]
    assert h.depth() == ([(99, 1)], [(100, 1)])
    assert done(ev, 2).released == 0


def test_many_cancels_in_a_level_compact_and_keep_fifo() -> None:
    h = Harness()
    for oid in range(1, 101):
        h.limit(oid, oid, SELL, 100, 1)
    for oid in list(range(1, 100, 2)) + list(range(2, 40, 2)):
        h.cancel(oid, oid)  # compaction kicks in once dead entries dominate
    assert len(h.engine._m.asks.levels[100].orders) < 60
    ev = h.limit(1000, 999, BUY, 100, 3)
    assert trades(ev) == [(40, 1000, 100, 1), (42, 1000, 100, 1), (44, 1000, 100, 1)]
    assert [o.order_id for o in h.engine.resting_orders()][:2] == [46, 48]
    assert h.depth() == ([], [(100, 28)])
