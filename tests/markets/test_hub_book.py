"""The streams hub's in-memory book and its depth windows (pure: no database).

Each window's changes are checked against a naive reference: the top N per
side before and after the event, compared level by level."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.markets.hub_book import BUY, SELL, Change, HubBook, Level


def book(bids: list[Level], asks: list[Level]) -> HubBook:
    return HubBook(bids, asks)


def test_top_gives_each_side_best_first():
    b = book([(99, 1), (101, 2), (100, 3)], [(105, 1), (103, 2), (104, 3)])
    assert b.top(BUY, 2) == [(101, 2), (100, 3)]
    assert b.top(SELL, 5) == [(103, 2), (104, 3), (105, 1)]
    assert (b.depth(BUY), b.size(BUY, 100), b.size(SELL, 100)) == (3, 3, 0)


def test_a_change_inside_the_window_is_seen_and_one_outside_is_not():
    b = book([(100, 1), (99, 1), (98, 1)], [(101, 1)])
    seen = b.apply([(BUY, 100, 5), (BUY, 98, 7)], [2, 3])
    assert seen == {2: [(BUY, 100, 5)], 3: [(BUY, 100, 5), (BUY, 98, 7)]}


def test_an_emptied_top_level_leaves_and_the_next_one_enters_with_its_size():
    b = book([(100, 1), (99, 2), (98, 3), (97, 4)], [])
    seen = b.apply([(BUY, 100, 0)], [2])
    assert seen == {2: [(BUY, 100, 0), (BUY, 98, 3)]}
    assert b.top(BUY, 2) == [(99, 2), (98, 3)]


def test_a_new_best_level_pushes_the_last_one_out_with_size_zero():
    b = book([], [(101, 1), (102, 2), (103, 3)])
    seen = b.apply([(SELL, 100, 9)], [2, 5])
    assert seen == {2: [(SELL, 100, 9), (SELL, 102, 0)], 5: [(SELL, 100, 9)]}


def test_both_sides_are_reported_bids_first_each_best_first():
    b = book([(100, 1), (99, 1)], [(101, 1), (102, 1)])
    seen = b.apply([(SELL, 101, 0), (BUY, 99, 0), (BUY, 100, 2)], [1, 2])
    assert seen[1] == [(BUY, 100, 2), (SELL, 101, 0), (SELL, 102, 1)]
    assert seen[2] == [(BUY, 100, 2), (BUY, 99, 0), (SELL, 101, 0)]


def test_depth_one_sees_only_the_best_level():
    b = book([(100, 1), (99, 1)], [(101, 1)])
    assert b.apply([(BUY, 99, 5)], [1]) == {1: []}
    assert b.apply([(BUY, 100, 0)], [1]) == {1: [(BUY, 100, 0), (BUY, 99, 5)]}
    assert b.apply([(BUY, 99, 0)], [1]) == {1: [(BUY, 99, 0)]}
    assert b.top(BUY, 1) == []


def test_an_empty_side_fills_and_empties():
    b = book([], [])
    assert b.apply([(SELL, 101, 1), (SELL, 102, 2)], [1, 10]) == {
        1: [(SELL, 101, 1)],
        10: [(SELL, 101, 1), (SELL, 102, 2)],
    }
    assert b.apply([(SELL, 101, 0), (SELL, 102, 0)], [1, 10]) == {
        1: [(SELL, 101, 0)],
        10: [(SELL, 101, 0), (SELL, 102, 0)],
    }
    assert b.depth(SELL) == 0


def test_a_price_repeated_in_one_event_counts_once_with_its_last_size():
    b = book([(100, 1)], [])
    assert b.apply([(BUY, 100, 4), (BUY, 100, 1)], [5]) == {5: []}
    assert b.apply([(BUY, 99, 4), (BUY, 99, 0)], [5]) == {5: []}
    assert b.apply([(BUY, 100, 0), (BUY, 100, 2)], [5]) == {5: [(BUY, 100, 2)]}


def test_removing_a_level_that_is_not_there_changes_nothing():
    b = book([(100, 1)], [(101, 1)])
    assert b.apply([(BUY, 50, 0)], [1, 2]) == {1: [], 2: []}


# ------------------------------------------------------------- the reference


def naive_window(levels: dict[str, dict[int, int]], depth: int) -> set[Change]:
    bids = sorted(levels[BUY].items(), reverse=True)[:depth]
    asks = sorted(levels[SELL].items())[:depth]
    return {(BUY, p, s) for p, s in bids} | {(SELL, p, s) for p, s in asks}


def naive_seen(before: set[Change], after: set[Change]) -> list[Change]:
    old = {(side, p): s for side, p, s in before}
    new = {(side, p): s for side, p, s in after}
    seen = [(side, p, s) for (side, p), s in new.items() if old.get((side, p)) != s]
    seen += [(side, p, 0) for (side, p) in old if (side, p) not in new]
    return sorted(seen, key=lambda c: (c[0] != BUY, -c[1] if c[0] == BUY else c[1]))


prices = st.integers(min_value=90, max_value=110)
sizes = st.integers(min_value=0, max_value=3)
change = st.tuples(st.sampled_from([BUY, SELL]), prices, sizes)


@settings(max_examples=300, deadline=None)
@given(
    start=st.lists(change, max_size=30),
    events=st.lists(st.lists(change, min_size=1, max_size=6), max_size=25),
    depths=st.sets(st.integers(min_value=1, max_value=12), min_size=1, max_size=4),
)
def test_every_window_sees_exactly_what_its_top_n_before_and_after_differ_by(
    start, events, depths
):
    """Sides may cross here (the window arithmetic does not care)."""
    levels: dict[str, dict[int, int]] = {BUY: {}, SELL: {}}
    for side, price, size in start:
        levels[side][price] = size
    for side in (BUY, SELL):
        levels[side] = {p: s for p, s in levels[side].items() if s}
    b = HubBook(levels[BUY].items(), levels[SELL].items())
    for event in events:
        before = {d: naive_window(levels, d) for d in depths}
        for side, price, size in event:
            if size:
                levels[side][price] = size
            else:
                levels[side].pop(price, None)
        seen = b.apply(event, depths)
        for d in depths:
            assert seen[d] == naive_seen(before[d], naive_window(levels, d)), d
        assert b.top(BUY, 100) == sorted(levels[BUY].items(), reverse=True)
        assert b.top(SELL, 100) == sorted(levels[SELL].items())
