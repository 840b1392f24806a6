"""Builders shared by the engine tests (plain functions, no Django)."""

from __future__ import annotations

from typing import Any

from apps.matching.engine import (
    BookConfig,
    BookDelta,
    CancelOrder,
    Command,
    Done,
    DoneReason,
    Engine,
    Event,
    OrderType,
    PlaceOrder,
    Side,
    Trade,
    buy_limit_hold,
)

BUY = Side.BUY
SELL = Side.SELL
FILLED = DoneReason.FILLED
CANCELLED = DoneReason.CANCELLED
REJECTED = DoneReason.REJECTED

# 1 tick * 1 lot = 1 quote unit keeps hand-computed numbers readable.
NO_FEES = BookConfig(
    quote_per_tick_lot=1, maker_fee_bps=0, taker_fee_bps=0, price_band_bps=1000
)
FEES = BookConfig(
    quote_per_tick_lot=1, maker_fee_bps=10, taker_fee_bps=20, price_band_bps=1000
)


class Harness:
    """An Engine that checks its invariants after every command."""

    def __init__(self, cfg: BookConfig = NO_FEES) -> None:
        self.cfg = cfg
        self.engine = Engine(cfg)
        self.ts = 0

    def do(self, cmd: Command) -> list[Event]:
        events = self.engine.process(cmd)
        self.engine.check_invariants()
        return events

    def next_ts(self) -> int:
        self.ts += 1
        return self.ts

    def limit(
        self, oid: int, acc: int, side: Side, price: int, size: int, **kw: Any
    ) -> list[Event]:
        kw.setdefault(
            "hold", buy_limit_hold(price, size, self.cfg) if side is BUY else size
        )
        kw.setdefault("ts", self.next_ts())
        return self.do(
            PlaceOrder(
                order_id=oid,
                account_id=acc,
                side=side,
                type=OrderType.LIMIT,
                price=price,
                size=size,
                **kw,
            )
        )

    def market(
        self, oid: int, acc: int, side: Side, size: int | None = None, **kw: Any
    ) -> list[Event]:
        kw.setdefault("hold", 10**12 if side is BUY else (size or 0))
        kw.setdefault("ts", self.next_ts())
        return self.do(
            PlaceOrder(
                order_id=oid,
                account_id=acc,
                side=side,
                type=OrderType.MARKET,
                size=size,
                **kw,
            )
        )

    def stop(
        self,
        oid: int,
        acc: int,
        side: Side,
        stop_price: int,
        size: int,
        price: int | None = None,
        **kw: Any,
    ) -> list[Event]:
        kind = OrderType.STOP if price is None else OrderType.STOP_LIMIT
        if side is BUY:
            hold = buy_limit_hold(price, size, self.cfg) if price else 10**12
        else:
            hold = size
        kw.setdefault("hold", hold)
        kw.setdefault("ts", self.next_ts())
        return self.do(
            PlaceOrder(
                order_id=oid,
                account_id=acc,
                side=side,
                type=kind,
                size=size,
                price=price,
                stop_price=stop_price,
                **kw,
            )
        )

    def cancel(self, oid: int, acc: int) -> list[Event]:
        return self.do(CancelOrder(oid, acc, self.next_ts()))

    def depth(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self.engine.depth(100)


def of(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if type(e) is kind]


def trades(events: list[Event]) -> list[tuple[int, int, int, int]]:
    """(maker, taker, price, size) of each trade."""
    return [
        (t.maker_order_id, t.taker_order_id, t.price, t.size) for t in of(events, Trade)
    ]


def done(events: list[Event], oid: int) -> Done:
    found = [e for e in of(events, Done) if e.order_id == oid]
    assert len(found) == 1, events
    return found[0]


def deltas(events: list[Event]) -> list[tuple[Side, int, int]]:
    return [(d.side, d.price, d.total_size) for d in of(events, BookDelta)]


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]
