"""Hold enforcement: spent never exceeds hold; released = hold - spent."""

from __future__ import annotations

from apps.matching.engine import BookConfig, Cancelled, Done, Reason, buy_limit_hold

from .helpers import BUY, CANCELLED, FEES, SELL, Harness, done, kinds, of, trades


def test_limit_buy_whose_hold_is_too_small_takes_what_it_can_pay_then_cancels() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 5)
    ev = h.limit(2, 20, BUY, 100, 5, hold=350)
    assert trades(ev) == [(1, 2, 100, 3)]
    assert Cancelled(2, 20, Reason.HOLD_EXHAUSTED, 2, 2) in ev
    assert done(ev, 2) == Done(2, 20, CANCELLED, 3, 300, 0, 50)
    assert h.depth() == ([], [(100, 2)])


def test_limit_buy_that_cannot_cover_its_resting_remainder_is_not_rested() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    # Takes 2 @100 (200); resting 3 @101 needs 303 but only 302 is left.
    ev = h.limit(2, 20, BUY, 101, 5, hold=502)
    assert trades(ev) == [(1, 2, 100, 2)]
    assert Cancelled(2, 20, Reason.HOLD_EXHAUSTED, 3, 2) in ev
    assert done(ev, 2).released == 302
    assert h.depth() == ([], [])


def test_underfunded_limit_that_does_not_cross_is_cancelled_after_acceptance() -> None:
    h = Harness()
    ev = h.limit(1, 10, BUY, 100, 5, hold=499)
    assert kinds(ev) == ["Accepted", "Cancelled", "Done"]
    assert done(ev, 1) == Done(1, 10, CANCELLED, 0, 0, 0, 499)


def test_limit_buy_hold_includes_worst_fee() -> None:
    h = Harness(FEES)
    h.limit(1, 10, BUY, 100, 50, hold=5000)  # needs 5000 + 10 fee
    assert h.engine.open_order(1) is None
    h.limit(2, 10, BUY, 100, 50, hold=buy_limit_hold(100, 50, FEES))
    assert h.engine.open_order(2) is not None


def test_market_buy_by_size_stops_at_hold_and_never_overspends() -> None:
    cfg = BookConfig(
        quote_per_tick_lot=1, maker_fee_bps=0, taker_fee_bps=100, price_band_bps=5000
    )
    h = Harness(cfg)
    h.limit(1, 10, SELL, 100, 3)
    h.limit(2, 10, SELL, 120, 3)
    ev = h.market(3, 20, BUY, 6, hold=550)
    # 3 @100 = 300 + 3 fee = 303; 2 @120 = 240 + (ceil(5.4) - 3) = 243 -> 546;
    # a third lot @120 would need 121 more than the 4 left.
    assert trades(ev) == [(1, 3, 100, 3), (2, 3, 120, 2)]
    d = done(ev, 3)
    assert d.filled_quote + d.fee_total == 540 + 6 and d.released == 4
    assert of(ev, Cancelled)[0].reason is Reason.HOLD_EXHAUSTED


def test_market_sell_with_hold_below_size_sells_only_the_hold() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 100, 10)
    ev = h.market(2, 20, SELL, 5, hold=3)
    assert trades(ev) == [(1, 2, 100, 3)]
    assert Cancelled(2, 20, Reason.HOLD_EXHAUSTED, 2, 2) in ev
    assert done(ev, 2).released == 0


def test_sell_limit_with_short_hold_rests_only_if_covered() -> None:
    h = Harness()
    ev = h.limit(1, 10, SELL, 100, 5, hold=4)
    assert of(ev, Cancelled)[0].reason is Reason.HOLD_EXHAUSTED


def test_resting_buy_filled_as_maker_with_maker_fee_above_taker_fee_stays_within_hold() -> (
    None
):
    cfg = BookConfig(
        quote_per_tick_lot=1, maker_fee_bps=50, taker_fee_bps=10, price_band_bps=1000
    )
    h = Harness(cfg)
    hold = buy_limit_hold(100, 7, cfg)
    assert hold == 700 + 4  # uses the higher (maker) rate
    h.limit(1, 10, BUY, 100, 7)
    for oid in range(2, 9):
        ev = h.limit(oid, 20, SELL, 100, 1)
    d = done(ev, 1)
    assert d.filled_quote + d.fee_total <= hold and d.released == hold - 704


def test_cancel_releases_unspent_hold_of_partially_filled_order() -> None:
    h = Harness(FEES)
    h.limit(1, 10, BUY, 100, 10)
    h.limit(2, 20, SELL, 100, 4)
    ev = h.cancel(1, 10)
    d = done(ev, 1)
    hold = buy_limit_hold(100, 10, FEES)
    assert d == Done(1, 10, CANCELLED, 4, 400, 1, hold - 401)


def test_resting_buy_hold_must_cover_the_higher_maker_rate() -> None:
    cfg = BookConfig(
        quote_per_tick_lot=1, maker_fee_bps=50, taker_fee_bps=10, price_band_bps=1000
    )
    h = Harness(cfg)
    ev = h.limit(1, 10, BUY, 100, 7, hold=701)  # enough only at the taker rate
    assert of(ev, Cancelled) == [Cancelled(1, 10, Reason.HOLD_EXHAUSTED, 7, 1)]
