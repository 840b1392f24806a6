"""The error registry: every code a client can see, with its HTTP status.

Codes are stable, namespaced and one per cause. docs/errors.md and the OpenAPI
spec are generated from / checked against ``ERRORS``; a test keeps them in sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    AUTH_MISSING_HEADERS = "AUTH_MISSING_HEADERS"
    AUTH_INVALID_KEY = "AUTH_INVALID_KEY"
    AUTH_KEY_REVOKED = "AUTH_KEY_REVOKED"
    AUTH_KEY_DISABLED = "AUTH_KEY_DISABLED"
    AUTH_KEY_WRONG_ENVIRONMENT = "AUTH_KEY_WRONG_ENVIRONMENT"
    AUTH_INVALID_SIGNATURE = "AUTH_INVALID_SIGNATURE"
    AUTH_INVALID_TIMESTAMP = "AUTH_INVALID_TIMESTAMP"
    AUTH_TIMESTAMP_EXPIRED = "AUTH_TIMESTAMP_EXPIRED"
    AUTH_TIMESTAMP_IN_FUTURE = "AUTH_TIMESTAMP_IN_FUTURE"
    AUTH_INVALID_NONCE = "AUTH_INVALID_NONCE"
    AUTH_NONCE_REUSED = "AUTH_NONCE_REUSED"
    AUTH_REQUIRED = "AUTH_REQUIRED"
    PERMISSION_SCOPE_MISSING = "PERMISSION_SCOPE_MISSING"
    PERMISSION_IP_NOT_ALLOWED = "PERMISSION_IP_NOT_ALLOWED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    RATE_LIMIT_CONNECTIONS_PER_IP = "RATE_LIMIT_CONNECTIONS_PER_IP"
    RATE_LIMIT_CONNECTIONS_PER_KEY = "RATE_LIMIT_CONNECTIONS_PER_KEY"
    RATE_LIMIT_FAUCET_DAILY = "RATE_LIMIT_FAUCET_DAILY"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    VALIDATION_MALFORMED_JSON = "VALIDATION_MALFORMED_JSON"
    VALIDATION_INVALID_DECIMAL = "VALIDATION_INVALID_DECIMAL"
    VALIDATION_TOO_MANY_DECIMALS = "VALIDATION_TOO_MANY_DECIMALS"
    VALIDATION_OUT_OF_RANGE = "VALIDATION_OUT_OF_RANGE"
    VALIDATION_SANDBOX_SCENARIO = "VALIDATION_SANDBOX_SCENARIO"
    VALIDATION_BATCH_SIZE = "VALIDATION_BATCH_SIZE"
    VALIDATION_UNKNOWN_FIELD = "VALIDATION_UNKNOWN_FIELD"
    VALIDATION_DUPLICATE_KEY = "VALIDATION_DUPLICATE_KEY"
    VALIDATION_DUPLICATE_PARAM = "VALIDATION_DUPLICATE_PARAM"
    VALIDATION_UNKNOWN_PARAM = "VALIDATION_UNKNOWN_PARAM"
    VALIDATION_INVALID_TYPE = "VALIDATION_INVALID_TYPE"
    VALIDATION_BODY_TOO_LARGE = "VALIDATION_BODY_TOO_LARGE"
    ORDER_PRICE_OFF_TICK = "ORDER_PRICE_OFF_TICK"
    ORDER_SIZE_OFF_LOT = "ORDER_SIZE_OFF_LOT"
    ORDER_SIZE_TOO_SMALL = "ORDER_SIZE_TOO_SMALL"
    ORDER_NOTIONAL_TOO_SMALL = "ORDER_NOTIONAL_TOO_SMALL"
    ORDER_INVALID_PARAMETERS = "ORDER_INVALID_PARAMETERS"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    ORDER_CLIENT_ID_CONFLICT = "ORDER_CLIENT_ID_CONFLICT"
    ORDER_NO_REFERENCE_PRICE = "ORDER_NO_REFERENCE_PRICE"
    ORDER_BATCH_DUPLICATE_CLIENT_ID = "ORDER_BATCH_DUPLICATE_CLIENT_ID"
    ORDER_ALREADY_FILLED = "ORDER_ALREADY_FILLED"
    ORDER_ALREADY_CANCELLED = "ORDER_ALREADY_CANCELLED"
    ORDER_NOT_AMENDABLE = "ORDER_NOT_AMENDABLE"
    ORDER_AMEND_NO_CHANGE = "ORDER_AMEND_NO_CHANGE"
    ORDER_AMEND_SIZE_BELOW_FILLED = "ORDER_AMEND_SIZE_BELOW_FILLED"
    ORDER_AMEND_PENDING = "ORDER_AMEND_PENDING"
    ORDER_POST_ONLY_WOULD_TAKE = "ORDER_POST_ONLY_WOULD_TAKE"
    STREAM_RESUME_TOO_OLD = "STREAM_RESUME_TOO_OLD"
    MARKET_NOT_FOUND = "MARKET_NOT_FOUND"
    MARKET_HALTED = "MARKET_HALTED"
    MARKET_CANCEL_ONLY = "MARKET_CANCEL_ONLY"
    ACCOUNT_INSUFFICIENT_FUNDS = "ACCOUNT_INSUFFICIENT_FUNDS"
    ACCOUNT_ASSET_NOT_FOUND = "ACCOUNT_ASSET_NOT_FOUND"
    ACCOUNT_WITHDRAWALS_DISABLED = "ACCOUNT_WITHDRAWALS_DISABLED"
    ACCOUNT_INVALID_TRANSFER = "ACCOUNT_INVALID_TRANSFER"
    ACCOUNT_WITHDRAWAL_NOT_FOUND = "ACCOUNT_WITHDRAWAL_NOT_FOUND"
    ACCOUNT_WITHDRAWAL_NOT_PENDING = "ACCOUNT_WITHDRAWAL_NOT_PENDING"
    ACCOUNT_FAUCET_CAP_EXCEEDED = "ACCOUNT_FAUCET_CAP_EXCEEDED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    SYSTEM_OVERLOADED = "SYSTEM_OVERLOADED"
    SYSTEM_UNAVAILABLE = "SYSTEM_UNAVAILABLE"
    SYSTEM_EXECUTION_UNKNOWN = "SYSTEM_EXECUTION_UNKNOWN"
    SYSTEM_INTERNAL_ERROR = "SYSTEM_INTERNAL_ERROR"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    retryable: bool
    description: str


E = ErrorCode
ERRORS: dict[ErrorCode, ErrorSpec] = {
    E.AUTH_MISSING_HEADERS: ErrorSpec(401, False, "A signing header is missing."),
    E.AUTH_INVALID_KEY: ErrorSpec(401, False, "The API key does not exist."),
    E.AUTH_KEY_REVOKED: ErrorSpec(401, False, "The API key was revoked."),
    E.AUTH_KEY_DISABLED: ErrorSpec(
        401, False, "The exchange's staff disabled the API key; contact support."
    ),
    E.AUTH_KEY_WRONG_ENVIRONMENT: ErrorSpec(
        401, False, "The API key belongs to the other environment (sandbox/production)."
    ),
    E.AUTH_INVALID_SIGNATURE: ErrorSpec(401, False, "The signature does not match."),
    E.AUTH_INVALID_TIMESTAMP: ErrorSpec(401, False, "X-Api-Timestamp is not Unix ms."),
    E.AUTH_TIMESTAMP_EXPIRED: ErrorSpec(
        401, True, "The timestamp is older than the key's drift tolerance."
    ),
    E.AUTH_TIMESTAMP_IN_FUTURE: ErrorSpec(
        401, True, "The timestamp is ahead of server time beyond the tolerance."
    ),
    E.AUTH_INVALID_NONCE: ErrorSpec(401, False, "The nonce is not 8-64 [A-Za-z0-9_-]."),
    E.AUTH_NONCE_REUSED: ErrorSpec(401, False, "The nonce was already used."),
    E.AUTH_REQUIRED: ErrorSpec(
        401, False, "WebSocket: this op or channel needs a successful auth first."
    ),
    E.PERMISSION_SCOPE_MISSING: ErrorSpec(403, False, "The key lacks the scope."),
    E.PERMISSION_IP_NOT_ALLOWED: ErrorSpec(
        403, False, "The client address is outside the key's allow-list."
    ),
    E.RATE_LIMIT_EXCEEDED: ErrorSpec(429, True, "The weight budget is spent."),
    E.RATE_LIMIT_CONNECTIONS_PER_IP: ErrorSpec(
        429, True, "WebSocket: too many connections from one address (close 4029)."
    ),
    E.RATE_LIMIT_CONNECTIONS_PER_KEY: ErrorSpec(
        429, True, "WebSocket: too many authenticated connections for one API key."
    ),
    E.RATE_LIMIT_FAUCET_DAILY: ErrorSpec(
        429, True, "Sandbox faucet: the account's claims for the day are used up."
    ),
    E.VALIDATION_ERROR: ErrorSpec(400, False, "A field is missing or invalid."),
    E.VALIDATION_MALFORMED_JSON: ErrorSpec(400, False, "The body is not valid JSON."),
    E.VALIDATION_INVALID_DECIMAL: ErrorSpec(
        400, False, "An amount is not a plain decimal string."
    ),
    E.VALIDATION_TOO_MANY_DECIMALS: ErrorSpec(
        400, False, "An amount has more decimals than the asset allows."
    ),
    E.VALIDATION_OUT_OF_RANGE: ErrorSpec(
        400,
        False,
        "A number is beyond what the exchange stores (amounts: 2^63-1 minor units).",
    ),
    E.VALIDATION_SANDBOX_SCENARIO: ErrorSpec(
        400,
        False,
        "Sandbox: X-Sandbox-Scenario is unknown or does not apply to this request.",
    ),
    E.VALIDATION_BATCH_SIZE: ErrorSpec(
        400, False, "A batch is empty or has more entries than the maximum (20)."
    ),
    E.VALIDATION_UNKNOWN_FIELD: ErrorSpec(
        400,
        False,
        "The body has a field this endpoint does not take (details.fields names "
        "them; details.allowed lists the ones it takes).",
    ),
    E.VALIDATION_DUPLICATE_KEY: ErrorSpec(
        400, False, "A JSON object in the body repeats a key (details.key)."
    ),
    E.VALIDATION_DUPLICATE_PARAM: ErrorSpec(
        400,
        False,
        "The query string gives a parameter more than once (details.param), "
        "e.g. ?depth=10&depth=20.",
    ),
    E.VALIDATION_UNKNOWN_PARAM: ErrorSpec(
        400,
        False,
        "The query string has a parameter this operation does not take "
        "(details.params names them; details.allowed lists the ones it takes).",
    ),
    E.VALIDATION_INVALID_TYPE: ErrorSpec(
        400,
        False,
        "A field has the wrong JSON type, e.g. a number for a string or a string "
        "for a boolean (details.field, details.expected).",
    ),
    E.VALIDATION_BODY_TOO_LARGE: ErrorSpec(
        413, False, "The body is over the size limit (details.max_bytes)."
    ),
    E.ORDER_PRICE_OFF_TICK: ErrorSpec(400, False, "Price is not a tick multiple."),
    E.ORDER_SIZE_OFF_LOT: ErrorSpec(400, False, "Size is not a lot multiple."),
    E.ORDER_SIZE_TOO_SMALL: ErrorSpec(400, False, "Size is below the pair minimum."),
    E.ORDER_NOTIONAL_TOO_SMALL: ErrorSpec(
        400, False, "Price times size is below the pair's minimum notional."
    ),
    E.ORDER_INVALID_PARAMETERS: ErrorSpec(
        400, False, "The combination of order fields is not valid."
    ),
    E.ORDER_NOT_FOUND: ErrorSpec(404, False, "No such order for this account."),
    E.ORDER_CLIENT_ID_CONFLICT: ErrorSpec(
        409, False, "client_order_id was used with different parameters."
    ),
    E.ORDER_NO_REFERENCE_PRICE: ErrorSpec(
        422, True, "No reference price to bound a market order."
    ),
    E.ORDER_BATCH_DUPLICATE_CLIENT_ID: ErrorSpec(
        400,
        False,
        "Batch: an earlier order of the same batch has this client_order_id.",
    ),
    E.ORDER_ALREADY_FILLED: ErrorSpec(
        409, False, "Amend: the order is already filled; nothing is left to change."
    ),
    E.ORDER_ALREADY_CANCELLED: ErrorSpec(
        409, False, "Amend: the order is already cancelled."
    ),
    E.ORDER_NOT_AMENDABLE: ErrorSpec(
        409,
        False,
        "Amend: only GTC limit orders that rest (or are about to) can be amended; "
        "not market, IOC or FOK orders, untriggered stops or rejected orders.",
    ),
    E.ORDER_AMEND_NO_CHANGE: ErrorSpec(
        400, False, "Amend: the new price and size equal the order's."
    ),
    E.ORDER_AMEND_SIZE_BELOW_FILLED: ErrorSpec(
        409, False, "Amend: the new size is not above what already filled."
    ),
    E.ORDER_AMEND_PENDING: ErrorSpec(
        409,
        True,
        "Amend: another amend of this order is still queued; retry once it is applied.",
    ),
    E.ORDER_POST_ONLY_WOULD_TAKE: ErrorSpec(
        409, False, "Amend: a post-only order's new price would take liquidity."
    ),
    E.STREAM_RESUME_TOO_OLD: ErrorSpec(
        410,
        False,
        "WebSocket resume: events before from_seq are no longer kept; "
        "read them over REST.",
    ),
    E.MARKET_NOT_FOUND: ErrorSpec(404, False, "No such pair."),
    E.MARKET_HALTED: ErrorSpec(409, True, "The pair is halted."),
    E.MARKET_CANCEL_ONLY: ErrorSpec(409, True, "The pair accepts cancels only."),
    E.ACCOUNT_INSUFFICIENT_FUNDS: ErrorSpec(
        400, False, "Available balance is too low."
    ),
    E.ACCOUNT_ASSET_NOT_FOUND: ErrorSpec(404, False, "No such asset."),
    E.ACCOUNT_WITHDRAWALS_DISABLED: ErrorSpec(
        409, False, "Withdrawals of this asset are disabled."
    ),
    E.ACCOUNT_INVALID_TRANSFER: ErrorSpec(400, False, "The transfer is not valid."),
    E.ACCOUNT_WITHDRAWAL_NOT_FOUND: ErrorSpec(
        404, False, "No such withdrawal for this account."
    ),
    E.ACCOUNT_WITHDRAWAL_NOT_PENDING: ErrorSpec(
        409, False, "The withdrawal is already completed or failed."
    ),
    E.ACCOUNT_FAUCET_CAP_EXCEEDED: ErrorSpec(
        400, False, "Sandbox faucet: the amount is above the asset's cap per claim."
    ),
    E.NOT_FOUND: ErrorSpec(404, False, "No such endpoint."),
    E.METHOD_NOT_ALLOWED: ErrorSpec(405, False, "Method not allowed here."),
    E.SYSTEM_OVERLOADED: ErrorSpec(503, True, "The pair's queue is full; retry."),
    E.SYSTEM_UNAVAILABLE: ErrorSpec(503, True, "A dependency is unavailable."),
    E.SYSTEM_EXECUTION_UNKNOWN: ErrorSpec(
        504,
        True,
        "The outcome is unknown (timed out): look the order up by client_order_id "
        "or resend it with the same client_order_id.",
    ),
    E.SYSTEM_INTERNAL_ERROR: ErrorSpec(500, True, "An unexpected server error."),
}

# Codes only a WebSocket frame carries: no REST operation answers them, so
# the OpenAPI spec lists them in the enum but under no response
# (docs/websocket.md, "Limits and close codes").
WEBSOCKET_ONLY: frozenset[ErrorCode] = frozenset(
    {
        E.RATE_LIMIT_CONNECTIONS_PER_IP,
        E.RATE_LIMIT_CONNECTIONS_PER_KEY,
        E.AUTH_REQUIRED,
        E.STREAM_RESUME_TOO_OLD,
    }
)


class DomainError(Exception):
    """A business error with a stable code; rendered by the exception handler."""

    code: ErrorCode = ErrorCode.SYSTEM_INTERNAL_ERROR

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message or ERRORS[self.code].description
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return ERRORS[self.code].status

    @property
    def retryable(self) -> bool:
        return ERRORS[self.code].retryable


class ValidationFailed(DomainError):
    code = ErrorCode.VALIDATION_ERROR


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Overloaded(DomainError):
    code = ErrorCode.SYSTEM_OVERLOADED
