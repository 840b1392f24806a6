"""The maker's ladder on a pair's grid and its cancel/replace plan. No
database."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

from apps.web.simulator.quoting import (
    BUY,
    SELL,
    Amend,
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
ETH_BTC = Grid.from_market(
    {
        "tick_size": "0.00001000",
        "lot_size": "0.00100000",
        "min_size": "0.00100000",
        "min_notional": "0.00010000",
    }
)
SHAPE = LadderShape(base_notional=1_000.0)
NEW_IDS = itertools.count()  # placed orders' ids in ``book_after``


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


def test_a_small_move_re_prices_the_inner_levels_by_amends_and_leaves_the_outer_ones():
    have = resting(quotes(60_000.0))
    p = plan(quotes(60_003.0), have)  # 300 ticks, half a level's gap
    assert 0 < len(p.amends) < len(have) // 2
    # an amend replaces each cancel + place pair: nothing cancelled or placed
    assert (p.cancels_first, p.places, p.cancels_after) == ([], [], [])
    assert len(p) == len(p.actions()) == len(p.amends)


def test_a_re_price_costs_one_call_a_moved_level():
    have = resting(quotes(60_000.0))
    for reference in (60_003.0, 60_030.0, 59_970.0, 60_600.0):
        wanted = quotes(reference)
        p = plan(wanted, have)
        kept = {r.order_id for r in have} - {a.order_id for a in p.amends}
        moved_levels = len(wanted) - len(kept)
        # cancel + place took two calls a level; an amend takes one
        assert len(p.actions()) == len(p.amends) == moved_levels > 0, reference


def test_orders_the_new_quotes_would_meet_move_first():
    have = resting(quotes(60_000.0))
    p = plan(quotes(60_060.0), have)  # 10 bp up: old asks under the new bids
    new_bid = max(q.price for q, _ in quotes(60_060.0) if q.side == BUY)
    crossing = {r.order_id for r in have if r.side == SELL and r.price <= new_bid}
    assert crossing
    actions = p.actions()
    first = [a.order_id for a in actions[: len(crossing)] if isinstance(a, Amend)]
    assert set(first) == crossing
    # and each goes to a new ask, out of the way
    assert all(a.quote.side == SELL for a in p.amends_first)


def test_a_partly_filled_level_is_topped_up_by_an_amend_when_under_half_its_size():
    wanted = quotes()
    have = resting(wanted)
    touch = have[0]
    left = touch.size // 3
    have[0] = Resting(touch.order_id, touch.side, touch.price, left, touch.size - left)
    p = plan(wanted, have)
    assert p.actions() == [Amend(touch.order_id, wanted[0][0], touch.size - left)]
    # the amend's size is the new total: what filled plus the wanted remainder
    assert p.amends[0].size == touch.size - left + wanted[0][0].size


def test_a_side_short_of_orders_places_and_one_with_extra_cancels_last():
    wanted = quotes()
    have = resting(wanted)
    bids = [r for r in have if r.side == BUY]
    extra = Resting("extra", SELL, wanted[-1][0].price + 10_000, 5)
    eaten = bids[:3]  # a market sell took the three best bids
    have = [r for r in have if r not in eaten] + [extra]
    p = plan(wanted, have)
    assert p.places == [q for q, _ in wanted if q.side == BUY][:3]
    assert p.amends == [] and p.cancels_first == []
    assert p.actions()[-1] == "extra"


def book_after(actions, orders: dict[str, Resting]):
    """The maker's orders after each action (``orders`` changed in place),
    checking that no quote would meet its own order of the other side."""
    for n, action in enumerate(actions):
        if isinstance(action, str):
            del orders[action]
            continue
        quote = action.quote if isinstance(action, Amend) else action
        others = [r for r in orders.values() if r.side != quote.side]
        if quote.side == BUY:
            assert all(r.price > quote.price for r in others), (n, action)
        else:
            assert all(r.price < quote.price for r in others), (n, action)
        oid = action.order_id if isinstance(action, Amend) else f"new{next(NEW_IDS)}"
        orders[oid] = Resting(oid, quote.side, quote.price, quote.size)
        yield orders


def test_the_largest_taker_order_leaves_20_levels_at_the_thinnest_depth():
    """The ladder's cushion: a side keeps 20 levels after any one market
    order, while the maker puts the swept ones back."""
    from apps.web.simulator.agents import TAKER_CAP
    from apps.web.simulator.model import DEPTH_FACTOR
    from apps.web.simulator.runner import PARAMS, SHAPES, TAKER_NOTIONAL

    for pair, grid in {
        "BTC-USD": BTC_USD,
        "ETH-USD": BTC_USD,
        "ETH-BTC": ETH_BTC,
    }.items():
        wanted = ladder(
            grid,
            reference=PARAMS[pair].anchor,
            half_spread_ticks=2.0,
            depth=DEPTH_FACTOR.low,
            shape=SHAPES[pair],
        )
        asks = [q for q, _ in wanted if q.side == SELL]
        sweep = TAKER_CAP * TAKER_NOTIONAL[pair]  # in the quote asset
        notionals = [grid.to_price(q.price) * float(q.size * grid.lot) for q in asks]
        swept = sum(1 for total in itertools.accumulate(notionals) if total <= sweep)
        assert len(asks) - swept >= 20, (pair, swept)


def depth(orders: dict[str, Resting]) -> dict[str, int]:
    return {
        side: len({r.price for r in orders.values() if r.side == side})
        for side in (BUY, SELL)
    }


def test_no_call_of_the_maker_takes_a_side_below_the_depth_it_wants():
    """As the maker runs: the price moves, the taker takes a few levels now
    and then, and between two moves only the first few calls of the plan go
    out; the plan is made again each time."""
    rng = random.Random(7)
    reference = 60_000.0
    orders = {r.order_id: r for r in resting(quotes(reference))}
    for step in range(400):
        reference *= 1 + rng.gauss(0, 0.0002)  # 2 bp steps, and larger
        wanted = quotes(reference, half=rng.uniform(0.5, 5))
        if rng.random() < 0.2:  # a market order takes a side's best levels
            side = rng.choice((BUY, SELL))
            ours = sorted(
                (r for r in orders.values() if r.side == side),
                key=lambda r: -r.price if side == BUY else r.price,
            )
            for r in ours[: rng.randint(1, 6)]:
                del orders[r.order_id]
        actions = plan(wanted, list(orders.values())).actions()
        before = depth(orders)
        for state in book_after(actions[: rng.randint(1, 3)], orders):
            after = depth(state)
            for side in (BUY, SELL):
                assert after[side] >= min(before[side], SHAPE.levels), (step, side)
            before = after
    # Given time, the plan completes: every level back, nothing left to do.
    wanted = quotes(reference)
    list(book_after(plan(wanted, list(orders.values())).actions(), orders))
    assert depth(orders) == {BUY: SHAPE.levels, SELL: SHAPE.levels}
    assert not plan(wanted, list(orders.values())).actions()


def test_a_side_short_after_a_fill_places_its_touch_before_re_pricing():
    have = resting(quotes(60_000.0))
    eaten = [r for r in have if r.side == SELL][:3]  # a market buy took them
    have = [r for r in have if r not in eaten]
    wanted = quotes(60_003.0)  # and the price moved on
    p = plan(wanted, have)
    asks = [q for q, _ in wanted if q.side == SELL]
    assert p.places == asks[:3]  # the touch and depth come back first
    actions = p.actions()
    assert p.moves
    assert max(map(actions.index, p.places)) < min(map(actions.index, p.moves))


def test_a_throttle_spends_its_start_surplus_then_keeps_its_rate():
    from apps.web.simulator.agents import Throttle

    now = [0.0]
    throttle = Throttle(2.0, burst_s=0.5, clock=lambda: now[0], initial=10)
    assert sum(throttle.take() for _ in range(12)) == 10  # the first ladder
    now[0] += 0.5
    assert [throttle.take(), throttle.take()] == [True, False]  # 2 a second
    now[0] += 60  # idle: the bucket refills to its burst, not the surplus
    assert sum(throttle.take() for _ in range(5)) == 1
