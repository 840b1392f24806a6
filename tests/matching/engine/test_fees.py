"""Fee rounding: cumulative per order, ceil for charges, rebates toward zero."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.matching.engine import BookConfig, Done, Trade, buy_limit_hold, fee_due
from apps.matching.engine.fees import affordable_lots, ceil_div

from .helpers import BUY, FEES, FILLED, SELL, Harness, done, of

REBATE = BookConfig(
    quote_per_tick_lot=1, maker_fee_bps=-10, taker_fee_bps=20, price_band_bps=1000
)


def test_taker_fee_is_cumulative_so_small_fills_are_not_each_rounded_up() -> None:
    h = Harness(FEES)
    for oid in (1, 2, 3):
        h.limit(oid, 10 + oid, SELL, 100, 1)
    ev = h.limit(4, 20, BUY, 100, 3)
    # 20 bps of 100 = 0.2 per fill: due goes 1, 1, 1 (ceil of 0.2, 0.4, 0.6).
    assert [t.taker_fee for t in of(ev, Trade)] == [1, 0, 0]
    assert done(ev, 4).fee_total == 1 == fee_due(300, 0, FEES)


def test_maker_fee_is_cumulative_too() -> None:
    h = Harness(FEES)
    h.limit(1, 10, SELL, 100, 30)
    fees = []
    for oid in range(2, 12):
        fees += [t.maker_fee for t in of(h.limit(oid, 20, BUY, 100, 3), Trade)]
    # 10 bps of 300 = 0.3 per fill; cumulative ceil: 1,1,1,2,2,2,3,3,3,3.
    assert fees == [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    assert sum(fees) == ceil_div(3000 * 10, 10000) == 3


def test_seller_receives_notional_minus_fee_and_buyer_pays_notional_plus_fee() -> None:
    cfg = BookConfig(
        quote_per_tick_lot=10, maker_fee_bps=10, taker_fee_bps=20, price_band_bps=1000
    )
    h = Harness(cfg)
    h.limit(1, 10, SELL, 1000, 5)
    ev = h.limit(2, 20, BUY, 1000, 5)
    t = of(ev, Trade)[0]
    assert (t.quote, t.maker_fee, t.taker_fee) == (50_000, 50, 100)
    hold = buy_limit_hold(1000, 5, cfg)
    assert hold == 50_100
    assert done(ev, 2) == Done(2, 20, FILLED, 5, 50_000, 100, hold - 50_100)
    assert done(ev, 1) == Done(1, 10, FILLED, 5, 50_000, 50, 0)


def test_maker_rebate_rounds_toward_zero() -> None:
    h = Harness(REBATE)
    h.limit(1, 10, SELL, 100, 15)
    ev = h.limit(2, 20, BUY, 100, 15)
    t = of(ev, Trade)[0]
    # -10 bps of 1500 = -1.5: the maker gets 1, never more than exact.
    assert (t.maker_fee, t.taker_fee) == (-1, 3)
    assert done(ev, 1).fee_total == -1


def test_buy_maker_rebate_lowers_what_it_spends() -> None:
    h = Harness(REBATE)
    h.limit(1, 10, BUY, 100, 20)
    ev = h.limit(2, 20, SELL, 100, 20)
    d = done(ev, 1)
    assert d.fee_total == -2 and d.released == buy_limit_hold(100, 20, REBATE) - (
        2000 - 2
    )


def test_order_that_takes_then_makes_combines_both_rates() -> None:
    h = Harness(FEES)
    h.limit(1, 10, SELL, 100, 1)
    h.limit(2, 20, BUY, 100, 4)  # takes 1 (0.2 fee -> 1), rests 3
    ev = h.limit(3, 30, SELL, 100, 3)  # 2 is maker for 300: 0.2 + 0.3 = 0.5 -> 1
    assert of(ev, Trade)[0].maker_fee == 0
    assert done(ev, 2).fee_total == 1 == fee_due(100, 300, FEES)


def test_zero_fee_config_charges_nothing() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 7, 3)
    ev = h.limit(2, 20, BUY, 7, 3)
    assert {(t.maker_fee, t.taker_fee) for t in of(ev, Trade)} == {(0, 0)}


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=8),
    price=st.integers(1, 10_000),
    taker_bps=st.integers(0, 100),
    maker_bps=st.integers(-20, 100),
)
def test_splitting_into_fills_never_changes_total_fee(
    sizes: list[int], price: int, taker_bps: int, maker_bps: int
) -> None:
    maker_bps = max(maker_bps, -taker_bps)
    cfg = BookConfig(
        quote_per_tick_lot=3,
        maker_fee_bps=maker_bps,
        taker_fee_bps=taker_bps,
        price_band_bps=1000,
    )
    h = Harness(cfg)
    for i, size in enumerate(sizes):
        h.limit(i + 1, i + 1, SELL, price, size)
    total = sum(sizes)
    ev = h.limit(1000, 999, BUY, price, total)
    d = done(ev, 1000)
    assert (
        d.fee_total
        == sum(t.taker_fee for t in of(ev, Trade))
        == fee_due(price * total * 3, 0, cfg)
    )
    assert (
        d.released
        == buy_limit_hold(price, total, cfg) - d.filled_quote - d.fee_total
        >= 0
    )


@settings(max_examples=200, deadline=None)
@given(
    avail=st.integers(0, 10**6),
    unit=st.integers(1, 5000),
    taker_quote=st.integers(0, 10**6),
    maker_quote=st.integers(0, 10**6),
    tb=st.integers(0, 300),
    mb=st.integers(-300, 300),
)
def test_affordable_lots_is_the_exact_maximum(
    avail: int, unit: int, taker_quote: int, maker_quote: int, tb: int, mb: int
) -> None:
    base = taker_quote * tb + maker_quote * mb
    charged = ceil_div(base, 10000)

    def cost(q: int) -> int:
        return q * unit + ceil_div(base + q * unit * tb, 10000) - charged

    q = affordable_lots(avail, unit, base, charged, tb)
    assert cost(q) <= avail or q == 0
    assert cost(q + 1) > avail
