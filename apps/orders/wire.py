"""How an order and a fill look on the wire, as plain functions: the REST
bodies (``api/serializers.py``) and the private ``orders`` and ``fills``
events (the order path, the matcher) are built here, so they cannot drift.

An order is anything with an ``Order``'s attributes (``OrderFields``): the
matcher passes the rows its UPDATE returned, without a model instance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from apps.accounts.journal import NewEvent
from apps.accounts.models import AccountChannel
from apps.core.api.formats import iso_utc
from apps.core.money import format_units
from apps.markets.models import Pair


class OrderFields(Protocol):
    """What ``order_body`` reads of an order."""

    @property
    def uuid(self) -> UUID: ...
    @property
    def user_id(self) -> int: ...
    @property
    def client_order_id(self) -> str | None: ...
    @property
    def side(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def time_in_force(self) -> str: ...
    @property
    def post_only(self) -> bool: ...
    @property
    def stp(self) -> str: ...
    @property
    def price(self) -> int | None: ...
    @property
    def stop_price(self) -> int | None: ...
    @property
    def size(self) -> int | None: ...
    @property
    def funds(self) -> int | None: ...
    @property
    def filled_size(self) -> int: ...
    @property
    def filled_quote(self) -> int: ...
    @property
    def fee(self) -> int: ...
    @property
    def hold_amount(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def reject_reason(self) -> str: ...
    @property
    def triggered_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def done_at(self) -> datetime | None: ...


def _price(pair: Pair, ticks: int | None) -> str | None:
    return None if ticks is None else pair.format_price(ticks)


def _size(pair: Pair, lots: int | None) -> str | None:
    return None if lots is None else pair.format_size(lots)


def _quote(pair: Pair, units: int | None) -> str | None:
    return None if units is None else format_units(units, pair.quote.scale)


def average_price(pair: Pair, filled_quote: int, filled_lots: int) -> str | None:
    """Volume-weighted fill price, rounded down to the quote asset's scale."""
    if not filled_lots:
        return None
    base_units = filled_lots * pair.lot_size
    return format_units(
        filled_quote * 10**pair.base.scale // base_units, pair.quote.scale
    )


def order_body(order: OrderFields, pair: Pair) -> dict[str, Any]:
    """The order as ``GET /v1/orders/{id}`` returns it (without ``fills``),
    and as the ``orders`` channel's payload. ``pair`` is the order's, with
    its base and quote assets loaded."""
    size = order.size
    return {
        "id": str(order.uuid),
        "client_order_id": order.client_order_id,
        "pair": pair.symbol,
        "side": order.side,
        "type": order.type,
        "time_in_force": order.time_in_force,
        "post_only": order.post_only,
        "stp": order.stp,
        "price": _price(pair, order.price),
        "stop_price": _price(pair, order.stop_price),
        "size": _size(pair, size),
        "funds": _quote(pair, order.funds),
        "filled_size": pair.format_size(order.filled_size),
        "remaining_size": None
        if size is None
        else pair.format_size(size - order.filled_size),
        "filled_quote": _quote(pair, order.filled_quote),
        "average_price": average_price(pair, order.filled_quote, order.filled_size),
        "fee": _quote(pair, order.fee),
        "fee_asset": pair.quote.code,
        "held": format_units(order.hold_amount, pair.held_asset(order.side).scale),
        "status": order.status,
        "reason": order.reject_reason,
        "triggered": order.triggered_at is not None,
        "created_at": iso_utc(order.created_at),
        "updated_at": iso_utc(order.updated_at),
        "done_at": iso_utc(order.done_at) if order.done_at else None,
    }


def order_event(order: OrderFields, pair: Pair) -> NewEvent:
    """The ``orders`` channel's event of the order's current state."""
    return NewEvent(order.user_id, AccountChannel.ORDERS, order_body(order, pair))


def fill_body(
    pair: Pair,
    *,
    trade_seq: int,
    maker: bool,
    taker_side: str,
    order_uuid: UUID,
    price: int,
    size: int,
    quote: int,
    fee: int,
) -> dict[str, Any]:
    """One side of a trade as ``GET /v1/fills`` returns it (without its
    ``time``) and as the ``fills`` channel's payload: ``trade_id`` is the
    pair's trade sequence, the maker's side the opposite of the taker's."""
    return {
        "trade_id": trade_seq,
        "order_id": str(order_uuid),
        "pair": pair.symbol,
        "side": ("sell" if taker_side == "buy" else "buy") if maker else taker_side,
        "liquidity": "maker" if maker else "taker",
        "price": pair.format_price(price),
        "size": pair.format_size(size),
        "quote": format_units(quote, pair.quote.scale),
        "fee": format_units(fee, pair.quote.scale),
        "fee_asset": pair.quote.code,
    }


def fill_event(
    user_id: int, body: dict[str, Any], *, client_order_id: str | None, ts: int
) -> NewEvent:
    """The ``fills`` channel's event of a ``fill_body``: the same fields,
    plus ``trade_seq`` (as the public trades channel names the same number),
    the order's ``client_order_id`` and the trade's ``ts`` (Unix ms)."""
    return NewEvent(
        user_id,
        AccountChannel.FILLS,
        {
            **body,
            "trade_seq": body["trade_id"],
            "client_order_id": client_order_id,
            "ts": ts,
        },
    )
