"""Folding the engine's events into one batch: everything the batch's ONE
transaction writes, gathered before it begins.

The hot path of the matcher: events are dispatched on their exact type and
folded into per-order deltas, trades, balance changes and journal events
without anything the transaction does not need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.accounts.ledger import BalanceChange
from apps.markets.publish import JournalEvent
from apps.matching import engine as eng
from apps.matching.adapter import QueuedOrder, engine_hold
from apps.matching.books import PairBook
from apps.matching.settlement import release_change, trade_changes
from apps.orders.models import Order, OrderStatus

DONE_STATUS = {
    eng.DoneReason.FILLED: OrderStatus.FILLED,
    eng.DoneReason.CANCELLED: OrderStatus.CANCELLED,
    eng.DoneReason.REJECTED: OrderStatus.REJECTED,
}


@dataclass
class OrderDelta:
    """What a batch changes on one order: fills add to the row's values."""

    filled_size: int = 0
    filled_quote: int = 0
    maker_quote: int = 0
    fee: int = 0
    status: str = OrderStatus.OPEN
    reason: str = ""
    priority: int | None = None
    triggered: bool = False
    done: bool = False
    # An amend: the order's new (price, size, hold_amount), as the row keeps
    # them (ticks, lots, minor units of the held asset).
    amend: tuple[int, int, int] | None = None


@dataclass
class Batch:
    """Everything one batch writes, gathered before the transaction."""

    fee_user_id: int  # the account that collects the trades' fees
    orders: dict[int, OrderDelta] = field(default_factory=dict)
    trades: list[tuple[PairBook, eng.Trade, int]] = field(default_factory=list)
    # (change without trade id, index into trades or -1)
    changes: list[tuple[BalanceChange, int]] = field(default_factory=list)
    events: list[JournalEvent] = field(default_factory=list)
    # command id -> (result, owner epoch of its pair)
    command_results: dict[int, tuple[str, int]] = field(default_factory=dict)

    def order(self, order_id: int) -> OrderDelta:
        delta = self.orders.get(order_id)
        if delta is None:
            delta = self.orders[order_id] = OrderDelta()
        return delta

    def record(
        self, book: PairBook, events: list[Any], *, side: str | None = None
    ) -> str:
        """Fold one command's events into the batch; returns the command
        result. ``side``: an amend's order's, for releasing its hold even when
        the order already left the book."""
        result = "processed"
        entered: list[int] = []
        deltas: list[list[str]] = []
        reasons: dict[int, str] = {}
        for ev in events:
            kind = type(ev)
            if kind is eng.Trade:
                self._trade(book, ev)
            elif kind is eng.Accepted:
                entered.append(ev.order_id)
            elif kind is eng.StopTriggered:
                self.order(ev.order_id).triggered = True
                entered.append(ev.order_id)
            elif kind is eng.Rejected or kind is eng.Cancelled:
                if ev.reason is eng.Reason.DUPLICATE_ORDER_ID:
                    # Each pending order is placed once; the engine already
                    # knowing it means memory ran ahead of the database.
                    raise eng.InvariantError(f"order {ev.order_id} placed twice")
                reasons[ev.order_id] = str(ev.reason)
                if kind is eng.Cancelled and ev.reason in eng.CANCEL_REQUESTED:
                    result = "cancelled"
            elif kind is eng.Done:
                self._done(book, ev, reasons.get(ev.order_id, ""))
            elif kind is eng.BookDelta:
                deltas.append(
                    [
                        str(ev.side),
                        book.pair.format_price(ev.price),
                        book.pair.format_size(ev.total_size),
                    ]
                )
            elif kind is eng.CancelRejected:
                result = "not_open"
            elif kind is eng.Amended:
                result = self._amended(book, ev, entered)
            elif kind is eng.AmendRejected:
                assert side is not None
                result = f"rejected:{ev.reason}"
                self._release(book, ev.order_id, ev.account_id, side, ev.released)
        for order_id in entered:
            delta = self.order(order_id)
            if not delta.done:
                book.priority += 1
                delta.priority = book.priority
        if deltas:
            self._event(
                book, "book", {"changes": deltas, "prev_seq": book.last_book_seq}
            )
            book.last_book_seq = book.event_seq
        return result

    def _amended(self, book: PairBook, ev: eng.Amended, entered: list[int]) -> str:
        """An applied amend: the order's new price, size and hold, its
        excess hold released, and a new priority if it was requeued."""
        delta = self.order(ev.order_id)
        side = book.sides[ev.order_id]
        lots = (
            book.pair.lot_size
            if book.pair.held_asset_id(side) == book.pair.base_id
            else 1
        )
        delta.amend = (ev.price, ev.size, ev.hold * lots)
        delta.status = (
            OrderStatus.PARTIALLY_FILLED if ev.filled_size else OrderStatus.OPEN
        )
        if ev.requeued:
            entered.append(ev.order_id)
        self._release(book, ev.order_id, ev.account_id, side, ev.released)
        return "amended"

    def reject_unplaced(
        self, book: PairBook, order: Order | QueuedOrder, reason: str
    ) -> None:
        """Reject a pending order the engine never saw, releasing its hold."""
        delta = self.order(order.pk)
        delta.status, delta.reason, delta.done = OrderStatus.REJECTED, reason, True
        self._release(
            book, order.pk, order.user_id, order.side, engine_hold(order, book.pair)
        )

    def _release(
        self, book: PairBook, order_id: int, user_id: int, side: str, amount: int
    ) -> None:
        change = release_change(book.pair, order_id, user_id, side, amount)
        if change is not None:
            self.changes.append((change, -1))

    def _trade(self, book: PairBook, t: eng.Trade) -> None:
        book.trade_seq += 1
        index = len(self.trades)
        self.trades.append((book, t, book.trade_seq))
        maker, taker = self.order(t.maker_order_id), self.order(t.taker_order_id)
        for delta, fee in ((maker, t.maker_fee), (taker, t.taker_fee)):
            delta.filled_size += t.size
            delta.filled_quote += t.quote
            delta.fee += fee
            if not delta.done:
                delta.status = OrderStatus.PARTIALLY_FILLED
        maker.maker_quote += t.quote
        self.changes.extend(
            (row, index) for row in trade_changes(book.pair, t, self.fee_user_id)
        )
        self._event(
            book,
            "trade",
            {
                "trade_seq": book.trade_seq,
                "price": book.pair.format_price(t.price),
                "size": book.pair.format_size(t.size),
                "taker_side": str(t.taker_side),
                "ts": t.ts,
            },
        )

    def _done(self, book: PairBook, d: eng.Done, reason: str) -> None:
        delta = self.order(d.order_id)
        delta.status, delta.done = DONE_STATUS[d.reason], True
        delta.reason = "" if d.reason is eng.DoneReason.FILLED else reason
        side = book.sides.pop(d.order_id)
        self._release(book, d.order_id, d.account_id, side, d.released)

    def _event(self, book: PairBook, kind: str, payload: dict[str, Any]) -> None:
        book.event_seq += 1
        self.events.append(JournalEvent(book.pair.pk, book.event_seq, kind, payload))
