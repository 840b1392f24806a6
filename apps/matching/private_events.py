"""The private events of a matcher batch (docs/architecture.md, "Private
events journal"): each order it changes and each trade side, built from the
rows its writes returned, for the ledger to journal with the ``balances``
events in the batch's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from apps.accounts.ledger import NewEvent
from apps.markets.models import Pair
from apps.matching.batch import Batch
from apps.orders.wire import fill_body, fill_event, order_event


class OrderRow(NamedTuple):
    """An order's row as the batch left it: what ``order_body`` reads."""

    id: int
    uuid: uuid.UUID
    user_id: int
    pair_id: int
    client_order_id: str | None
    side: str
    type: str
    time_in_force: str
    post_only: bool
    stp: str
    price: int | None
    stop_price: int | None
    size: int | None
    funds: int | None
    filled_size: int
    filled_quote: int
    fee: int
    hold_amount: int
    status: str
    reject_reason: str
    triggered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None


def account_events(
    batch: Batch, orders: dict[int, OrderRow], pairs: dict[int, Pair]
) -> list[NewEvent]:
    """The batch's ``orders`` events (each changed order's state after the
    batch, its REST body) and ``fills`` events (each trade's maker and taker
    side, to its user); the ledger adds the ``balances`` events."""
    events = [order_event(row, pairs[row.pair_id]) for row in orders.values()]
    for book, t, seq in batch.trades:
        pair, taker_side = book.pair, str(t.taker_side)
        for maker, order_id, fee in (
            (True, t.maker_order_id, t.maker_fee),
            (False, t.taker_order_id, t.taker_fee),
        ):
            row = orders[order_id]
            body = fill_body(
                pair,
                trade_seq=seq,
                maker=maker,
                taker_side=taker_side,
                order_uuid=row.uuid,
                price=t.price,
                size=t.size,
                quote_units=t.quote,
                fee=fee,
            )
            events.append(
                fill_event(
                    row.user_id, body, client_order_id=row.client_order_id, ts=t.ts
                )
            )
    return events
