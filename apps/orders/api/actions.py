"""Order entry as both edges answer it: REST (views.py) and the WebSocket
(apps/orders/consumers.py) call these, so validation, idempotency, waiting
for the matcher and the answer's body cannot drift between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.apikeys.models import ApiKey
from apps.core.scenarios import EXECUTION_UNKNOWN
from apps.markets.selectors import pair_get, pair_get_for_trading
from apps.orders import cancels, scenarios, selectors, services
from apps.orders.api import serializers as s
from apps.orders.models import FINAL_STATUSES, Order
from apps.orders.validation import order_request_from_wire

# Rate-limit weights, the same for REST and WebSocket order entry.
PLACE_WEIGHT = 1
CANCEL_WEIGHT = 1
CANCEL_ALL_WEIGHT = 10


@dataclass
class Answer:
    """An action's HTTP status and body (REST sends them as they are; the
    WebSocket ack carries both)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    order: Order | None = None


def order_body(order: Order, *, with_fills: bool = False) -> dict[str, Any]:
    context = {}
    if with_fills:
        context["fills"] = list(
            selectors.fills_for_user(user=order.user, order=order).reverse()
        )
    return dict(s.OrderOutputSerializer(order, context=context).data)


def place(*, api_key: ApiKey, data: Any, scenario: str | None = None) -> Answer:
    """Validate a placement body, place it (idempotent on client_order_id)
    and wait for the matcher unless response_type is ack. ``scenario``: a
    sandbox order scenario (REST's X-Sandbox-Scenario, apps.orders.scenarios)."""
    values = s.place_input(data)
    pair = pair_get_for_trading(symbol=values["pair"])
    req = order_request_from_wire(pair=pair, data=values)
    if scenario is not None:
        scenarios.before_place(scenario=scenario, pair=pair, req=req)
    placed = services.order_place(
        user_id=api_key.user_id, pair=pair, req=req, api_key=api_key
    )
    full = values["response_type"] == "full"
    if placed.replayed:
        return Answer(
            200,
            order_body(placed.order, with_fills=full),
            {"Idempotent-Replayed": "true"},
            placed.order,
        )
    order = placed.order
    if values["response_type"] != "ack":
        order = services.order_wait(order=order)
    if scenario == EXECUTION_UNKNOWN:
        raise scenarios.execution_unknown(order=order)
    status = 202 if order.status == "pending" else 201
    return Answer(status, order_body(order, with_fills=full), order=order)


def cancel(*, user_id: int, order_ref: str) -> Answer:
    """Cancel one order (idempotent) and wait for the matcher's answer."""
    order = selectors.order_get_for_user(user=user_id, order_ref=order_ref)
    result = cancels.order_cancel(order=order)
    if result == "requested":
        order = services.order_wait(order=order, until_final=True)
        result = cancels.CANCEL_RESULTS.get(order.status, "pending")
        result = "cancelled" if result == "already_cancelled" else result
    status = 200 if order.status in FINAL_STATUSES else 202
    return Answer(
        status, {"cancel_result": result, "order": order_body(order)}, order=order
    )


def cancel_all(*, user_id: int, data: Any) -> Answer:
    """Cancel all the user's live orders, optionally of one pair."""
    values = s.CancelAllInputSerializer(data=data or {})
    values.is_valid(raise_exception=True)
    symbol = values.validated_data.get("pair")
    pair = pair_get(symbol=symbol) if symbol else None
    requested = cancels.orders_cancel_all(user=user_id, pair=pair)
    done = [
        services.order_wait(order=o, until_final=True, timeout_s=0.2) for o in requested
    ]
    return Answer(
        200,
        {
            "requested": [str(o.uuid) for o in requested],
            "cancelled": [str(o.uuid) for o in done if o.status in FINAL_STATUSES],
            "pending": [str(o.uuid) for o in done if o.status not in FINAL_STATUSES],
        },
    )
