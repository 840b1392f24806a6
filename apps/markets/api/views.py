"""Public market data: thin views over apps.markets.selectors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import DEEP_BOOK_TIERS
from apps.accounts.selectors import account_tier_get
from apps.apikeys.api.base import OptionallySignedAPIView, PublicAPIView
from apps.core.api.formats import from_unix_ms
from apps.core.api.schema import SECURITY_SCHEMES
from apps.core.errors import ErrorCode, ValidationFailed
from apps.core.middleware import now_ms
from apps.markets import selectors
from apps.markets.api import examples
from apps.markets.api import serializers as s
from apps.markets.candles import INTERVALS

PUBLIC_MAX_DEPTH = 100
SIGNED_MAX_DEPTH = 1_000  # for verified and market-maker accounts
DEFAULT_TRADES, MAX_TRADES = 100, 1_000
DEFAULT_CANDLES, MAX_CANDLES = 500, 1_000  # Binance's klines limits

PAIR = OpenApiParameter("pair", str, "path", description="Symbol, e.g. BTC-USD.")
DEPTH = OpenApiParameter(
    "depth",
    int,
    description="Levels per side: 1-100 (default 100); up to 1000 "
    "when signed by a verified or market-maker account.",
)
TRADES_LIMIT = OpenApiParameter("limit", int, description="1-1000, default 100.")
CANDLES_LIMIT = OpenApiParameter("limit", int, description="1-1000, default 500.")
# Public, or signed (all four headers) to unlock deeper books.
OPTIONAL_SIGNATURE = [{}, {name: [] for name in SECURITY_SCHEMES}]


def parse_count(raw: str | None, *, field: str, default: int, maximum: int) -> int:
    """A positive integer query parameter, at most ``maximum``; VALIDATION_ERROR
    (details name the field and the maximum) for anything else."""
    if raw is None:
        return default
    if (
        not (raw.isascii() and raw.isdigit() and len(raw) <= 7)
        or not 1 <= int(raw) <= maximum
    ):
        raise ValidationFailed(
            f"{field} must be an integer from 1 to {maximum}.",
            details={"field": field, f"max_{field}": maximum},
        )
    return int(raw)


def book_max_depth(api_key: Any) -> int:
    """1000 levels for a signed request of a verified or market-maker account,
    else 100."""
    if (
        api_key is not None
        and account_tier_get(user_id=api_key.user_id) in DEEP_BOOK_TIERS
    ):
        return SIGNED_MAX_DEPTH
    return PUBLIC_MAX_DEPTH


def depth_weight(depth: int) -> int:
    return 1 if depth <= 100 else 5 if depth <= 500 else 10


class MarketListView(PublicAPIView):
    """Every pair with its grid (tick, lot, minimums), fees and status."""

    rate_weight = 1
    error_codes = ()

    @extend_schema(
        operation_id="market_list",
        tags=["markets"],
        responses=s.MarketListOutputSerializer,
        examples=examples.MARKETS,
    )
    def get(self, request: Request) -> Response:
        return Response(
            s.MarketListOutputSerializer({"markets": selectors.pair_list()}).data
        )


class TickerView(PublicAPIView):
    """Last trade, best bid/ask and 24-hour statistics of a pair."""

    rate_weight = 1
    error_codes = (ErrorCode.MARKET_NOT_FOUND,)

    @extend_schema(
        operation_id="ticker_get",
        tags=["markets"],
        parameters=[PAIR],
        responses=s.TickerOutputSerializer,
        examples=examples.TICKER,
    )
    def get(self, request: Request, pair: str) -> Response:
        market = selectors.pair_get(symbol=pair)
        server_time = now_ms()
        stats = selectors.ticker_get(pair=market, now=from_unix_ms(server_time))
        body = {"pair": market, "stats": stats, "server_time": server_time}
        return Response(s.TickerOutputSerializer(body).data)


class OrderBookView(OptionallySignedAPIView):
    """Aggregated order book levels with the book's sequence number. Public up to depth 100; signed requests of verified accounts up to 1000."""

    rate_weight = 1
    error_codes = (ErrorCode.MARKET_NOT_FOUND,)
    rate_weight_description = (
        "1 for depth <= 100, 5 for <= 500, 10 for <= 1000 (depth above 100 needs a "
        "request signed by a verified or market-maker account)."
    )
    query_parameters = {"GET": [DEPTH]}
    _depth: int | None = None

    def depth(self, request: Request) -> int:
        """The validated depth, parsed once per request (weight and handler)."""
        if self._depth is None:
            maximum = book_max_depth(request.api_key)  # type: ignore[attr-defined]
            try:
                self._depth = parse_count(
                    request.query_params.get("depth"),
                    field="depth",
                    default=PUBLIC_MAX_DEPTH,
                    maximum=maximum,
                )
            except ValidationFailed as exc:
                if maximum < SIGNED_MAX_DEPTH:  # say how to get more
                    exc.details["verified_max_depth"] = SIGNED_MAX_DEPTH
                    exc.message += (
                        f" Requests signed by a verified or market-maker "
                        f"account get up to {SIGNED_MAX_DEPTH:,}."
                    )
                raise
        return self._depth

    def get_rate_weight(self, request: Request) -> int:
        try:
            return depth_weight(self.depth(request))
        except ValidationFailed:  # refused in the handler; costs the default
            return self.rate_weight

    @extend_schema(
        operation_id="orderbook_get",
        tags=["markets"],
        auth=OPTIONAL_SIGNATURE,
        description="Aggregated levels and the book sequence they are exactly as of. "
        "Public; a request carrying X-Api-Key is checked like any signed request "
        "and is charged to the key's budget.",
        parameters=[PAIR, DEPTH],
        responses=s.OrderBookOutputSerializer,
        examples=examples.ORDERBOOK,
    )
    def get(self, request: Request, pair: str) -> Response:
        depth = self.depth(request)
        market = selectors.pair_get(symbol=pair)
        book = selectors.orderbook_snapshot(pair=market, depth=depth)
        body = {"pair": market, "book": book, "server_time": now_ms()}
        return Response(s.OrderBookOutputSerializer(body).data)


