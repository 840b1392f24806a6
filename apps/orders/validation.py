"""Wire order parameters (decimal strings) -> integer ticks, lots and units.

One function per concern, each refusing (never rounding) off-grid values with
its own code. The result, ``OrderRequest``, is what ``order_place`` takes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from apps.core.errors import DomainError, ErrorCode
from apps.core.money import format_units, parse_units
from apps.markets.models import Pair
from apps.orders.errors import InvalidOrder
from apps.orders.models import OrderType, Side, Stp, TimeInForce

CLIENT_ORDER_ID_RE = re.compile(r"\A[A-Za-z0-9_-]{1,36}\Z")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    side: str
    type: str
    time_in_force: str = TimeInForce.GTC
    post_only: bool = False
    stp: str = Stp.CANCEL_NEWEST
    price: int | None = None  # ticks
    stop_price: int | None = None  # ticks
    size: int | None = None  # lots
    funds: int | None = None  # quote minor units
    client_order_id: str | None = None

    def same_order_as(self, other: OrderRequest) -> bool:
        mine, theirs = asdict(self), asdict(other)
        return mine == theirs

    def differences(self, other: OrderRequest) -> list[str]:
        mine, theirs = asdict(self), asdict(other)
        return sorted(k for k in mine if mine[k] != theirs[k])


def price_to_ticks(pair: Pair, text: object, *, field: str) -> int:
    units = parse_units(text, pair.quote.scale, field=field)
    if units <= 0:
        raise DomainError(
            f"{field} must be positive.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": field},
        )
    if units % pair.tick_size:
        raise DomainError(
            f"{field} must be a multiple of the tick size "
            f"{format_units(pair.tick_size, pair.quote.scale)}.",
            code=ErrorCode.ORDER_PRICE_OFF_TICK,
            details={
                "field": field,
                "tick_size": format_units(pair.tick_size, pair.quote.scale),
            },
        )
    return units // pair.tick_size


def size_to_lots(pair: Pair, text: object) -> int:
    units = parse_units(text, pair.base.scale, field="size")
    lot = format_units(pair.lot_size, pair.base.scale)
    if units % pair.lot_size:
        raise DomainError(
            f"size must be a multiple of the lot size {lot}.",
            code=ErrorCode.ORDER_SIZE_OFF_LOT,
            details={"field": "size", "lot_size": lot},
        )
    if units < pair.min_size:
        minimum = format_units(pair.min_size, pair.base.scale)
        raise DomainError(
            f"size is below the minimum {minimum}.",
            code=ErrorCode.ORDER_SIZE_TOO_SMALL,
            details={"field": "size", "min_size": minimum},
        )
    return units // pair.lot_size


def _notional_too_small(pair: Pair, notional: int) -> DomainError:
    minimum = format_units(pair.min_notional, pair.quote.scale)
    return DomainError(
        f"order value is below the minimum {minimum} {pair.quote.code}.",
        code=ErrorCode.ORDER_NOTIONAL_TOO_SMALL,
        details={
            "min_notional": minimum,
            "notional": format_units(notional, pair.quote.scale),
        },
    )


def _require(
    data: Mapping[str, Any], present: set[str], absent: set[str], kind: str
) -> None:
    missing = sorted(f for f in present if data.get(f) in (None, ""))
    extra = sorted(f for f in absent if data.get(f) not in (None, ""))
    if missing or extra:
        raise InvalidOrder(
            f"A {kind} order needs {', '.join(sorted(present)) or 'nothing more'}"
            + (f" and must not have {', '.join(extra)}" if extra else "")
            + ".",
            details={"missing": missing, "not_allowed": extra},
        )


def order_request_from_wire(*, pair: Pair, data: Mapping[str, Any]) -> OrderRequest:
    """Validate the order's shape and convert its amounts. ``data`` has passed
    the serializer (choices and types); this checks what depends on the pair."""
    side, otype = data["side"], data["type"]
    tif = data.get("time_in_force") or TimeInForce.GTC
    post_only = bool(data.get("post_only", False))
    by_funds = data.get("funds") not in (None, "")
    if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        needs = {"price", "size"} | (
            {"stop_price"} if otype == OrderType.STOP_LIMIT else set()
        )
        _require(
            data,
            needs,
            {"funds"} | ({"stop_price"} if otype == OrderType.LIMIT else set()),
            otype,
        )
    else:
        needs = ({"funds"} if by_funds else {"size"}) | (
            {"stop_price"} if otype == OrderType.STOP else set()
        )
        _require(
            data,
            needs,
            {"price", "size" if by_funds else "funds"}
            | ({"stop_price"} if otype == OrderType.MARKET else set()),
            otype,
        )
        if by_funds and side != Side.BUY:
            raise InvalidOrder("funds is for market buys; sell by size.")
        if tif == TimeInForce.FOK:
            raise InvalidOrder("Market and stop orders take GTC or IOC, not FOK.")
    if post_only and (
        tif != TimeInForce.GTC or otype not in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    ):
        raise InvalidOrder("post_only applies to GTC limit and stop-limit orders only.")
    coid = data.get("client_order_id")
    if coid is not None and not CLIENT_ORDER_ID_RE.match(str(coid)):
        raise DomainError(
            "client_order_id must be 1-36 characters of [A-Za-z0-9_-].",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "client_order_id"},
        )
    req = OrderRequest(
        side=side,
        type=otype,
        time_in_force=tif,
        post_only=post_only,
        stp=data.get("stp") or Stp.CANCEL_NEWEST,
        price=price_to_ticks(pair, data["price"], field="price")
        if "price" in needs
        else None,
        stop_price=(
            price_to_ticks(pair, data["stop_price"], field="stop_price")
            if "stop_price" in needs
            else None
        ),
        size=size_to_lots(pair, data["size"]) if "size" in needs else None,
        funds=parse_units(data["funds"], pair.quote.scale, field="funds")
        if by_funds
        else None,
        client_order_id=coid,
    )
    if req.funds is not None and req.funds < max(pair.min_notional, 1):
        raise _notional_too_small(pair, req.funds)
    if req.price is not None and req.size is not None:
        notional = req.price * req.size * pair.quote_per_tick_lot
        if notional < pair.min_notional:
            raise _notional_too_small(pair, notional)
    return req
