"""Reads of assets and pairs, and the public market data: order book, trades,
ticker, candles. Amounts come back as integers of the pair's grid (ticks, lots, minor
units); the API edge formats them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min, QuerySet, Sum

from apps.core.api.formats import from_unix_ms, unix_ms
from apps.core.errors import DomainError, ErrorCode
from apps.core.middleware import now_ms
from apps.markets.candles import (
    Candle,
    TradeRow,
    bucket_start,
    build_candles,
    first_bucket_at_or_after,
)
from apps.markets.models import Asset, MarketEvent, Pair
from apps.orders.models import Order, OrderStatus, OrderType, Trade

_SYMBOL_TEXT = re.compile(r"\A[A-Za-z0-9_.-]{1,32}\Z")
_ASSET_TEXT = re.compile(r"\A[A-Za-z0-9_.-]{1,16}\Z")


def _printable(text: object, limit: int) -> str:
    return str(text)[:limit].encode("ascii", "replace").decode()


def pair_get(*, symbol: str) -> Pair:
    """The pair by symbol (case-insensitive), or MARKET_NOT_FOUND. Text that
    cannot be a symbol (too long, NUL or other bytes PostgreSQL refuses) is
    refused before it reaches the database."""
    pair = None
    if isinstance(symbol, str) and _SYMBOL_TEXT.match(symbol):
        pair = (
            Pair.objects.select_related("base", "quote")
            .filter(symbol=symbol.upper())
            .first()
        )
    if pair is None:
        shown = _printable(symbol, 32)
        raise DomainError(
            f"No market {shown!r}.",
            code=ErrorCode.MARKET_NOT_FOUND,
            details={"pair": shown},
        )
    return pair


# Pairs change rarely (status, band) and every order reads one: order
# placement reuses what this process read for PAIR_MEMO_S. A halt still
# applies at once where it matters: the matcher re-reads statuses before every
# batch and rejects what was queued after it.
PAIR_MEMO_S = 1.0
_pair_memo: dict[str, tuple[float, Pair]] = {}


def pair_get_for_trading(*, symbol: str) -> Pair:
    """``pair_get``, memoised per process for PAIR_MEMO_S (order placement)."""
    key = symbol.upper() if isinstance(symbol, str) else ""
    memo = _pair_memo.get(key)
    now = time.monotonic()
    if memo is not None and now - memo[0] < PAIR_MEMO_S:
        return memo[1]
    pair = pair_get(symbol=symbol)
    _pair_memo[key] = (now, pair)
    return pair


def asset_get(*, code: str) -> Asset:
    """The asset by code (case-insensitive), or ACCOUNT_ASSET_NOT_FOUND."""
    asset = None
    if isinstance(code, str) and _ASSET_TEXT.match(code):
        asset = Asset.objects.filter(code=code.upper()).first()
    if asset is None:
        shown = _printable(code, 16)
        raise DomainError(
            f"No asset {shown!r}.",
            code=ErrorCode.ACCOUNT_ASSET_NOT_FOUND,
            details={"asset": shown},
        )
    return asset


def pair_list() -> list[Pair]:
    """Every pair with its assets, by symbol."""
    return list(Pair.objects.select_related("base", "quote").order_by("symbol"))


# --------------------------------------------------------------- order book

Level = tuple[int, int]  # (price in ticks, size in lots)


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Aggregated levels of a pair's resting book and the pair's MarketEvent
    sequence they correspond to. Bids high -> low, asks low -> high."""

    bids: list[Level]
    asks: list[Level]
    sequence: int


# One statement on purpose. The matcher writes order states and the pair's
# MarketEvents in ONE transaction, and a single SELECT reads one snapshot of the
# database (PostgreSQL takes a snapshot per statement under READ COMMITTED;
# SQLite holds one read transaction for the statement, and WAL readers see only
# whole commits). So the levels and the sequence returned together always
# describe the same moment: a client applying stream deltas with seq > sequence
# to these levels can never double-apply or miss one. Two separate queries
# could straddle a matcher commit.
#
# A resting order is live (open / partially filled), has a book priority, and is
# a limit order or a triggered stop-limit (untriggered stops are not in the book).
_LIVE_RESTING = """
    pair_id = %s AND status IN (%s, %s) AND priority IS NOT NULL
    AND (type = %s OR (type = %s AND triggered_at IS NOT NULL))"""

_SNAPSHOT_SQL = """
SELECT side, price, size FROM (
    SELECT side, price, CAST(SUM(size - filled_size) AS BIGINT) AS size
    FROM {orders} WHERE {live} AND side = %s
    GROUP BY side, price ORDER BY price DESC {limit}
) AS bids
UNION ALL
SELECT side, price, size FROM (
    SELECT side, price, CAST(SUM(size - filled_size) AS BIGINT) AS size
    FROM {orders} WHERE {live} AND side = %s
    GROUP BY side, price ORDER BY price ASC {limit}
) AS asks
UNION ALL
SELECT 'seq', COALESCE(MAX(seq), 0), 0 FROM {events} WHERE pair_id = %s
"""


