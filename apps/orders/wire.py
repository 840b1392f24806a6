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
from apps.orders.models import Trade


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
    its base and quote assets loaded.

    Formats with ``format_units`` directly (what ``Pair.format_price`` and
    ``format_size`` do), reading the pair's assets once: the matcher builds
    one body per order it changes, and each related-object access costs."""
    base, quote = pair.base, pair.quote
    b_scale, q_scale, tick, lot = base.scale, quote.scale, pair.tick_size, pair.lot_size
    price, stop, size, funds = order.price, order.stop_price, order.size, order.funds
    filled, filled_quote = order.filled_size, order.filled_quote
    return {
        "id": str(order.uuid),
        "client_order_id": order.client_order_id,
        "pair": pair.symbol,
        "side": order.side,
        "type": order.type,
        "time_in_force": order.time_in_force,
        "post_only": order.post_only,
        "stp": order.stp,
        "price": None if price is None else format_units(price * tick, q_scale),
        "stop_price": None if stop is None else format_units(stop * tick, q_scale),
        "size": None if size is None else format_units(size * lot, b_scale),
        "funds": None if funds is None else format_units(funds, q_scale),
        "filled_size": format_units(filled * lot, b_scale),
        "remaining_size": None
        if size is None
        else format_units((size - filled) * lot, b_scale),
        "filled_quote": format_units(filled_quote, q_scale),
        "average_price": average_price(pair, filled_quote, filled),
        "fee": format_units(order.fee, q_scale),
        "fee_asset": quote.code,
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
    quote_units: int,
    fee: int,
) -> dict[str, Any]:
    """One side of a trade as ``GET /v1/fills`` returns it (without its
    ``time``) and as the ``fills`` channel's payload: ``trade_id`` is the
    pair's trade sequence, the maker's side the opposite of the taker's."""
    base, quote = pair.base, pair.quote
    return {
        "trade_id": trade_seq,
        "order_id": str(order_uuid),
        "pair": pair.symbol,
        "side": ("sell" if taker_side == "buy" else "buy") if maker else taker_side,
        "liquidity": "maker" if maker else "taker",
        "price": format_units(price * pair.tick_size, quote.scale),
        "size": format_units(size * pair.lot_size, base.scale),
        "quote": format_units(quote_units, quote.scale),
        "fee": format_units(fee, quote.scale),
        "fee_asset": quote.code,
    }


def trade_fill_body(trade: Trade, *, user_id: int) -> dict[str, Any]:
    """``user_id``'s side of a stored trade as a ``fill_body``: the maker's
    when they made it, else the taker's (without its ``time``: REST writes it
    as ISO 8601, the web page formats the datetime). The trade comes with its
    pair's assets and both orders loaded (``selectors.fills_for_user``)."""
    maker = trade.maker_user_id == user_id
    return fill_body(
        trade.pair,
        trade_seq=trade.seq,
        maker=maker,
        taker_side=trade.taker_side,
        order_uuid=(trade.maker_order if maker else trade.taker_order).uuid,
        price=trade.price,
        size=trade.size,
        quote_units=trade.quote,
        fee=trade.maker_fee if maker else trade.taker_fee,
    )


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
