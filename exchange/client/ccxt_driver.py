"""A ccxt exchange class for this exchange, so a bot written for ccxt trades
here by changing the exchange's name and keys (docs/ccxt.md).

    from exchange.client.ccxt_driver import hkt

    ex = hkt({"apiKey": "hkt_...", "secret": "...",
              "urls": {"api": {"rest": "http://127.0.0.1:8000"}}})
    ex.create_order("BTC/USD", "limit", "buy", 0.01, 63000)

It follows ccxt's conventions: unified symbols (``BTC/USD`` for the pair
``BTC-USD``), ``TICK_SIZE`` precision (a market's ``precision`` is its tick and
lot size), and ccxt's exception classes for our error codes. Amounts go out as
decimal strings made by ccxt's ``amount_to_precision``/``price_to_precision``,
never as floats. Requests are signed by :mod:`exchange.client.signing`, the one
implementation of docs/signing.md that the server verifies with.

Needs the optional dependency ccxt (``pip install -e .[ccxt]``, pinned in
pyproject.toml and requirements/test.txt); nothing else imports this module.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from ccxt.base.decimal_to_precision import TICK_SIZE
from ccxt.base.errors import (
    ArgumentsRequired,
    AuthenticationError,
    BadRequest,
    BadSymbol,
    DDoSProtection,
    DuplicateOrderId,
    ExchangeError,
    ExchangeNotAvailable,
    InsufficientFunds,
    InvalidNonce,
    InvalidOrder,
    MarketClosed,
    OperationRejected,
    OrderNotFillable,
    OrderNotFound,
    PermissionDenied,
    RateLimitExceeded,
    RequestTimeout,
)
from ccxt.base.exchange import Exchange
from ccxt.base.precise import Precise
from ccxt.base.types import Entry

from exchange.client import signing

DEFAULT_BASE_URL = "http://127.0.0.1:8000"

# Every endpoint the driver calls, with its rate-limit weight (the spec's
# x-rate-limit-weight): ccxt's throttle spends ``rateLimit`` ms per unit, so a
# bot stays inside the default budget of 1,200 weight a minute.
API: dict[str, dict[str, dict[str, int]]] = {
    "public": {
        "get": {
            "time": 1,
            "markets": 1,
            "ticker/{pair}": 1,
            "orderbook/{pair}": 1,
            "trades/{pair}": 1,
            "candles/{pair}": 2,
        },
    },
    "private": {
        "get": {
            "account/api-key": 1,
            "account/balances": 5,
            "orders": 1,
            "orders/{order_id}": 1,
            "fills": 5,
        },
        "post": {
            "orders": 1,
            "orders/{order_id}/cancel": 1,
            "orders/{order_id}/amend": 1,
            "orders/cancel-all": 10,
            "orders/cancel-all-after": 1,
        },
    },
}

# Our error codes (apps/core/errors.py, docs/errors.md) -> ccxt's classes. The
# retryable ones map below ccxt's NetworkError (InvalidNonce, RateLimitExceeded,
# DDoSProtection, ExchangeNotAvailable), which bots already retry.
EXACT_ERRORS: dict[str, type[Exception]] = {
    "AUTH_MISSING_HEADERS": AuthenticationError,
    "AUTH_INVALID_KEY": AuthenticationError,
    "AUTH_KEY_REVOKED": AuthenticationError,
    "AUTH_KEY_DISABLED": AuthenticationError,
    "AUTH_KEY_WRONG_ENVIRONMENT": AuthenticationError,
    "AUTH_INVALID_SIGNATURE": AuthenticationError,
    "AUTH_INVALID_TIMESTAMP": AuthenticationError,
    "AUTH_TIMESTAMP_EXPIRED": InvalidNonce,
    "AUTH_TIMESTAMP_IN_FUTURE": InvalidNonce,
    "AUTH_INVALID_NONCE": AuthenticationError,
    "AUTH_NONCE_REUSED": InvalidNonce,
    "AUTH_REQUIRED": AuthenticationError,
    "PERMISSION_SCOPE_MISSING": PermissionDenied,
    "PERMISSION_IP_NOT_ALLOWED": PermissionDenied,
    "RATE_LIMIT_EXCEEDED": RateLimitExceeded,
    "RATE_LIMIT_FAUCET_DAILY": RateLimitExceeded,
    "RATE_LIMIT_CONNECTIONS_PER_IP": DDoSProtection,
    "RATE_LIMIT_CONNECTIONS_PER_KEY": DDoSProtection,
    "VALIDATION_ERROR": BadRequest,
    "VALIDATION_MALFORMED_JSON": BadRequest,
    "VALIDATION_INVALID_DECIMAL": BadRequest,
    "VALIDATION_TOO_MANY_DECIMALS": BadRequest,
    "VALIDATION_OUT_OF_RANGE": BadRequest,
    "VALIDATION_SANDBOX_SCENARIO": BadRequest,
    "VALIDATION_BATCH_SIZE": BadRequest,
    "VALIDATION_UNKNOWN_FIELD": BadRequest,
    "VALIDATION_DUPLICATE_KEY": BadRequest,
    "VALIDATION_DUPLICATE_PARAM": BadRequest,
    "VALIDATION_UNKNOWN_PARAM": BadRequest,
    "VALIDATION_INVALID_TYPE": BadRequest,
    "VALIDATION_BODY_TOO_LARGE": BadRequest,
    "ORDER_PRICE_OFF_TICK": InvalidOrder,
    "ORDER_SIZE_OFF_LOT": InvalidOrder,
    "ORDER_SIZE_TOO_SMALL": InvalidOrder,
    "ORDER_NOTIONAL_TOO_SMALL": InvalidOrder,
    "ORDER_INVALID_PARAMETERS": InvalidOrder,
    "ORDER_NOT_FOUND": OrderNotFound,
    "ORDER_CLIENT_ID_CONFLICT": DuplicateOrderId,
    "ORDER_NO_REFERENCE_PRICE": OrderNotFillable,
    "ORDER_BATCH_DUPLICATE_CLIENT_ID": DuplicateOrderId,
    "ORDER_ALREADY_FILLED": InvalidOrder,
    "ORDER_ALREADY_CANCELLED": InvalidOrder,
    "ORDER_NOT_AMENDABLE": InvalidOrder,
    "ORDER_AMEND_NO_CHANGE": InvalidOrder,
    "ORDER_AMEND_SIZE_BELOW_FILLED": InvalidOrder,
    "ORDER_AMEND_PENDING": OperationRejected,
    "ORDER_POST_ONLY_WOULD_TAKE": InvalidOrder,
    "STREAM_RESUME_TOO_OLD": BadRequest,
    "MARKET_NOT_FOUND": BadSymbol,
    "MARKET_HALTED": MarketClosed,
    "MARKET_CANCEL_ONLY": MarketClosed,
    "ACCOUNT_INSUFFICIENT_FUNDS": InsufficientFunds,
    "ACCOUNT_ASSET_NOT_FOUND": BadRequest,
    "ACCOUNT_WITHDRAWALS_DISABLED": OperationRejected,
    "ACCOUNT_INVALID_TRANSFER": BadRequest,
    "ACCOUNT_WITHDRAWAL_NOT_FOUND": BadRequest,
    "ACCOUNT_WITHDRAWAL_NOT_PENDING": OperationRejected,
    "ACCOUNT_FAUCET_CAP_EXCEEDED": BadRequest,
    "NOT_FOUND": BadRequest,
    "METHOD_NOT_ALLOWED": BadRequest,
    "SYSTEM_OVERLOADED": DDoSProtection,
    "SYSTEM_UNAVAILABLE": ExchangeNotAvailable,
    "SYSTEM_INTERNAL_ERROR": ExchangeNotAvailable,
    # The sandbox's execution_unknown: the order may exist; a resend with its
    # clientOrderId replays it (ccxt retries timeouts).
    "SYSTEM_EXECUTION_UNKNOWN": RequestTimeout,
}

# A code this driver does not know yet (a newer server) still gets its
# namespace's class; ccxt matches these "broadly" (as substrings), in order.
PREFIX_ERRORS: dict[str, type[Exception]] = {
    "AUTH_": AuthenticationError,
    "PERMISSION_": PermissionDenied,
    "RATE_LIMIT_": RateLimitExceeded,
    "VALIDATION_": BadRequest,
    "ORDER_": InvalidOrder,
    "MARKET_": BadRequest,
    "ACCOUNT_": ExchangeError,
    "SYSTEM_": ExchangeNotAvailable,
}

ORDER_STATUSES = {
    "pending": "open",  # accepted, not yet through the matcher
    "open": "open",
    "partially_filled": "open",
    "filled": "closed",
    "cancelled": "canceled",
    "rejected": "rejected",
}

_CLOCK_CODES = ("AUTH_TIMESTAMP_EXPIRED", "AUTH_TIMESTAMP_IN_FUTURE")


def _method_names(api: str, method: str, path: str) -> tuple[str, str]:
    """ccxt's implicit method names: ``private_post_orders_order_id_cancel``
    and ``privatePostOrdersOrderIdCancel``."""
    words = [api, method, *(w for w in re.split(r"[^A-Za-z0-9]+", path) if w)]
    snake = "_".join(w.lower() for w in words)
    camel = words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    return snake, re.sub(r"_([a-z])", lambda m: m.group(1).upper(), camel)


class ImplicitAPI:
    """One ccxt ``Entry`` per endpoint of :data:`API` (ccxt generates this class
    for its own exchanges): ``ex.public_get_ticker_pair({"pair": "BTC-USD"})``."""


def _define_implicit_api() -> None:
    for api, methods in API.items():
        for method, paths in methods.items():
            for path, cost in paths.items():
                entry = Entry(path, api, method.upper(), {"cost": cost})
                for name in _method_names(api, method, path):
                    setattr(ImplicitAPI, name, entry)


_define_implicit_api()


# ccxt names each exchange's class by its id, in lower case.
class hkt(Exchange, ImplicitAPI):
    """This exchange, for ccxt. Unified methods in ``has``; ``params`` of each
    pass through to the REST API (docs/market-data.md, the OpenAPI spec).

    Every ``params={}`` default below follows ccxt's signatures: ccxt (and this
    class) never mutate ``params``; ``extend``/``omit`` copy.
    """

    def describe(self) -> Any:
        return self.deep_extend(
            super().describe(),
            {
                "id": "hkt",
                "name": "HKT Exchange",
                "countries": [],
                "version": "v1",
                "rateLimit": 50,  # ms per weight unit: 1,200 a minute
                "certified": False,
                "pro": False,
                "has": {
                    "CORS": None,
                    "spot": True,
                    "margin": False,
                    "swap": False,
                    "future": False,
                    "option": False,
                    "cancelAllOrders": True,
                    "cancelOrder": True,
                    "createMarketBuyOrderWithCost": True,
                    "createMarketOrder": True,
                    "createLimitOrder": True,
                    "createOrder": True,
                    "createPostOnlyOrder": True,
                    "createStopLimitOrder": True,
                    "createStopMarketOrder": True,
                    "createStopOrder": True,
                    "createTriggerOrder": True,
                    "editOrder": True,
                    "fetchBalance": True,
                    "fetchCanceledOrders": True,
                    "fetchClosedOrders": True,
                    "fetchCurrencies": False,
                    "fetchDepositAddress": False,
                    "fetchDeposits": False,
                    "fetchMarkets": True,
                    "fetchMyTrades": True,
                    "fetchOHLCV": True,
                    "fetchOpenOrders": True,
                    "fetchOrder": True,
                    "fetchOrderBook": True,
                    "fetchOrders": True,
                    "fetchOrderTrades": True,
                    "fetchTicker": True,
                    "fetchTickers": True,
                    "fetchTime": True,
                    "fetchTrades": True,
                    "fetchTradingFee": False,
                    "fetchTradingFees": False,
                    "fetchWithdrawals": False,
                    "withdraw": False,
                },
                "timeframes": {
                    "1m": "1m",
                    "5m": "5m",
                    "15m": "15m",
                    "1h": "1h",
                    "4h": "4h",
                    "1d": "1d",
                },
                "urls": {
                    "logo": None,
                    "api": {"rest": DEFAULT_BASE_URL},
                    "www": DEFAULT_BASE_URL,
                    "doc": [DEFAULT_BASE_URL + "/v1/docs"],
                },
                "api": API,
                "requiredCredentials": {"apiKey": True, "secret": True},
                "fees": {
                    "trading": {
                        "tierBased": False,
                        "percentage": True,
                        # Each market's own rates come from /v1/markets.
                        "maker": None,
                        "taker": None,
                    },
                },
                "precisionMode": TICK_SIZE,
                "options": {
                    # Unix ms local minus server, subtracted from the signing
                    # timestamp; learned from a timestamp rejection, or ask with
                    # load_time_difference() ("adjustForTimeDifference").
                    "timeDifference": 0,
                    "adjustForTimeDifference": False,
                    "wallet": "spot",
                },
                "exceptions": {"exact": EXACT_ERRORS, "broad": PREFIX_ERRORS},
            },
        )

    # -- signing and errors ----------------------------------------------------

    def sign(
        self,
        path: str,
        api: Any = "public",
        method: str = "GET",
        params: dict[str, Any] = {},  # noqa: B006
        headers: Any = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """The request for an endpoint of :data:`API`: GET parameters in the
        query string, POST parameters as a JSON body; private ones signed
        (docs/signing.md) over the exact path, query and body bytes sent."""
        request = "/v1/" + self.implode_params(path, params)
        query = self.omit(params, self.extract_params(path))
        if method == "GET":
            if query:
                request += "?" + self.urlencode(query)
        elif query:
            body = self.json(query)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if api == "private":
            self.check_required_credentials()
            headers.update(
                signing.signed_headers(
                    secret=self.secret,
                    key=self.apiKey,
                    method=method,
                    path=request,
                    # ccxt sends the body string's UTF-8 bytes; sign those.
                    body=body or "",
                    timestamp=self.milliseconds() - self.time_difference(),
                )
            )
        url = self.urls["api"]["rest"].rstrip("/") + request
        return {"url": url, "method": method, "body": body, "headers": headers}

    def time_difference(self) -> int:
        return int(self.safe_integer(self.options, "timeDifference", 0) or 0)

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        requestHeaders: Any,
        requestBody: Any,
    ) -> Any:
        """Raise the ccxt class of our error ``code`` (``{"error": {...}}``);
        anything else (a proxy's page) falls through to ccxt's HTTP-status
        mapping. A timestamp rejection also teaches the clock offset, so the
        next request (a bot's retry of InvalidNonce) is signed right."""
        error = (
            self.safe_dict(response, "error") if isinstance(response, dict) else None
        )
        if error is None:
            return None
        error_code = self.safe_string(error, "code")
        if error_code in _CLOCK_CODES:
            details = self.safe_dict(error, "details", {})
            server_time = self.safe_integer(details, "server_time")
            if server_time is not None:
                self.options["timeDifference"] = self.milliseconds() - server_time
        feedback = self.id + " " + body
        self.throw_exactly_matched_exception(
            self.exceptions["exact"], error_code, feedback
        )
        self.throw_broadly_matched_exception(
            self.exceptions["broad"], error_code, feedback
        )
        raise ExchangeError(feedback)

    # -- public ------------------------------------------------------------------

    def fetch_time(self, params={}) -> Any:  # noqa: B006
        response = self.public_get_time(params)
        return self.safe_integer(response, "server_time")

    def fetch_markets(self, params={}) -> Any:  # noqa: B006
        if self.options["adjustForTimeDifference"]:
            self.load_time_difference()
        response = self.public_get_markets(params)
        return [self.parse_market(m) for m in self.safe_list(response, "markets", [])]

    def parse_market(self, market: dict[str, Any]) -> Any:
        market_id = self.safe_string(market, "symbol")
        base_id = self.safe_string(market, "base")
        quote_id = self.safe_string(market, "quote")
        base = self.safe_currency_code(base_id)
        quote = self.safe_currency_code(quote_id)
        return self.safe_market_structure(
            {
                "id": market_id,
                "symbol": base + "/" + quote,
                "base": base,
                "quote": quote,
                "baseId": base_id,
                "quoteId": quote_id,
                "type": "spot",
                "spot": True,
                "margin": False,
                "swap": False,
                "future": False,
                "option": False,
                "contract": False,
                "active": self.safe_string(market, "status") == "trading",
                "maker": self.bps_to_rate(self.safe_string(market, "maker_fee_bps")),
                "taker": self.bps_to_rate(self.safe_string(market, "taker_fee_bps")),
                "precision": {
                    "amount": self.safe_number(market, "lot_size"),
                    "price": self.safe_number(market, "tick_size"),
                },
                "limits": {
                    "amount": {"min": self.safe_number(market, "min_size")},
                    "price": {"min": self.safe_number(market, "tick_size")},
                    "cost": {"min": self.safe_number(market, "min_notional")},
                    "leverage": {},
                },
                "created": None,
                "info": market,
            }
        )

    def bps_to_rate(self, bps: str | None) -> Any:
        return (
            None if bps is None else self.parse_number(Precise.string_div(bps, "10000"))
        )

    def fetch_ticker(self, symbol: str, params={}) -> Any:  # noqa: B006
        self.load_markets()
        market = self.market(symbol)
        response = self.public_get_ticker_pair(
            self.extend({"pair": market["id"]}, params)
        )
        return self.parse_ticker(response, market)

    def fetch_tickers(self, symbols: Any = None, params={}) -> Any:  # noqa: B006
        """One GET /v1/ticker per market (there is no all-pairs ticker)."""
        self.load_markets()
        symbols = self.market_symbols(symbols) or list(self.symbols)
        tickers = [self.fetch_ticker(symbol, params) for symbol in symbols]
        return self.filter_by_array_tickers(tickers, "symbol", symbols)

    def parse_ticker(self, ticker: dict[str, Any], market: Any = None) -> Any:
        market = self.safe_market(self.safe_string(ticker, "pair"), market, "-")
        timestamp = self.safe_integer(ticker, "server_time")
        return self.safe_ticker(
            {
                "symbol": market["symbol"],
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                "high": self.safe_string(ticker, "high"),
                "low": self.safe_string(ticker, "low"),
                "bid": self.safe_string(ticker, "best_bid"),
                "bidVolume": self.safe_string(ticker, "best_bid_size"),
                "ask": self.safe_string(ticker, "best_ask"),
                "askVolume": self.safe_string(ticker, "best_ask_size"),
                "vwap": None,
                "open": self.safe_string(ticker, "open"),
                "close": self.safe_string(ticker, "close"),
                "last": self.safe_string(ticker, "last_price"),
                "previousClose": None,
                "change": self.safe_string(ticker, "change"),
                "percentage": self.safe_string(ticker, "change_percent"),
                "average": None,
                "baseVolume": self.safe_string(ticker, "base_volume"),
                "quoteVolume": self.safe_string(ticker, "quote_volume"),
                "info": ticker,
            },
            market,
        )

    def fetch_order_book(self, symbol: str, limit: Any = None, params={}) -> Any:  # noqa: B006
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {"pair": market["id"]}
        if limit is not None:
            request["depth"] = limit
        response = self.public_get_orderbook_pair(self.extend(request, params))
        timestamp = self.safe_integer(response, "server_time")
        book = self.parse_order_book(response, market["symbol"], timestamp)
        book["nonce"] = self.safe_integer(response, "sequence")
        return book

    def fetch_trades(
        self,
        symbol: str,
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {"pair": market["id"]}
        if limit is not None:
            request["limit"] = limit
        response = self.public_get_trades_pair(self.extend(request, params))
        trades = self.safe_list(response, "trades", [])
        return self.parse_trades(trades, market, since, limit)

    def parse_trade(self, trade: dict[str, Any], market: Any = None) -> Any:
        """A public trade (``seq``, ``taker_side``, ``ts``) or one of your fills
        (``trade_id``, ``order_id``, ``side``, ``liquidity``, ``fee``)."""
        market = self.safe_market(self.safe_string(trade, "pair"), market, "-")
        timestamp = self.safe_integer(trade, "ts")
        if timestamp is None:
            timestamp = self.parse8601(self.safe_string(trade, "time"))
        fee = None
        fee_cost = self.safe_string(trade, "fee")
        if fee_cost is not None:
            fee = {
                "cost": fee_cost,
                "currency": self.safe_currency_code(
                    self.safe_string(trade, "fee_asset")
                ),
            }
        return self.safe_trade(
            {
                "id": self.safe_string_2(trade, "trade_id", "seq"),
                "order": self.safe_string(trade, "order_id"),
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                "symbol": market["symbol"],
                "type": None,
                "side": self.safe_string_2(trade, "side", "taker_side"),
                "takerOrMaker": self.safe_string(trade, "liquidity"),
                "price": self.safe_string(trade, "price"),
                "amount": self.safe_string(trade, "size"),
                "cost": self.safe_string(trade, "quote"),
                "fee": fee,
                "info": trade,
            },
            market,
        )

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1m",
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {
            "pair": market["id"],
            "interval": self.safe_string(self.timeframes, timeframe, timeframe),
        }
        if since is not None:
            request["start"] = since
        if limit is not None:
            request["limit"] = limit
        response = self.public_get_candles_pair(self.extend(request, params))
        candles = self.safe_list(response, "candles", [])
        return self.parse_ohlcvs(candles, market, timeframe, since, limit)

    def parse_ohlcv(self, ohlcv: dict[str, Any], market: Any = None) -> list[Any]:
        return [
            self.safe_integer(ohlcv, "start_ts"),
            self.safe_number(ohlcv, "open"),
            self.safe_number(ohlcv, "high"),
            self.safe_number(ohlcv, "low"),
            self.safe_number(ohlcv, "close"),
            self.safe_number(ohlcv, "volume"),
        ]

    # -- account -----------------------------------------------------------------

    def fetch_balance(self, params={}) -> Any:  # noqa: B006
        """The spot wallet (``params={"wallet": "margin"}`` for another)."""
        wallet = self.safe_string(params, "wallet", self.options["wallet"])
        response = self.private_get_account_balances(self.omit(params, "wallet"))
        result: dict[str, Any] = {"info": response}
        for row in self.safe_list(response, wallet, []):
            account = self.account()
            account["free"] = self.safe_string(row, "available")
            account["used"] = self.safe_string(row, "held")
            account["total"] = self.safe_string(row, "total")
            result[self.safe_currency_code(self.safe_string(row, "asset"))] = account
        return self.safe_balance(result)

    # -- orders ------------------------------------------------------------------

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Any,
        price: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        """``type`` limit or market; ``params``: ``triggerPrice`` (or
        ``stopPrice``) makes it a stop-limit / stop (market) order,
        ``clientOrderId`` (1-36 of [A-Za-z0-9_-], one made up when missing so
        a retry cannot place a second order), ``timeInForce`` GTC/IOC/FOK/PO,
        ``postOnly``, ``cost`` (market buys by quote amount), ``stp``."""
        self.load_markets()
        market = self.market(symbol)
        request = self.create_order_request(market, type, side, amount, price, params)
        response = self.private_post_orders(request)
        return self.parse_order(response, market)

    def create_market_buy_order_with_cost(
        self,
        symbol: str,
        cost: Any,
        params={},  # noqa: B006
    ) -> Any:
        """A market buy spending at most ``cost`` of the quote asset, fees
        included (the API's ``funds``)."""
        return self.create_order(
            symbol, "market", "buy", None, None, self.extend(params, {"cost": cost})
        )

    def create_order_request(
        self,
        market: Any,
        type: str,
        side: str,
        amount: Any,
        price: Any,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        symbol = market["symbol"]
        trigger = self.safe_string_2(params, "triggerPrice", "stopPrice")
        is_market = type == "market"
        post_only, params = self.handle_post_only(is_market, False, params)
        request: dict[str, Any] = {
            "pair": market["id"],
            "side": side,
            "client_order_id": self.safe_string(params, "clientOrderId")
            or uuid.uuid4().hex,
        }
        if trigger is not None:
            request["type"] = "stop" if is_market else "stop_limit"
            request["stop_price"] = self.price_to_precision(symbol, trigger)
        else:
            request["type"] = type
        cost = self.safe_string(params, "cost")
        if is_market and side == "buy" and cost is not None:
            request["funds"] = self.cost_to_precision(symbol, cost)
        else:
            request["size"] = self.amount_to_precision(symbol, amount)
        if not is_market:
            if price is None:
                raise InvalidOrder(self.id + " a limit order needs a price")
            request["price"] = self.price_to_precision(symbol, price)
        time_in_force = self.safe_string_upper(params, "timeInForce")
        if time_in_force is not None and time_in_force != "PO":
            request["time_in_force"] = time_in_force
        if post_only:
            request["post_only"] = True
        params = self.omit(
            params,
            [
                "triggerPrice",
                "stopPrice",
                "clientOrderId",
                "timeInForce",
                "postOnly",
                "cost",
            ],
        )
        return self.extend(request, params)

    def cancel_order(self, id: str, symbol: Any = None, params={}) -> Any:  # noqa: B006
        """Cancel by id, or by ``params={"clientOrderId": ...}``."""
        self.load_markets()
        request = {"order_id": self.order_ref(id, params)}
        params = self.omit(params, "clientOrderId")
        response = self.private_post_orders_order_id_cancel(
            self.extend(request, params)
        )
        return self.parse_order(self.safe_dict(response, "order", {}))

    def edit_order(
        self,
        id: str,
        symbol: str,
        type: str,
        side: str,
        amount: Any = None,
        price: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        """Amend a live GTC limit order (``POST /v1/orders/{id}/amend``, by id
        or ``params={"clientOrderId": ...}``): a new total ``amount`` (what
        already filled included) and/or a new ``price``. A smaller amount at
        the same price keeps the order's place in the queue; a new price or a
        larger amount is a cancel-replace under the same id that loses it (and
        may trade at once). Returns the order after the amend, or as it
        stands (``info.status`` ``pending``...) if the matcher has not answered
        within the server's deadline. ``type`` must be ``limit`` and ``side``
        is not sent: an amend changes neither."""
        if symbol is None:
            raise ArgumentsRequired(self.id + " edit_order() needs a symbol")
        if type is not None and type != "limit":
            raise InvalidOrder(
                self.id + " edit_order() amends limit orders only (type 'limit')"
            )
        self.load_markets()
        market = self.market(symbol)
        request: dict[str, Any] = {"order_id": self.order_ref(id, params)}
        if amount is not None:
            request["size"] = self.amount_to_precision(symbol, amount)
        if price is not None:
            request["price"] = self.price_to_precision(symbol, price)
        params = self.omit(params, "clientOrderId")
        response = self.private_post_orders_order_id_amend(self.extend(request, params))
        return self.parse_order(response, market)

    def cancel_all_orders(self, symbol: Any = None, params={}) -> Any:  # noqa: B006
        """The orders whose cancel was requested: ``canceled`` when done at once,
        ``open`` while the matcher still has to take them off the book."""
        self.load_markets()
        market = None
        request: dict[str, Any] = {}
        if symbol is not None:
            market = self.market(symbol)
            request["pair"] = market["id"]
        response = self.private_post_orders_cancel_all(self.extend(request, params))
        cancelled = self.safe_list(response, "cancelled", [])
        pending = self.safe_list(response, "pending", [])
        orders = [{"id": i, "status": "cancelled"} for i in cancelled] + [
            {"id": i, "status": "pending"} for i in pending
        ]
        return [
            self.safe_order(
                {
                    "id": order["id"],
                    "symbol": market["symbol"] if market else None,
                    "status": ORDER_STATUSES[order["status"]],
                    "info": order,
                },
                market,
            )
            for order in orders
        ]

    def fetch_order(self, id: str, symbol: Any = None, params={}) -> Any:  # noqa: B006
        """By id, or by ``params={"clientOrderId": ...}``."""
        self.load_markets()
        request = {"order_id": self.order_ref(id, params)}
        params = self.omit(params, "clientOrderId")
        response = self.private_get_orders_order_id(self.extend(request, params))
        return self.parse_order(response)

    def order_ref(self, id: Any, params: dict[str, Any]) -> str:
        client_order_id = self.safe_string(params, "clientOrderId")
        if client_order_id is not None:
            return "client:" + client_order_id
        if id is None:
            raise BadRequest(self.id + " needs an order id or a clientOrderId")
        return str(id)

    def fetch_orders(
        self,
        symbol: Any = None,
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        """Newest ``limit`` orders (server maximum 500), oldest first; ``status``
        in ``params`` takes the server's statuses (``live``, ``filled``...)."""
        self.load_markets()
        market = None
        request: dict[str, Any] = {}
        if symbol is not None:
            market = self.market(symbol)
            request["pair"] = market["id"]
        if since is not None:
            request["since"] = since
        if limit is not None:
            request["limit"] = limit
        response = self.private_get_orders(self.extend(request, params))
        orders = self.safe_list(response, "orders", [])
        return self.parse_orders(orders, market, since, limit)

    def fetch_open_orders(
        self,
        symbol: Any = None,
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        return self.fetch_orders(
            symbol, since, limit, self.extend({"status": "live"}, params)
        )

    def fetch_canceled_orders(
        self,
        symbol: Any = None,
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        return self.fetch_orders(
            symbol, since, limit, self.extend({"status": "cancelled"}, params)
        )

    def fetch_closed_orders(
        self,
        symbol: Any = None,
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        """Filled and cancelled orders (two requests, merged by time)."""
        filled = self.fetch_orders(
            symbol, since, limit, self.extend({"status": "filled"}, params)
        )
        cancelled = self.fetch_canceled_orders(symbol, since, limit, params)
        orders = self.sort_by(filled + cancelled, "timestamp")
        return self.filter_by_since_limit(orders, since, limit, "timestamp", True)

    def parse_order(self, order: dict[str, Any], market: Any = None) -> Any:
        market = self.safe_market(self.safe_string(order, "pair"), market, "-")
        timestamp = self.parse8601(self.safe_string(order, "created_at"))
        status = self.safe_string(order, "status")
        order_type = self.safe_string(order, "type")
        fee_cost = self.safe_number(order, "fee")
        fee = None
        if fee_cost is not None:
            fee = {
                "cost": fee_cost,
                "currency": self.safe_currency_code(
                    self.safe_string(order, "fee_asset")
                ),
            }
        fills = self.safe_list(order, "fills")
        return self.safe_order(
            {
                "id": self.safe_string(order, "id"),
                "clientOrderId": self.safe_string(order, "client_order_id"),
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                "lastTradeTimestamp": None,
                "lastUpdateTimestamp": self.parse8601(
                    self.safe_string(order, "updated_at")
                ),
                "symbol": market["symbol"],
                "type": {"stop": "market", "stop_limit": "limit"}.get(
                    order_type, order_type
                ),
                "timeInForce": self.safe_string(order, "time_in_force"),
                "postOnly": self.safe_bool(order, "post_only"),
                "side": self.safe_string(order, "side"),
                "price": self.safe_string(order, "price"),
                "triggerPrice": self.safe_string(order, "stop_price"),
                "amount": self.safe_string(order, "size"),
                "cost": self.safe_string(order, "filled_quote"),
                "average": self.safe_string(order, "average_price"),
                "filled": self.safe_string(order, "filled_size"),
                "remaining": self.safe_string(order, "remaining_size"),
                "status": ORDER_STATUSES.get(status, status),
                "fee": fee,
                "trades": self.parse_trades(fills, market) if fills else None,
                "info": order,
            },
            market,
        )

    def fetch_my_trades(
        self,
        symbol: Any = None,
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        """Your fills, newest ``limit`` (server maximum 500), oldest first."""
        self.load_markets()
        market = None
        request: dict[str, Any] = {}
        if symbol is not None:
            market = self.market(symbol)
            request["pair"] = market["id"]
        if limit is not None:
            request["limit"] = limit
        response = self.private_get_fills(self.extend(request, params))
        fills = self.safe_list(response, "fills", [])
        return self.parse_trades(fills, market, since, limit)

    def fetch_order_trades(
        self,
        id: str,
        symbol: Any = None,
        since: Any = None,
        limit: Any = None,
        params={},  # noqa: B006
    ) -> Any:
        return self.fetch_my_trades(
            symbol, since, limit, self.extend({"order_id": id}, params)
        )
