"""Market orders: by size, by funds, price band, empty book."""

from __future__ import annotations

from apps.matching.engine import (
    Accepted,
    BookConfig,
    Cancelled,
    Done,
    OrderType,
    Reason,
    Rejected,
    TimeInForce,
    band_limit,
)

from .helpers import (
    BUY,
    CANCELLED,
    FILLED,
    REJECTED,
    SELL,
    Harness,
    done,
    kinds,
    of,
    trades,
)

BAND_10PCT = BookConfig(
    quote_per_tick_lot=1, maker_fee_bps=0, taker_fee_bps=0, price_band_bps=1000
)


def test_market_buy_by_size_fills_across_levels_and_releases_rest() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    h.limit(2, 11, SELL, 101, 2)
    ev = h.market(3, 20, BUY, 3, hold=1000)
    assert ev[0] == Accepted(3, 20, BUY, OrderType.MARKET, None, 3, 3)
    assert trades(ev) == [(1, 3, 100, 2), (2, 3, 101, 1)]
    assert done(ev, 3) == Done(3, 20, FILLED, 3, 301, 0, 699)
    assert h.depth() == ([], [(101, 1)])


def test_market_sell_by_size() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 100, 5)
    ev = h.market(2, 20, SELL, 3)
    assert trades(ev) == [(1, 2, 100, 3)]
    assert done(ev, 2) == Done(2, 20, FILLED, 3, 300, 0, 0)


def test_market_order_on_empty_book_is_rejected_no_liquidity() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 100, 5)
    ev = h.market(2, 20, BUY, 3, hold=500)
    assert ev == [
        Rejected(2, 20, Reason.NO_LIQUIDITY, 2),
        Done(2, 20, REJECTED, 0, 0, 0, 500),
    ]


def test_market_order_that_exhausts_book_cancels_remainder_no_liquidity() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    ev = h.market(2, 20, BUY, 5, hold=1000)
    assert Cancelled(2, 20, Reason.NO_LIQUIDITY, 3, 2) in ev
    assert done(ev, 2) == Done(2, 20, CANCELLED, 2, 200, 0, 800)


def test_market_never_rests() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 1)
    h.market(2, 20, BUY, 5, hold=10**6)
    assert h.engine.open_order(2) is None and h.depth() == ([], [])


def test_price_band_stops_market_buy_beyond_ref_plus_band() -> None:
    h = Harness(BAND_10PCT)
    h.limit(1, 10, SELL, 100, 1)
    h.limit(2, 10, SELL, 110, 1)  # exactly at the band: allowed
    h.limit(3, 10, SELL, 111, 1)  # beyond
    ev = h.market(4, 20, BUY, 3, hold=10**6)
    assert trades(ev) == [(1, 4, 100, 1), (2, 4, 110, 1)]
    assert Cancelled(4, 20, Reason.PRICE_BAND, 1, 4) in ev
    assert h.depth() == ([], [(111, 1)])


def test_price_band_for_market_sell_rounds_inward() -> None:
    h = Harness(BAND_10PCT)
    h.limit(1, 10, BUY, 105, 1)  # ref 105: bound 94.5 -> 95
    h.limit(2, 10, BUY, 95, 1)
    h.limit(3, 10, BUY, 94, 1)
    ev = h.market(4, 20, SELL, 3)
    assert trades(ev) == [(1, 4, 105, 1), (2, 4, 95, 1)]
    assert of(ev, Cancelled)[0].reason is Reason.PRICE_BAND


def test_band_limit_rounding_never_exceeds_exact_bound() -> None:
    assert band_limit(105, True, 1000) == 115  # 115.5 floored
    assert band_limit(105, False, 1000) == 95  # 94.5 ceiled
    assert band_limit(100, True, 0) == 100 and band_limit(100, False, 0) == 100
    for ref in range(1, 300):
        for bps in (0, 1, 7, 250, 1000, 10000):
            up, down = band_limit(ref, True, bps), band_limit(ref, False, bps)
            assert up * 10000 <= ref * (10000 + bps) < (up + 1) * 10000
            assert (down - 1) * 10000 < ref * (10000 - bps) <= down * 10000


def test_market_buy_by_funds_stops_when_next_lot_unaffordable() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    h.limit(2, 11, SELL, 101, 5)
    ev = h.market(3, 20, BUY, funds=450, hold=450)
    assert ev[0] == Accepted(3, 20, BUY, OrderType.MARKET, None, None, 3)
    assert trades(ev) == [(1, 3, 100, 2), (2, 3, 101, 2)]
    # 200 + 202 spent, 48 cannot buy a lot at 101: the order is done, filled.
    assert done(ev, 3) == Done(3, 20, FILLED, 4, 402, 0, 48)
    assert kinds(ev).count("Cancelled") == 0


def test_market_buy_by_funds_counts_fees_inside_funds() -> None:
    cfg = BookConfig(
        quote_per_tick_lot=10, maker_fee_bps=0, taker_fee_bps=100, price_band_bps=1000
    )
    h = Harness(cfg)
    h.limit(1, 10, SELL, 100, 50)
    ev = h.market(2, 20, BUY, funds=10_100, hold=10_100)
    # 10 lots = 10_000 notional + 100 fee (1%) = exactly 10_100.
    assert trades(ev) == [(1, 2, 100, 10)]
    assert done(ev, 2) == Done(2, 20, FILLED, 10, 10_000, 100, 0)
    ev = h.market(3, 20, BUY, funds=10_099, hold=10_099)
    assert done(ev, 3) == Done(3, 20, FILLED, 9, 9_000, 90, 1_009)


def test_market_buy_by_funds_too_small_for_one_lot_is_cancelled() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    ev = h.market(2, 20, BUY, funds=99, hold=99)
    assert ev[1:] == [
        Cancelled(2, 20, Reason.HOLD_EXHAUSTED, 0, 2),
        Done(2, 20, CANCELLED, 0, 0, 0, 99),
    ]


def test_market_buy_by_funds_band_and_book_end_report_zero_remaining() -> None:
    h = Harness(BAND_10PCT)
    h.limit(1, 10, SELL, 100, 1)
    h.limit(2, 10, SELL, 200, 1)
    ev = h.market(3, 20, BUY, funds=10_000, hold=10_000)
    assert Cancelled(3, 20, Reason.PRICE_BAND, 0, 3) in ev
    assert done(ev, 3).released == 9_900


def test_market_fok_and_post_only_are_invalid() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    ev = h.market(2, 20, BUY, 1, hold=100, tif=TimeInForce.FOK)
    assert of(ev, Rejected)[0].reason is Reason.INVALID_ORDER
    ev = h.market(3, 20, BUY, 1, hold=100, post_only=True)
    assert of(ev, Rejected)[0].reason is Reason.INVALID_ORDER


def test_market_ioc_tif_is_accepted() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 2)
    ev = h.market(2, 20, BUY, 1, hold=100, tif=TimeInForce.IOC)
    assert done(ev, 2).reason is FILLED