class PublicTradeListView(PublicAPIView):
    """Recent public trades of a pair, newest first."""

    rate_weight = 1
    error_codes = (ErrorCode.MARKET_NOT_FOUND,)
    rate_weight_description = "1 for limit <= 100, 5 above."
    query_parameters = {"GET": [TRADES_LIMIT]}

    def get_rate_weight(self, request: Request) -> int:
        try:
            limit = parse_count(
                request.query_params.get("limit"),
                field="limit",
                default=DEFAULT_TRADES,
                maximum=MAX_TRADES,
            )
        except ValidationFailed:  # refused in the handler; costs the default
            return self.rate_weight
        return 5 if limit > 100 else 1

    @extend_schema(
        operation_id="trade_list_public",
        tags=["markets"],
        parameters=[PAIR, TRADES_LIMIT],
        responses=s.PublicTradeListOutputSerializer,
        examples=examples.TRADES,
    )
    def get(self, request: Request, pair: str) -> Response:
        limit = parse_count(
            request.query_params.get("limit"),
            field="limit",
            default=DEFAULT_TRADES,
            maximum=MAX_TRADES,
        )
        market = selectors.pair_get(symbol=pair)
        trades = selectors.trades_recent(pair=market, limit=limit)
        body = {"pair": market.symbol, "trades": trades}
        return Response(
            s.PublicTradeListOutputSerializer(body, context={"pair": market}).data
        )


def candle_limit(request: Request) -> int:
    return parse_count(
        request.query_params.get("limit"),
        field="limit",
        default=DEFAULT_CANDLES,
        maximum=MAX_CANDLES,
    )


class CandleListView(PublicAPIView):
    """OHLCV candles of a pair built from its trades, oldest first."""

    rate_weight = 2
    error_codes = (ErrorCode.MARKET_NOT_FOUND,)
    rate_weight_description = "1 for limit <= 100, 2 for <= 500 (the default), 5 above."
    query_parameters = {"GET": [s.CandleQuerySerializer, CANDLES_LIMIT]}

    def get_rate_weight(self, request: Request) -> int:
        try:
            limit = candle_limit(request)
        except ValidationFailed:  # refused in the handler; costs the default
            return self.rate_weight
        return 1 if limit <= 100 else 2 if limit <= 500 else 5

    @extend_schema(
        operation_id="candle_list",
        tags=["markets"],
        description="Candles (OHLCV) built from the trade journal, oldest first: "
        "the same numbers as the `candles` stream, rebuilt identically after a "
        "restart. A bucket without trades is a candle whose open, high, low and "
        "close are the previous close, with zero volume; there are none before "
        "the pair's first trade. With `start`, the first `limit` candles from "
        "it; otherwise the last `limit` candles before `end` (default: now, "
        "including the forming candle). Page forward with `start` = the last "
        "candle's `start_ts` + the interval.",
        parameters=[
            PAIR,
            s.CandleQuerySerializer,
            CANDLES_LIMIT,
        ],
        responses=s.CandleListOutputSerializer,
        examples=examples.CANDLES,
    )
    def get(self, request: Request, pair: str) -> Response:
        limit = candle_limit(request)
        query = s.CandleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        market = selectors.pair_get(symbol=pair)
        server_time = now_ms()
        candles = selectors.candles_for_pair(
            pair=market,
            interval_ms=INTERVALS[q["interval"]],
            start=q.get("start"),
            end=q.get("end"),
            limit=limit,
            now=server_time,
        )
        body = {
            "pair": market.symbol,
            "interval": q["interval"],
            "candles": candles,
            "server_time": server_time,
        }
        return Response(
            s.CandleListOutputSerializer(body, context={"pair": market}).data
        )
