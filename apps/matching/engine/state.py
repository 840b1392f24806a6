"""The engine's state and everything off the hot path: restore after a
restart, read-only queries, the state hash and the invariant checks.

``Engine`` (engine.py) adds command processing on top of ``BookState``.
"""

from __future__ import annotations

import hashlib

from .book import BookSide, Order
from .commands import PlaceOrder
from .fees import buy_cover_needed
from .match import Matcher
from .stops import StopBook
from .types import BookConfig, InvariantError, OpenOrder, OrderType, Side, Stp
from .validate import is_valid


class BookState:
    """One pair's resting orders, untriggered stops and last trade price."""

    def __init__(self, cfg: BookConfig) -> None:
        self.cfg = cfg
        self._m = Matcher(cfg)
        self._stops = StopBook()

    # ------------------------------------------------------------- restore
    def restore_resting(
        self,
        *,
        order_id: int,
        account_id: int,
        side: Side,
        price: int,
        remaining_size: int,
        hold: int,
        ts: int,
        stp: Stp = Stp.CANCEL_NEWEST,
        filled_size: int = 0,
        taker_quote: int = 0,
        maker_quote: int = 0,
        fee_total: int = 0,
    ) -> None:
        """Rebuild a resting order after a restart, without events.

        Call in priority order (docs/matching-engine.md says how to recover
        it).  ``hold`` is the order's original hold; what it already spent
        is derived from the fill state (buy: taker_quote + maker_quote +
        fee_total; sell: filled_size).  Raises ValueError on a row the book
        cannot hold: duplicate id, crossing the book, hold not covering it.
        """
        m = self._m
        if order_id in m.index or order_id in self._stops.by_id:
            raise ValueError(f"duplicate order id {order_id}")
        if price <= 0 or remaining_size <= 0:
            raise ValueError(f"order {order_id}: price and size must be positive")
        if min(filled_size, taker_quote, maker_quote) < 0:
            raise ValueError(f"order {order_id}: negative fill state")
        is_buy = side is Side.BUY
        opp = m.asks if is_buy else m.bids
        if opp.keys and opp.keys[0] <= opp.sign * price:
            raise ValueError(f"order {order_id} at {price} would cross the book")
        o = Order(
            order_id, account_id, is_buy, price, remaining_size, hold, hold, ts, stp
        )
        o.filled_size = filled_size
        o.taker_quote = taker_quote
        o.maker_quote = maker_quote
        o.fee = fee_total
        o.spent = taker_quote + maker_quote + fee_total if is_buy else filled_size
        if hold - o.spent < _cover_needed(o, self.cfg):
            raise ValueError(f"order {order_id}: hold does not cover its remainder")
        (m.bids if is_buy else m.asks).add(o)
        m.index[order_id] = o

    def restore_stop(self, cmd: PlaceOrder) -> None:
        """Rebuild an untriggered stop after a restart, without events.

        Stops are kept in trigger order whatever the call order.  Raises
        ValueError if ``cmd`` is not a valid stop or its id is taken.
        """
        if cmd.type is not OrderType.STOP and cmd.type is not OrderType.STOP_LIMIT:
            raise ValueError(f"order {cmd.order_id} is not a stop")
        if not is_valid(cmd):
            raise ValueError(f"stop {cmd.order_id} is invalid")
        if cmd.order_id in self._m.index or cmd.order_id in self._stops.by_id:
            raise ValueError(f"duplicate order id {cmd.order_id}")
        self._stops.add(cmd)

    def set_last_price(self, price: int | None) -> None:
        """Set the last trade price (after a restart); triggers nothing."""
        self._m.last = price

    # ------------------------------------------------------------- queries
    @property
    def last_price(self) -> int | None:
        """Price of the most recent trade, if any."""
        return self._m.last

    def best_bid(self) -> int | None:
        """Highest bid price, or None."""
        return self._m.bids.best()

    def best_ask(self) -> int | None:
        """Lowest ask price, or None."""
        return self._m.asks.best()

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``n`` aggregated levels per side: (bids, asks) of (price, size)."""
        return self._m.bids.depth(n), self._m.asks.depth(n)

    def open_order(self, order_id: int) -> OpenOrder | None:
        """Snapshot of a resting order, or None (stops: see stop_order)."""
        o = self._m.index.get(order_id)
        return _snapshot(o) if o is not None else None

    def stop_order(self, order_id: int) -> PlaceOrder | None:
        """The command of an untriggered stop, or None."""
        return self._stops.by_id.get(order_id)

    def resting_orders(self) -> list[OpenOrder]:
        """All resting orders in priority order: bids best first, then asks."""
        m = self._m
        return [_snapshot(o) for o in _side_orders(m.bids) + _side_orders(m.asks)]

    def stop_orders(self) -> list[PlaceOrder]:
        """All untriggered stops in trigger order (buys, then sells)."""
        return self._stops.ordered()

    # ------------------------------------------------------ hash, checks
    def state_hash(self) -> str:
        """SHA-256 over a canonical text of the state that matters for the
        future: resting orders in priority order with their fill and hold
        state, untriggered stops, last price.  Not history: a book rebuilt
        with restore_* hashes the same as the original."""
        m = self._m
        h = hashlib.sha256()
        h.update(f"last={m.last}\n".encode())
        for tag, side in (("B", m.bids), ("S", m.asks)):
            for o in _side_orders(side):
                h.update(
                    f"{tag}|{o.order_id}|{o.account_id}|{o.price}|{o.remaining}|"
                    f"{o.filled_size}|{o.hold}|{o.spent}|{o.taker_quote}|"
                    f"{o.maker_quote}|{o.fee}|{o.ts}\n".encode()
                )
        for c in self._stops.ordered():
            h.update(
                f"T|{c.order_id}|{c.account_id}|{c.side.value}|{c.type.value}|"
                f"{c.size}|{c.price}|{c.funds}|{c.stop_price}|{c.tif.value}|"
                f"{int(c.post_only)}|{c.stp.value}|{c.hold}|{c.ts}\n".encode()
            )
        return h.hexdigest()

    def check_invariants(self) -> None:
        """Raise InvariantError if book, index, stops or holds disagree:
        level totals equal their orders, index equals the book, never
        crossed at rest, spent <= hold and every remainder still covered."""
        m = self._m
        if m.bids.check(m.index) + m.asks.check(m.index) != len(m.index):
            raise InvariantError("index holds orders that are not in the book")
        bid, ask = m.bids.best(), m.asks.best()
        if bid is not None and ask is not None and bid >= ask:
            raise InvariantError(f"book crossed at rest: bid {bid} >= ask {ask}")
        for o in m.index.values():
            if not 0 <= o.spent <= o.hold:
                raise InvariantError(f"order {o.order_id}: spent {o.spent} > hold")
            if o.hold - o.spent < _cover_needed(o, self.cfg):
                raise InvariantError(f"order {o.order_id}: hold no longer covers it")
            paid = o.taker_quote + o.maker_quote + o.fee
            if o.spent != (paid if o.is_buy else o.filled_size):
                raise InvariantError(f"order {o.order_id}: spent drifted")
        self._stops.check()
        if any(oid in m.index for oid in self._stops.by_id):
            raise InvariantError("an id is both resting and a stop")
        if m.touched:
            raise InvariantError("touched levels left over after a command")


def _snapshot(o: Order) -> OpenOrder:
    return OpenOrder(
        order_id=o.order_id,
        account_id=o.account_id,
        side=Side.BUY if o.is_buy else Side.SELL,
        price=o.price,
        remaining_size=o.remaining,
        hold=o.hold,
        ts=o.ts,
        stp=o.stp,
        filled_size=o.filled_size,
        taker_quote=o.taker_quote,
        maker_quote=o.maker_quote,
        fee_total=o.fee,
        spent=o.spent,
    )


def _side_orders(side: BookSide) -> list[Order]:
    return [o for lvl in side.iter_levels() for o in lvl.live()]


def _cover_needed(o: Order, cfg: BookConfig) -> int:
    """What a resting order's remainder may still spend, worst case."""
    if not o.is_buy:
        return o.remaining
    return buy_cover_needed(
        o.remaining, o.price, o.taker_quote, o.maker_quote, o.fee, cfg
    )
