"""The maker's ladder on a pair's grid and its cancel/replace plan. No
database."""

from __future__ import annotations

from decimal import Decimal

from apps.web.simulator.quoting import (
    BUY,
    SELL,
    Grid,
    LadderShape,
    Resting,
    ladder,
    plan,
)

BTC_USD = Grid.from_market(
    {
        "tick_size": "0.010000",
        "lot_size": "0.00010000",
        "min_size": "0.00010000",
        "min_notional": "1.000000",
    }
)
SHAPE = LadderShape(base_notional=1_000.0)


def quotes(reference: float = 60_000.004, half: float = 2.0):
    return ladder(
        BTC_USD, reference=reference, half_spread_ticks=half, depth=1.0, shape=SHAPE
    )


def test_the_ladder_has_levels_a_side_a_few_ticks_apart_at_the_touch():
    wanted = [q for q, _ in quotes()]
    bids = [q for q in wanted if q.side == BUY]
    asks = [q for q in wanted if q.side == SELL]
    assert len(bids) == len(asks) == SHAPE.levels >= 20
    assert asks[0].price - bids[0].price <= 6  # ticks
    assert [b.price for b in bids] == sorted({b.price for b in bids}, reverse=True)
    assert [a.price for a in asks] == sorted({a.price for a in asks})
    # sizes grow away from the touch
    assert all(x.size < y.size for x, y in zip(bids, bids[1:], strict=False))
    assert bids[0].price < 6_000_000.4 < asks[0].price


def test_prices_and_sizes_reach_the_wire_as_grid_decimal_strings():
    q = quotes()[0][0]
    assert BTC_USD.price_str(q.price) == "59999.980000"
    assert Decimal(BTC_USD.size_str(q.size)) % Decimal("0.0001") == 0
    assert BTC_USD.parse_price("59999.980000") == q.price
    assert BTC_USD.parse_size(BTC_USD.size_str(q.size)) == q.size


def test_rounding_is_named_bids_down_asks_up():
    from decimal import ROUND_CEILING, ROUND_FLOOR

    assert BTC_USD.ticks(100.005, ROUND_FLOOR) == 10_000
    assert BTC_USD.ticks(100.005, ROUND_CEILING) == 10_001
    assert BTC_USD.lots(0.00019) == 1


def test_min_notional_raises_a_tiny_size():
    assert BTC_USD.min_lots(price_ticks=100) == 10_000  # 1 USD at 1 USD/BTC


def resting(wanted):
    return [
        Resting(f"o{i}", q.side, q.price, q.size) for i, (q, _) in enumerate(wanted)
    ]


def test_an_unchanged_ladder_needs_nothing():
    wanted = quotes()
    p = plan(wanted, resting(wanted))
    assert (p.cancels_first, p.places, p.cancels_after) == ([], [], [])


def test_a_small_move_re_prices_the_inner_levels_and_leaves_the_outer_ones():
    have = resting(quotes(60_000.0))
    p = plan(quotes(60_003.0), have)  # 300 ticks, half a level's gap
    moved = len(p.cancels_first) + len(p.cancels_after)
    assert 0 < moved < len(have) // 2
    assert len(p.places) == moved
    # the orders now inside the new touch go first: a new bid must not meet
    # the maker's own old ask
    new_bid = max(q.price for q in p.places if q.side == BUY)
    old_asks = {r.order_id: r for r in have if r.side == SELL}
    crossing = [oid for oid, r in old_asks.items() if r.price <= new_bid]
    assert set(crossing) <= set(p.cancels_first)


def test_a_partly_filled_level_is_replaced_when_under_half_its_size():
    wanted = quotes()
    have = resting(wanted)
    touch = have[0]
    have[0] = Resting(touch.order_id, touch.side, touch.price, touch.size // 3)
    p = plan(wanted, have)
    assert p.places == [wanted[0][0]]
    assert p.cancels_first + p.cancels_after == [touch.order_id]


def test_a_throttle_spends_its_start_surplus_then_keeps_its_rate():
    from apps.web.simulator.agents import Throttle

    now = [0.0]
    throttle = Throttle(2.0, burst_s=0.5, clock=lambda: now[0], initial=10)
    assert sum(throttle.take() for _ in range(12)) == 10  # the first ladder
    now[0] += 0.5
    assert [throttle.take(), throttle.take()] == [True, False]  # 2 a second
    now[0] += 60  # idle: the bucket refills to its burst, not the surplus
    assert sum(throttle.take() for _ in range(5)) == 1
