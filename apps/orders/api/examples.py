"""Example bodies for the OpenAPI document (tests/core/test_openapi_examples.py
checks each has exactly the fields the endpoint really returns)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

from apps.core.api.schema import answer_example

LIMIT_BUY = {
    "pair": "BTC-USD",
    "side": "buy",
    "type": "limit",
    "price": "63000.00",
    "size": "0.0100",
    "client_order_id": "my-bot-42",
    "response_type": "full",
}

PLACED = {
    "id": "744bf154-b20d-40e1-8445-61fa84354e42",
    "client_order_id": "my-bot-42",
    "pair": "BTC-USD",
    "side": "buy",
    "type": "limit",
    "time_in_force": "GTC",
    "post_only": False,
    "stp": "cancel_newest",
    "price": "63000.000000",
    "stop_price": None,
    "size": "0.01000000",
    "funds": None,
    "filled_size": "0.00400000",
    "remaining_size": "0.00600000",
    "filled_quote": "252.000000",
    "average_price": "63000.000000",
    "fee": "0.504000",
    "fee_asset": "USD",
    "held": "631.260000",
    "status": "partially_filled",
    "reason": "",
    "triggered": False,
    "created_at": "2026-11-26T06:34:47.743524Z",
    "updated_at": "2026-11-26T06:34:47.751036Z",
    "done_at": None,
    "fills": [
        {
            "trade_id": 1841,
            "order_id": "744bf154-b20d-40e1-8445-61fa84354e42",
            "pair": "BTC-USD",
            "side": "buy",
            "liquidity": "taker",
            "price": "63000.000000",
            "size": "0.00400000",
            "quote": "252.000000",
            "fee": "0.504000",
            "fee_asset": "USD",
            "time": "2026-11-26T06:34:47.751036Z",
        }
    ],
}

FILLS = answer_example(
    "Fills",
    "Newest first; next_cursor pages on",
    {"fills": PLACED["fills"], "next_cursor": None},
)

ORDER_PLACE_EXAMPLES = [
    OpenApiExample(
        "LimitBuy",
        summary="Limit buy, 0.01 BTC at 63,000 USD, with its fills",
        value=LIMIT_BUY,
        request_only=True,
    ),
    OpenApiExample(
        "MarketBuyByFunds",
        summary="Market buy spending at most 500 USD, fees included",
        value={"pair": "BTC-USD", "side": "buy", "type": "market", "funds": "500"},
        request_only=True,
    ),
    OpenApiExample(
        "StopLimitSell",
        summary="Stop-limit sell: at 61,000 or below, sell 0.5 BTC at 60,900",
        value={
            "pair": "BTC-USD",
            "side": "sell",
            "type": "stop_limit",
            "stop_price": "61000.00",
            "price": "60900.00",
            "size": "0.5000",
            "time_in_force": "GTC",
        },
        request_only=True,
    ),
    OpenApiExample(
        "PartlyFilled",
        summary="Partly filled at once (response_type=full)",
        value=PLACED,
        response_only=True,
        status_codes=["201"],
    ),
]

# Batches (apps/orders/api/batch.py): a bid that rests and an ask off the tick.
_RESTING_BID = {
    **{k: v for k, v in PLACED.items() if k != "fills"},
    "client_order_id": "mm-bid-1",
    "price": "62990.000000",
    "filled_size": "0.00000000",
    "remaining_size": "0.01000000",
    "filled_quote": "0.000000",
    "average_price": None,
    "fee": "0.000000",
    "held": "631.159800",
    "status": "open",
    "updated_at": "2026-11-26T06:34:47.749310Z",
}
_OFF_TICK = {
    "code": "ORDER_PRICE_OFF_TICK",
    "message": "price must be a multiple of the tick size 0.010000.",
    "request_id": "9f1c2e7a4b3d4c5e",
    "retryable": False,
    "details": {"field": "price", "tick_size": "0.010000"},
}

BATCH_PLACE_EXAMPLES = [
    OpenApiExample(
        "TwoQuotes",
        summary="A bid and an ask in one call",
        value={
            "orders": [
                {
                    "pair": "BTC-USD",
                    "side": "buy",
                    "type": "limit",
                    "price": "62990.00",
                    "size": "0.0100",
                    "client_order_id": "mm-bid-1",
                },
                {
                    "pair": "BTC-USD",
                    "side": "sell",
                    "type": "limit",
                    "price": "63010.005",
                    "size": "0.0100",
                    "client_order_id": "mm-ask-1",
                },
            ]
        },
        request_only=True,
    ),
    OpenApiExample(
        "OnePlacedOneRefused",
        summary="The bid rests; the ask, off the tick, is refused alone",
        value={
            "results": [
                {"status": 201, "order": _RESTING_BID},
                {"status": 400, "error": _OFF_TICK},
            ]
        },
        response_only=True,
        status_codes=["200"],
    ),
]

BATCH_CANCEL_EXAMPLES = [
    OpenApiExample(
        "ByIdAndClientId",
        summary="One order by id, one by client_order_id",
        value={
            "order_ids": [PLACED["id"]],
            "client_order_ids": ["mm-ask-1"],
        },
        request_only=True,
    ),
    OpenApiExample(
        "OneCancelledOneUnknown",
        summary="The bid is cancelled; no order has the client_order_id",
        value={
            "results": [
                {
                    "status": 200,
                    "cancel_result": "cancelled",
                    "order": {
                        **_RESTING_BID,
                        "status": "cancelled",
                        "reason": "user_cancelled",
                        "done_at": "2026-11-26T06:35:02.118204Z",
                        "updated_at": "2026-11-26T06:35:02.118204Z",
                    },
                },
                {
                    "status": 404,
                    "error": {
                        "code": "ORDER_NOT_FOUND",
                        "message": "No such order for this account.",
                        "request_id": "9f1c2e7a4b3d4c5e",
                        "retryable": False,
                        "details": {"order_id": "client:mm-ask-1"},
                    },
                },
            ]
        },
        response_only=True,
        status_codes=["200"],
    ),
]
