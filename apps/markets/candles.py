"""Candles (OHLCV) from the trade journal: pure Python, no Django, no clock.

The REST endpoint and the live ``candles`` channel both build candles here, so
the same trades always give the same candles, and a restart rebuilds them
identically by replaying the journal.

Rules:

- Buckets are aligned to the Unix epoch in UTC: a candle of interval ``I``
  starts at a multiple of ``I`` milliseconds (1d starts at UTC midnight).
- A trade belongs to the bucket of its timestamp; within a bucket, open is the
  first trade and close the last in the order given, which must be the
  pair's trade sequence (``seq``): one matcher batch stamps all its trades with
  the same time, so timestamps cannot order them.
- A bucket without trades is a candle with open = high = low = close = the
  previous candle's close, zero volumes and zero trades.
- No candle is emitted before the pair's first trade (there is no price yet),
  nor for a bucket that starts after ``now`` (the future has no candles).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MINUTE_MS = 60_000
INTERVALS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": 1_440 * MINUTE_MS,
}

# (timestamp in Unix ms, price in ticks, size in lots, quote in minor units)
TradeRow = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Candle:
    """One bucket: prices in ticks, ``volume`` in lots, ``quote_volume`` in
    quote minor units, ``start`` in Unix ms. ``closed`` once ``now`` has
    reached the bucket's end: a closed candle never changes again."""

    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int
    closed: bool


def bucket_start(ts_ms: int, interval_ms: int) -> int:
    """The start of the bucket holding ``ts_ms`` (floor to a multiple)."""
    return ts_ms - ts_ms % interval_ms


def first_bucket_at_or_after(ts_ms: int, interval_ms: int) -> int:
    """The first bucket start >= ``ts_ms`` (ceiling to a multiple)."""
    return -(-ts_ms // interval_ms) * interval_ms


class _Bucket:
    """Running OHLCV of one bucket while trades arrive in sequence order."""

    __slots__ = ("open", "high", "low", "close", "volume", "quote", "trades")

    def __init__(self, price: int) -> None:
        self.open = self.high = self.low = self.close = price
        self.volume = self.quote = self.trades = 0

    def add(self, price: int, size: int, quote: int) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += size
        self.quote += quote
        self.trades += 1


def build_candles(
    trades: Iterable[TradeRow],
    *,
    interval_ms: int,
    start: int,
    end: int,
    now: int,
) -> list[Candle]:
    """The candles whose start lies in [``start``, ``end``) and is <= ``now``,
    oldest first, from ``trades`` in trade-sequence order.

    Trades before ``start`` are not emitted but set the close that empty
    buckets carry: pass at least the whole last traded bucket before
    ``start`` (the selector does), or every trade for a rebuild. A candle
    that starts before ``end`` holds all of its bucket's trades; trades of
    later buckets are ignored. ``interval_ms`` > 0; ``start`` need not be
    aligned (candles start at the first bucket boundary >= ``start``). The
    work is O(trades + candles): the caller bounds the window.
    """
    if interval_ms <= 0:
        raise ValueError("interval_ms must be positive")
    first = first_bucket_at_or_after(start, interval_ms)
    stop = min(end, now + 1)
    buckets: dict[int, _Bucket] = {}
    for ts, price, size, quote in trades:
        key = bucket_start(ts, interval_ms)
        if key >= stop:
            continue
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(price)
        bucket.add(price, size, quote)
    carry: int | None = None
    for key in sorted(buckets):
        if key >= first:
            break
        carry = buckets[key].close
    if carry is None:  # nothing traded before: start at the first trade
        first = min((key for key in buckets if key >= first), default=stop)
    candles: list[Candle] = []
    for key in range(first, stop, interval_ms):
        bucket = buckets.get(key)
        if bucket is not None:
            carry = bucket.close
            candles.append(_candle(key, bucket, interval_ms, now))
        elif carry is not None:
            empty = _Bucket(carry)
            candles.append(_candle(key, empty, interval_ms, now))
    return candles


def _candle(key: int, bucket: _Bucket, interval_ms: int, now: int) -> Candle:
    return Candle(
        start=key,
        open=bucket.open,
        high=bucket.high,
        low=bucket.low,
        close=bucket.close,
        volume=bucket.volume,
        quote_volume=bucket.quote,
        trades=bucket.trades,
        closed=key + interval_ms <= now,
    )


# ------------------------------------------------------------------ folding
#
# The live ``candles`` channel keeps one forming candle per (pair, interval)
# and folds each new trade into it, instead of rebuilding from the trades.
# These functions are that fold; it gives exactly what ``build_candles``
# gives for the same trades (a property test holds them together).


class LateTrade(ValueError):
    """A trade of a bucket before the forming candle's: that bucket was
    already closed, so the fold cannot take it (rebuild from the trades)."""


def candle_first(start: int, price: int, size: int, quote: int) -> Candle:
    """The forming candle of bucket ``start`` whose first trade this is."""
    return Candle(start, price, price, price, price, size, quote, 1, False)


def candle_add(candle: Candle, price: int, size: int, quote: int) -> Candle:
    """``candle`` with one more trade, the latest by trade sequence."""
    return Candle(
        start=candle.start,
        open=candle.open if candle.trades else price,
        high=max(candle.high, price) if candle.trades else price,
        low=min(candle.low, price) if candle.trades else price,
        close=price,
        volume=candle.volume + size,
        quote_volume=candle.quote_volume + quote,
        trades=candle.trades + 1,
        closed=False,
    )


def candles_roll(
    forming: Candle, to_start: int, interval_ms: int
) -> tuple[list[Candle], Candle]:
    """Close ``forming`` and every bucket after it before ``to_start``: the
    closed candles, oldest first (the empty ones carry the close), and the
    new forming candle of bucket ``to_start``, empty. ``to_start`` is an
    aligned bucket start after ``forming.start``."""
    if to_start <= forming.start or to_start % interval_ms:
        raise ValueError("to_start must be a later aligned bucket start")
    carry = forming.close
    closed = [_closed(forming)]
    for start in range(forming.start + interval_ms, to_start, interval_ms):
        closed.append(Candle(start, carry, carry, carry, carry, 0, 0, 0, True))
    return closed, Candle(to_start, carry, carry, carry, carry, 0, 0, 0, False)


def candle_fold(
    forming: Candle | None, trade: TradeRow, interval_ms: int
) -> tuple[list[Candle], Candle]:
    """Fold the pair's next trade (by trade sequence) into the forming
    candle (None before the pair's first trade): the candles it closes,
    oldest first, and the new forming candle. ``LateTrade`` for a trade of
    a bucket before the forming one's."""
    ts, price, size, quote = trade
    start = bucket_start(ts, interval_ms)
    if forming is None:
        return [], candle_first(start, price, size, quote)
    if start < forming.start:
        raise LateTrade(f"trade at {ts} is before bucket {forming.start}")
    closed: list[Candle] = []
    if start > forming.start:
        closed, forming = candles_roll(forming, start, interval_ms)
    return closed, candle_add(forming, price, size, quote)


def _closed(candle: Candle) -> Candle:
    return Candle(
        candle.start,
        candle.open,
        candle.high,
        candle.low,
        candle.close,
        candle.volume,
        candle.quote_volume,
        candle.trades,
        True,
    )
