"""Translation between database rows and the pure engine's values."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from apps.core.api.formats import unix_ms
from apps.markets.models import Pair
from apps.matching import engine as eng
from apps.orders.models import Order, OrderType

SIDES = {"buy": eng.Side.BUY, "sell": eng.Side.SELL}
TYPES = {
    OrderType.LIMIT: eng.OrderType.LIMIT,
    OrderType.MARKET: eng.OrderType.MARKET,
    OrderType.STOP: eng.OrderType.STOP,
    OrderType.STOP_LIMIT: eng.OrderType.STOP_LIMIT,
}
TIFS = {
    "GTC": eng.TimeInForce.GTC,
    "IOC": eng.TimeInForce.IOC,
    "FOK": eng.TimeInForce.FOK,
}
STPS = {s.value: s for s in eng.Stp}


class QueuedOrder(NamedTuple):
    """What the matcher reads of a command's order (``place_command``,
    ``engine_hold``): an ``Order``'s attributes, as a tuple."""

    pk: int
    user_id: int
    side: str
    type: str
    time_in_force: str
    post_only: bool
    stp: str
    price: int | None
    stop_price: int | None
    size: int | None
    funds: int | None
    hold_amount: int
    status: str
    created_at: datetime


class QueuedCommand(NamedTuple):
    """An unprocessed ``OrderCommand`` with its order (``fetch``)."""

    pk: int
    kind: str
    pair_id: int
    order_id: int
    created_at: datetime
    cancel_reason: str
    amend_price: int | None
    amend_size: int | None
    hold_add: int
    order: QueuedOrder


# OrderCommand.cancel_reason -> the engine's reason ("" is the common case).
CANCEL_REASONS = {"": eng.Reason.USER_CANCELLED} | {
    r.value: r for r in eng.CANCEL_REQUESTED
}


def cancel_command(command: QueuedCommand) -> eng.CancelOrder:
    """A queued cancel as the engine takes it. An unknown reason raises
    (KeyError): the batch fails loudly, never cancels under a wrong reason."""
    return eng.CancelOrder(
        command.order_id,
        command.order.user_id,
        unix_ms(command.created_at),
        CANCEL_REASONS[command.cancel_reason],
    )


def engine_units(pair: Pair, side: str, amount: int) -> int:
    """An amount of an order's held asset (minor units, as rows keep it) in
    engine units: quote minor units (buy) or lots (sell)."""
    if pair.held_asset_id(side) == pair.base_id:
        return amount // pair.lot_size
    return amount


def engine_hold(order: Order | QueuedOrder, pair: Pair) -> int:
    """The order's hold in engine units: quote minor units (buy) or lots (sell)."""
    return engine_units(pair, order.side, order.hold_amount)


def place_command(order: Order | QueuedOrder, pair: Pair) -> eng.PlaceOrder:
    return eng.PlaceOrder(
        order_id=order.pk,
        account_id=order.user_id,
        side=SIDES[order.side],
        type=TYPES[OrderType(order.type)],
        size=order.size,
        price=order.price,
        funds=order.funds,
        stop_price=order.stop_price,
        tif=TIFS[order.time_in_force],
        post_only=order.post_only,
        stp=STPS[order.stp],
        hold=engine_hold(order, pair),
        ts=unix_ms(order.created_at),
    )


def amend_command(command: QueuedCommand, pair: Pair) -> eng.AmendOrder:
    """The engine's AmendOrder of a queued amend: its ``hold_add`` in engine
    units (quote minor units for a buy, lots for a sell)."""
    order = command.order
    assert command.amend_price is not None and command.amend_size is not None
    return eng.AmendOrder(
        order_id=order.pk,
        account_id=order.user_id,
        price=command.amend_price,
        size=command.amend_size,
        hold_add=engine_units(pair, order.side, command.hold_add),
        post_only=order.post_only,
        ts=unix_ms(command.created_at),
    )
