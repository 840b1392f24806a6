"""Folding trades into a forming candle one at a time (the live ``candles``
channel) gives exactly the candles ``build_candles`` builds from the same
trades (REST): no database, no clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.markets.candles import (
    INTERVALS,
    Candle,
    LateTrade,
    bucket_start,
    build_candles,
    candle_fold,
    candles_roll,
)

M = 60_000
T0 = 1_795_676_400_000  # 2026-11-26T07:00:00Z


def fold_all(
    steps: list[tuple[int, int, int, int | None]], interval_ms: int, now: int
) -> list[Candle]:
    """Fold trades (ts, price, size, quote = price x size) in order, rolling
    the clock to ``clock`` after a trade when given (as the channel's timer
    does), then to ``now``: every closed candle, then the forming one."""
    emitted: list[Candle] = []
    forming: Candle | None = None
    for ts, price, size, clock in steps:
        closed, forming = candle_fold(
            forming, (ts, price, size, price * size), interval_ms
        )
        emitted += closed
        if clock is not None and bucket_start(clock, interval_ms) > forming.start:
            closed, forming = candles_roll(
                forming, bucket_start(clock, interval_ms), interval_ms
            )
            emitted += closed
    if forming is None:
        return emitted
    if bucket_start(now, interval_ms) > forming.start:
        closed, forming = candles_roll(
            forming, bucket_start(now, interval_ms), interval_ms
        )
        emitted += closed
    return [*emitted, forming]


trade_steps = st.lists(
    st.tuples(
        # Gaps of 0 ms (one matcher batch stamps its trades alike) to a few
        # buckets; prices and sizes in ticks and lots.
        st.one_of(st.just(0), st.integers(1, 20 * M)),
        st.integers(1, 10_000),
        st.integers(1, 1_000),
        st.one_of(st.none(), st.integers(0, 12 * M)),  # the clock, past the trade
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    interval=st.sampled_from(["1m", "5m", "1h"]),
    steps=trade_steps,
    start=st.integers(0, 10 * M),
    tail=st.integers(0, 15 * M),
)
def test_folding_trades_one_by_one_gives_what_build_candles_gives(
    interval, steps, start, tail
):
    interval_ms = INTERVALS[interval]
    ts, trades, folded_steps = T0 + start, [], []
    last_clock = ts
    for gap, price, size, clock_ahead in steps:
        # A trade is never stamped before a bucket the clock already closed.
        ts = max(ts + gap, bucket_start(last_clock, interval_ms))
        clock = None if clock_ahead is None else ts + clock_ahead
        last_clock = max(last_clock, ts if clock is None else clock)
        trades.append((ts, price, size, price * size))
        folded_steps.append((ts, price, size, clock))
    now = last_clock + tail
    expected = build_candles(
        trades, interval_ms=interval_ms, start=0, end=now + 1, now=now
    )
    assert fold_all(folded_steps, interval_ms, now) == expected


def test_a_trade_in_a_later_bucket_closes_the_forming_candle_and_the_empty_ones():
    _, forming = candle_fold(None, (T0 + 5, 100, 2, 200), M)
    _, forming = candle_fold(forming, (T0 + 9, 90, 1, 90), M)
    closed, forming = candle_fold(forming, (T0 + 3 * M + 1, 120, 1, 120), M)
    assert closed == [
        Candle(T0, 100, 100, 90, 90, 3, 290, 2, True),
        Candle(T0 + M, 90, 90, 90, 90, 0, 0, 0, True),
        Candle(T0 + 2 * M, 90, 90, 90, 90, 0, 0, 0, True),
    ]
    assert forming == Candle(T0 + 3 * M, 120, 120, 120, 120, 1, 120, 1, False)


def test_the_first_trade_of_an_empty_carried_candle_sets_its_open_high_and_low():
    _, forming = candle_fold(None, (T0, 100, 1, 100), M)
    closed, forming = candles_roll(forming, T0 + M, M)
    assert forming == Candle(T0 + M, 100, 100, 100, 100, 0, 0, 0, False)
    _, forming = candle_fold(forming, (T0 + M + 1, 80, 1, 80), M)
    assert forming == Candle(T0 + M, 80, 80, 80, 80, 1, 80, 1, False)


def test_a_trade_of_a_closed_bucket_cannot_be_folded():
    _, forming = candle_fold(None, (T0 + M, 100, 1, 100), M)
    with pytest.raises(LateTrade):
        candle_fold(forming, (T0 + M - 1, 100, 1, 100), M)
    with pytest.raises(ValueError):
        candles_roll(forming, T0 + M, M)  # not later
    with pytest.raises(ValueError):
        candles_roll(forming, T0 + 2 * M + 1, M)  # not aligned