def orderbook_snapshot(*, pair: Pair, depth: int | None) -> BookSnapshot:
    """The top ``depth`` price levels per side (sizes summed over the orders
    resting at each price, in lots) and the pair's book sequence, read in one
    SQL statement (see the comment above ``_SNAPSHOT_SQL``). ``depth`` >= 1,
    or None for every level (the streams hub's whole book)."""
    live_params = [
        pair.pk,
        OrderStatus.OPEN.value,
        OrderStatus.PARTIALLY_FILLED.value,
        OrderType.LIMIT.value,
        OrderType.STOP_LIMIT.value,
    ]
    sql = _SNAPSHOT_SQL.format(
        orders=connection.ops.quote_name(Order._meta.db_table),
        events=connection.ops.quote_name(MarketEvent._meta.db_table),
        live=_LIVE_RESTING,
        limit="" if depth is None else "LIMIT %s",
    )
    limit = [] if depth is None else [depth]
    params = [*live_params, "buy", *limit, *live_params, "sell", *limit, pair.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    levels = {"buy": [], "sell": []}  # type: dict[str, list[Level]]
    sequence = 0
    for side, price, size in rows:
        if side == "seq":
            sequence = int(price)
        else:
            levels[side].append((int(price), int(size)))
    bids = sorted(levels["buy"], reverse=True)
    asks = sorted(levels["sell"])
    return BookSnapshot(bids=bids, asks=asks, sequence=sequence)


# --------------------------------------------------------------- trades, ticker

TICKER_WINDOW = timedelta(hours=24)


def trades_recent(*, pair: Pair, limit: int) -> list[Trade]:
    """The pair's last ``limit`` trades, newest first."""
    return list(Trade.objects.filter(pair=pair).order_by("-seq")[:limit])


@dataclass(frozen=True, slots=True)
class TickerStats:
    """Integers of the pair's grid: prices in ticks, sizes in lots, quote in
    quote minor units. ``None`` where the market has no trade to say it."""

    last_price: int | None
    last_size: int | None
    open: int | None  # first trade of the window
    high: int | None
    low: int | None
    close: int | None  # last trade of the window
    base_volume: int  # lots
    quote_volume: int  # quote minor units
    book: BookSnapshot  # depth 1: best bid and ask, and the book sequence


def ticker_get(*, pair: Pair, now: datetime) -> TickerStats:
    """Last trade, 24-hour statistics over trades created in (now - 24h, now],
    and the best bid/ask with the book sequence (one consistent statement of
    their own; the trade figures may be a commit newer than ``sequence``)."""
    trades = Trade.objects.filter(pair=pair)
    last = trades.order_by("-seq").values("price", "size").first()
    window = trades.filter(created_at__gt=now - TICKER_WINDOW, created_at__lte=now)
    stats = window.aggregate(
        high=Max("price"),
        low=Min("price"),
        base=Sum("size"),
        quote=Sum("quote"),
        first=Min("seq"),
        last=Max("seq"),
    )
    ends: dict[int, int] = {}
    if stats["first"] is not None:
        bounds = trades.filter(seq__in={stats["first"], stats["last"]})
        ends = dict(bounds.values_list("seq", "price"))
    return TickerStats(
        last_price=last["price"] if last else None,
        last_size=last["size"] if last else None,
        open=ends.get(stats["first"]),
        high=stats["high"],
        low=stats["low"],
        close=ends.get(stats["last"]),
        base_volume=int(stats["base"] or 0),
        quote_volume=int(stats["quote"] or 0),
        book=orderbook_snapshot(pair=pair, depth=1),
    )


# --------------------------------------------------------------- candles


def candles_for_pair(
    *,
    pair: Pair,
    interval_ms: int,
    start: int | None,
    end: int | None,
    limit: int,
    now: int,
) -> list[Candle]:
    """At most ``limit`` candles of ``interval_ms``, oldest first, whose start
    (Unix ms) lies in [``start``, ``end``) and is at most ``now``: the first
    ``limit`` from ``start`` (or from the pair's first trade, if later) when it
    is given, else the last ``limit`` before ``end`` (default: up to ``now``).

    Built by ``apps.markets.candles`` from the trades of the window only, plus
    the last traded bucket before it for the close that empty buckets carry;
    every read is a range of the (pair, created_at) index, never a scan of
    the pair's trades. ``limit`` >= 1; times >= 0."""
    stop = now + 1 if end is None else min(end, now + 1)
    last = bucket_start(stop - 1, interval_ms)
    if start is not None:
        first = first_bucket_at_or_after(start, interval_ms)
    else:
        first = max(0, last - (limit - 1) * interval_ms)
    if stop <= 0 or first > last:
        return []
    trades = Trade.objects.filter(pair=pair)
    before = _trade_time(trades.filter(created_at__lt=from_unix_ms(first)), "-")
    if before is None and start is not None:
        # No candle exists before the first trade: the page begins there.
        after = _trade_time(trades.filter(created_at__gte=from_unix_ms(first)), "")
        if after is None:
            return []
        first = max(first, bucket_start(after, interval_ms))
    if start is not None:
        last = min(last, first + (limit - 1) * interval_ms)
    if first > last:
        return []
    # Every trade before ``first`` lies at or before ``before``, so the rows
    # from its bucket on are that whole bucket (for the carried close) and
    # the window.
    low = first if before is None else bucket_start(before, interval_ms)
    rows = (
        trades.filter(
            created_at__gte=from_unix_ms(low),
            created_at__lt=from_unix_ms(last + interval_ms),
        )
        .order_by("seq")
        .values_list("created_at", "price", "size", "quote")
    )
    return build_candles(
        _trade_rows(rows.iterator(chunk_size=2_000)),
        interval_ms=interval_ms,
        start=first,
        end=last + 1,
        now=now,
    )


def _trade_time(trades: QuerySet[Trade], direction: str) -> int | None:
    """Unix ms of the earliest ("") or latest ("-") of ``trades``."""
    moment = (
        trades.order_by(f"{direction}created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if moment is None else unix_ms(moment)


def _trade_rows(rows: Iterator[tuple[datetime, int, int, int]]) -> Iterator[TradeRow]:
    for created_at, price, size, quote in rows:
        yield unix_ms(created_at), price, size, quote


def market_event_last_seq(*, pair_id: int) -> int:
    """The pair's last journaled event sequence (0 before any)."""
    return (
        MarketEvent.objects.filter(pair_id=pair_id)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
        or 0
    )


def market_events_after(
    *, pair_id: int, after: int, limit: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """(seq, type, payload) of the pair's events after ``after``, in order, at
    most ``limit`` (the streams' journal reader; the (pair, seq) index)."""
    return list(
        MarketEvent.objects.filter(pair_id=pair_id, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "type", "payload")[:limit]
    )


# --------------------------------------------------------------- live feeds


@contextmanager
def one_snapshot() -> Iterator[None]:
    """Every read inside sees one committed state of the database, so
    figures read by several statements belong to one journal ``seq``.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction (its snapshot is
    taken by the first statement). SQLite: a DEFERRED transaction, whose
    first read pins one WAL snapshot; ``atomic()`` would BEGIN IMMEDIATE
    (the settings' transaction_mode) and take the write lock the matcher
    needs, so it is begun and ended by hand, read-only."""
    if connection.in_atomic_block:  # already one transaction (tests)
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                )
            yield
    else:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")


def ticker_get_exact(*, pair: Pair) -> tuple[TickerStats, int]:
    """``ticker_get`` read in one snapshot, and the server time (Unix ms)
    its 24-hour window ends at: every figure is as of the journal seq
    ``stats.book.sequence`` (the ``ticker`` channel's ``seq``)."""
    with one_snapshot():
        market_event_last_seq(pair_id=pair.pk)  # pins the snapshot first
        # The clock after the snapshot: no trade it holds is stamped later.
        server_time = now_ms()
        return ticker_get(pair=pair, now=from_unix_ms(server_time)), server_time


@dataclass(frozen=True, slots=True)
class CandlesNow:
    """The last closed and the forming candle as ``GET /v1/candles`` gives
    them (none before the pair's first trade), exactly as of the journal
    ``seq``; ``trade_seq`` is the last trade they hold (0 for none)."""

    candles: list[Candle]
    seq: int
    trade_seq: int


def candles_now(*, pair: Pair, interval_ms: int) -> CandlesNow:
    """The ``candles`` channel's starting point: ``candles_for_pair`` with
    ``limit`` 2, read in one snapshot. Its "now" is never before the last
    trade's time, so every trade it holds is in a candle."""
    with one_snapshot():
        seq = market_event_last_seq(pair_id=pair.pk)  # pins the snapshot first
        last = trades_recent(pair=pair, limit=1)
        now = now_ms()
        if last:
            now = max(now, unix_ms(last[0].created_at))
        candles = candles_for_pair(
            pair=pair, interval_ms=interval_ms, start=None, end=None, limit=2, now=now
        )
    return CandlesNow(candles, seq, last[0].seq if last else 0)
