"""Candles as a pure function of the trades: no database, no clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.markets.candles import (
    INTERVALS,
    Candle,
    bucket_start,
    build_candles,
    first_bucket_at_or_after,
)

M = 60_000  # one minute in ms
T0 = 1_795_676_400_000  # 2026-11-26T07:00:00Z: a multiple of every interval below 1d
DAY = 86_400_000
FAR = 10**15  # "now" far ahead: every bucket has ended


def build(trades, interval="1m", *, start=T0, end=T0 + 10 * M, now=FAR):
    return build_candles(
        trades, interval_ms=INTERVALS[interval], start=start, end=end, now=now
    )


def ohlcv(candle: Candle) -> tuple[int, ...]:
    c = candle
    return (c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trades)


# ------------------------------------------------------------------ buckets


@pytest.mark.parametrize(
    ("interval", "ms"),
    [
        ("1m", 60_000),
        ("5m", 300_000),
        ("15m", 900_000),
        ("1h", 3_600_000),
        ("4h", 14_400_000),
        ("1d", 86_400_000),
    ],
)
def test_every_interval_is_aligned_to_the_unix_epoch(interval, ms):
    assert INTERVALS[interval] == ms
    midnight = 1_795_651_200_000  # 2026-11-26T00:00:00Z
    assert midnight % DAY == 0
    inside = midnight + 3 * ms + 12_345 if ms < DAY else midnight + 12_345
    assert bucket_start(inside, ms) % ms == 0
    assert bucket_start(inside, ms) <= inside < bucket_start(inside, ms) + ms
    (candle,) = build([(inside, 100, 1, 100)], interval, start=midnight, end=inside)
    assert candle.start == bucket_start(inside, ms)
    assert candle.start % ms == 0


def test_one_day_candles_start_at_utc_midnight():
    late_evening = 1_795_651_200_000 + DAY - 1  # 23:59:59.999Z
    (candle,) = build([(late_evening, 7, 1, 7)], "1d", start=0, end=late_evening)
    assert candle.start == 1_795_651_200_000


def test_bucket_boundaries_are_start_inclusive_end_exclusive():
    assert bucket_start(T0 + M - 1, M) == T0
    assert bucket_start(T0 + M, M) == T0 + M
    assert first_bucket_at_or_after(T0, M) == T0
    assert first_bucket_at_or_after(T0 + 1, M) == T0 + M


def test_ohlcv_of_one_bucket():
    trades = [
        (T0 + 1_000, 100, 2, 200),
        (T0 + 2_000, 130, 1, 130),
        (T0 + 3_000, 90, 5, 450),
        (T0 + 4_000, 110, 1, 110),
    ]
    (candle,) = build(trades, end=T0 + M)
    assert candle == Candle(
        start=T0,
        open=100,
        high=130,
        low=90,
        close=110,
        volume=9,
        quote_volume=890,
        trades=4,
        closed=True,
    )


def test_open_and_close_follow_the_sequence_within_equal_timestamps():
    # One matcher batch: three trades with one timestamp, in seq order.
    batch = [(T0 + 5_000, 300, 1, 300), (T0 + 5_000, 100, 1, 100)]
    batch.append((T0 + 5_000, 200, 1, 200))
    (candle,) = build(batch, end=T0 + M)
    assert (candle.open, candle.close) == (300, 200)
    assert (candle.high, candle.low) == (300, 100)


def test_an_empty_bucket_carries_the_previous_close_with_zero_volume():
    trades = [(T0 + 1, 100, 1, 100), (T0 + 2, 120, 1, 120), (T0 + 3 * M, 90, 2, 180)]
    got = build(trades, end=T0 + 4 * M)
    assert [c.start for c in got] == [T0, T0 + M, T0 + 2 * M, T0 + 3 * M]
    assert ohlcv(got[1]) == ohlcv(got[2]) == (120, 120, 120, 120, 0, 0, 0)
    assert ohlcv(got[3]) == (90, 90, 90, 90, 2, 180, 1)


def test_no_candle_before_the_first_trade():
    got = build([(T0 + 3 * M + 7, 100, 1, 100)], start=0, end=T0 + 5 * M)
    assert [c.start for c in got] == [T0 + 3 * M, T0 + 4 * M]
    assert build([], start=T0, end=T0 + 5 * M) == []


def test_trades_before_start_set_the_carried_close_but_are_not_emitted():
    trades = [(T0 - 5 * M, 50, 1, 50), (T0 - 4 * M, 70, 1, 70)]
    got = build(trades, start=T0, end=T0 + 2 * M)
    assert [(c.start, c.close, c.volume) for c in got] == [
        (T0, 70, 0),
        (T0 + M, 70, 0),
    ]


def test_an_unaligned_start_begins_at_the_next_boundary():
    trades = [(T0 + 10, 100, 1, 100), (T0 + M + 10, 105, 1, 105)]
    got = build(trades, start=T0 + 1, end=T0 + 2 * M)
    assert [(c.start, c.open) for c in got] == [(T0 + M, 105)]


def test_end_bounds_candle_starts_and_later_buckets_are_ignored():
    trades = [(T0 + 1, 100, 1, 100), (T0 + M, 200, 1, 200), (T0 + 2 * M, 300, 1, 300)]
    got = build(trades, end=T0 + M)
    assert [(c.start, c.close) for c in got] == [(T0, 100)]
    # A candle starting before end holds its whole bucket, past end too.
    trades.insert(1, (T0 + 50_000, 150, 1, 150))
    (candle,) = build(trades, end=T0 + 10_000)
    assert (candle.close, candle.trades) == (150, 2)


def test_the_forming_candle_is_not_closed_and_the_future_has_no_candles():
    now = T0 + 2 * M + 30_000
    trades = [(T0 + 1, 100, 1, 100), (T0 + 2 * M + 1, 110, 1, 110)]
    got = build(trades, end=T0 + 10 * M, now=now)
    assert [(c.start, c.closed) for c in got] == [
        (T0, True),
        (T0 + M, True),
        (T0 + 2 * M, False),
    ]
    # The bucket is closed exactly when now reaches its end.
    assert build(trades, end=T0 + 10 * M, now=T0 + 3 * M)[2].closed


def test_trades_out_of_time_order_still_go_to_their_own_buckets():
    # A clock step backwards between batches: seq order is not time order.
    trades = [(T0 + M + 1, 200, 1, 200), (T0 + 2, 100, 1, 100)]
    got = build(trades, end=T0 + 3 * M)
    assert [(c.start, c.open, c.close) for c in got] == [
        (T0, 100, 100),
        (T0 + M, 200, 200),
        (T0 + 2 * M, 200, 200),
    ]


def test_a_non_positive_interval_is_a_programming_error():
    with pytest.raises(ValueError):
        build_candles([], interval_ms=0, start=0, end=1, now=1)


# ------------------------------------------------------------------ properties

# Timestamps on a 6-second grid, so that batches (equal timestamps) are common.
trade_lists = st.lists(
    st.tuples(
        st.integers(0, 600).map(lambda k: T0 - 20 * M + k * 6_000),
        st.integers(1, 10**12),
        st.integers(1, 10**9),
        st.integers(0, 10**15),
    ),
    max_size=60,
)
# A journal: sequence order agrees with time order (ties in any order).
journals = trade_lists.map(lambda trades: sorted(trades, key=lambda t: t[0]))


@given(trades=trade_lists)
def test_the_same_trades_always_give_the_same_candles(trades):
    first = build(trades, "5m", start=T0, end=T0 + 30 * M)
    assert build(list(trades), "5m", start=T0, end=T0 + 30 * M) == first
    assert build(iter(trades), "5m", start=T0, end=T0 + 30 * M) == first


@given(trades=journals)
def test_one_minute_volumes_sum_to_the_five_minute_candle(trades):
    start, end = T0, T0 + 30 * M
    five = build(trades, "5m", start=start, end=end)
    ones = build(trades, "1m", start=start, end=end)
    for candle in five:
        inside = [c for c in ones if candle.start <= c.start < candle.start + 5 * M]
        assert sum(c.volume for c in inside) == candle.volume
        assert sum(c.quote_volume for c in inside) == candle.quote_volume
        assert sum(c.trades for c in inside) == candle.trades
        assert inside[-1].close == candle.close  # empty minutes carry it
        traded = [c for c in inside if c.trades]
        if traded:  # the same open, extremes, from smaller pieces
            assert traded[0].open == candle.open
            assert max(c.high for c in traded) == candle.high
            assert min(c.low for c in traded) == candle.low


@given(trades=trade_lists, interval=st.sampled_from(sorted(INTERVALS)))
def test_high_and_low_bound_every_trade_and_open_close(trades, interval):
    ms = INTERVALS[interval]
    start = bucket_start(T0 - 20 * M, ms)
    got = build(trades, interval, start=start, end=T0 + 41 * M)
    by_start = {c.start: c for c in got}
    for ts, price, _size, _quote in trades:
        candle = by_start[bucket_start(ts, ms)]
        assert candle.low <= price <= candle.high
    for c in got:
        assert c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
    assert sum(c.volume for c in got) == sum(t[2] for t in trades)


@given(trades=trade_lists, cut=st.integers(0, 30))
def test_a_window_is_a_slice_of_the_full_rebuild(trades, cut):
    """What a REST request with any start returns equals the rebuild from the
    whole journal: empty buckets carry the same close either way."""
    full = build(trades, start=0, end=T0 + 41 * M)
    window = build(trades, start=T0 + cut * M, end=T0 + 41 * M)
    assert window == [c for c in full if c.start >= T0 + cut * M]


def test_consecutive_candles_chain_close_to_the_next_empty_open():
    trades = [(T0 + 1, 5, 1, 5), (T0 + 3 * M, 9, 1, 9)]
    got = build(trades)
    for before, after in zip(got, got[1:], strict=False):
        if after.trades == 0:
            assert after.open == before.close


# Purity (no framework, clock, randomness, I/O or floats) is checked with the
# engine's: tests/matching/engine/test_purity.py.
