"""Self-trade prevention: the taker's mode decides; no self trade ever."""

from __future__ import annotations

from apps.matching.engine import Cancelled, Done, Reason, Rejected, Stp, TimeInForce

from .helpers import BUY, CANCELLED, SELL, Harness, done, kinds, of, trades


def _book(h: Harness) -> None:
    h.limit(1, 10, SELL, 100, 2)  # other account, first
    h.limit(2, 20, SELL, 100, 2)  # same account as the taker below
    h.limit(3, 30, SELL, 100, 2)


def test_cancel_newest_cancels_taker_remainder_and_keeps_maker() -> None:
    h = Harness()
    _book(h)
    ev = h.limit(4, 20, BUY, 100, 6, stp=Stp.CANCEL_NEWEST)
    assert trades(ev) == [(1, 4, 100, 2)]
    assert Cancelled(4, 20, Reason.SELF_TRADE, 4, 4) in ev
    assert done(ev, 4) == Done(4, 20, CANCELLED, 2, 200, 0, 400)
    assert [o.order_id for o in h.engine.resting_orders()] == [2, 3]


def test_cancel_oldest_cancels_maker_and_continues() -> None:
    h = Harness()
    _book(h)
    ev = h.limit(4, 20, BUY, 100, 6, stp=Stp.CANCEL_OLDEST)
    assert trades(ev) == [(1, 4, 100, 2), (3, 4, 100, 2)]
    assert Cancelled(2, 20, Reason.SELF_TRADE, 2, 4) in ev
    assert done(ev, 2) == Done(2, 20, CANCELLED, 0, 0, 0, 2)
    assert kinds(ev) == [
        "Accepted",
        "Trade",
        "Done",
        "Cancelled",
        "Done",
        "Trade",
        "Done",
        "BookDelta",
        "BookDelta",
    ]
    assert h.depth() == ([(100, 2)], [])


def test_cancel_both_cancels_maker_then_taker() -> None:
    h = Harness()
    _book(h)
    ev = h.limit(4, 20, BUY, 100, 6, stp=Stp.CANCEL_BOTH)
    assert trades(ev) == [(1, 4, 100, 2)]
    cancels = of(ev, Cancelled)
    assert [(c.order_id, c.reason) for c in cancels] == [
        (2, Reason.SELF_TRADE),
        (4, Reason.SELF_TRADE),
    ]
    assert h.depth() == ([], [(100, 2)])


def test_stp_applies_to_market_orders() -> None:
    h = Harness()
    h.limit(1, 20, SELL, 100, 2)
    ev = h.market(2, 20, BUY, 1, hold=1000)
    assert trades(ev) == [] and of(ev, Cancelled)[0].reason is Reason.SELF_TRADE
    assert h.depth() == ([], [(100, 2)])


def test_fok_counts_own_orders_as_unfillable_unless_cancel_oldest() -> None:
    h = Harness()
    _book(h)
    ev = h.limit(4, 20, BUY, 100, 4, tif=TimeInForce.FOK)
    assert of(ev, Rejected)[0].reason is Reason.FOK_NOT_FILLABLE
    ev = h.limit(5, 20, BUY, 100, 4, tif=TimeInForce.FOK, stp=Stp.CANCEL_OLDEST)
    assert trades(ev) == [(1, 5, 100, 2), (3, 5, 100, 2)]
    ev = h.limit(6, 20, BUY, 100, 1, tif=TimeInForce.FOK, stp=Stp.CANCEL_OLDEST)
    assert of(ev, Rejected)[0].reason is Reason.FOK_NOT_FILLABLE
    assert h.depth() == ([], [])  # own order 2 was cancelled by order 5


def test_no_trade_between_same_account_in_any_mode() -> None:
    for mode in Stp:
        h = Harness()
        h.limit(1, 7, BUY, 100, 3)
        ev = h.limit(2, 7, SELL, 90, 3, stp=mode)
        assert trades(ev) == []


def test_last_price_is_the_last_trade_not_the_last_level_visited() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 1)
    h.limit(2, 20, SELL, 101, 1)
    ev = h.limit(3, 20, BUY, 101, 2)  # trades @100, then meets its own order
    assert trades(ev) == [(1, 3, 100, 1)]
    assert h.engine.last_price == 100
