"""Public market data on the wire: every amount a decimal string in its
asset's units (prices in the quote asset, sizes in the base asset)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import DecimalString, NamedChoiceField
from apps.core.api.formats import MAX_UNIX_MS, from_unix_ms, iso_utc, unix_ms
from apps.core.money import format_units
from apps.markets.candles import INTERVALS, Candle
from apps.markets.models import Pair, PairStatus
from apps.markets.selectors import BookSnapshot, TickerStats
from apps.orders.models import Side, Trade


def price_str(pair: Pair, ticks: int | None) -> str | None:
    return None if ticks is None else pair.format_price(ticks)


def size_str(pair: Pair, lots: int | None) -> str | None:
    return None if lots is None else pair.format_size(lots)


def percent_change(open_ticks: int, close_ticks: int, *, decimals: int = 2) -> str:
    """(close - open) / open x 100 as a decimal string of ``decimals`` places,
    rounded half to even (banker's rounding), in exact integer arithmetic."""
    numerator = (close_ticks - open_ticks) * 100 * 10**decimals
    quotient, remainder = divmod(abs(numerator), open_ticks)
    if 2 * remainder > open_ticks or (2 * remainder == open_ticks and quotient % 2):
        quotient += 1
    return format_units(quotient if numerator >= 0 else -quotient, decimals)


# ----------------------------------------------------------------- markets


class MarketOutputSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    base = serializers.CharField(help_text="Base asset code.")
    quote = serializers.CharField(help_text="Quote asset code.")
    status = serializers.ChoiceField(choices=PairStatus.values)
    tick_size = DecimalString(help_text="Price step, in the quote asset.")
    lot_size = DecimalString(help_text="Size step, in the base asset.")
    min_size = DecimalString(help_text="Smallest order size, in the base asset.")
    min_notional = DecimalString(help_text="Smallest price x size, in the quote asset.")
    maker_fee_bps = serializers.IntegerField()
    taker_fee_bps = serializers.IntegerField()
    price_band_bps = serializers.IntegerField(
        help_text="Market orders never trade beyond the best price +/- this."
    )

    def to_representation(self, pair: Pair) -> dict[str, Any]:
        base_scale, quote_scale = pair.base.scale, pair.quote.scale
        return {
            "symbol": pair.symbol,
            "base": pair.base.code,
            "quote": pair.quote.code,
            "status": pair.status,
            "tick_size": format_units(pair.tick_size, quote_scale),
            "lot_size": format_units(pair.lot_size, base_scale),
            "min_size": format_units(pair.min_size, base_scale),
            "min_notional": format_units(pair.min_notional, quote_scale),
            "maker_fee_bps": pair.maker_fee_bps,
            "taker_fee_bps": pair.taker_fee_bps,
            "price_band_bps": pair.price_band_bps,
        }


class MarketListOutputSerializer(serializers.Serializer):
    markets = MarketOutputSerializer(many=True)


# ----------------------------------------------------------------- ticker


class TickerOutputSerializer(serializers.Serializer):
    """``pair`` is the Pair; ``stats`` the selector's TickerStats; ``now`` the
    server time the 24-hour window ends at."""

    pair = serializers.CharField()
    last_price = DecimalString(allow_null=True, help_text="Price of the last trade.")
    last_size = DecimalString(allow_null=True, help_text="Size of the last trade.")
    best_bid = DecimalString(allow_null=True)
    best_bid_size = DecimalString(
        allow_null=True, help_text="Total size at the best bid."
    )
    best_ask = DecimalString(allow_null=True)
    best_ask_size = DecimalString(
        allow_null=True, help_text="Total size at the best ask."
    )
    open = DecimalString(
        allow_null=True, help_text="First trade price in the last 24 h."
    )
    high = DecimalString(allow_null=True)
    low = DecimalString(allow_null=True)
    close = DecimalString(
        allow_null=True, help_text="Last trade price in the last 24 h."
    )
    change = DecimalString(allow_null=True, help_text="close - open, exact.")
    change_percent = DecimalString(
        allow_null=True,
        help_text="(close - open) / open x 100, 2 decimals, rounded half to even.",
    )
    base_volume = DecimalString(help_text="Base traded in the last 24 h.")
    quote_volume = DecimalString(help_text="Quote traded in the last 24 h.")
    market_cap = DecimalString(
        allow_null=True,
        help_text="last_price x the base asset's circulating supply, in the quote "
        "asset; null without a last price or a known supply.",
    )
    sequence = serializers.IntegerField(help_text="The book sequence of best bid/ask.")
    server_time = serializers.IntegerField(help_text="Unix ms; the window ends here.")

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        pair: Pair = instance["pair"]
        stats: TickerStats = instance["stats"]
        book = stats.book
        bid = book.bids[0] if book.bids else (None, None)
        ask = book.asks[0] if book.asks else (None, None)
        change = change_percent = None
        if stats.open is not None and stats.close is not None:
            change = price_str(pair, stats.close - stats.open)
            change_percent = percent_change(stats.open, stats.close)
        supply = pair.base.circulating_supply
        cap = None
        if stats.last_price is not None and supply:
            cap = format_units(
                stats.last_price * pair.tick_size * supply, pair.quote.scale
            )
        return {
            "pair": pair.symbol,
            "last_price": price_str(pair, stats.last_price),
            "last_size": size_str(pair, stats.last_size),
            "best_bid": price_str(pair, bid[0]),
            "best_bid_size": size_str(pair, bid[1]),
            "best_ask": price_str(pair, ask[0]),
            "best_ask_size": size_str(pair, ask[1]),
            "open": price_str(pair, stats.open),
            "high": price_str(pair, stats.high),
            "low": price_str(pair, stats.low),
            "close": price_str(pair, stats.close),
            "change": change,
            "change_percent": change_percent,
            "base_volume": size_str(pair, stats.base_volume),
            "quote_volume": format_units(stats.quote_volume, pair.quote.scale),
            "market_cap": cap,
            "sequence": book.sequence,
            "server_time": instance["server_time"],
        }


# ----------------------------------------------------------------- order book


def _levels(help_text: str) -> serializers.ListField:
    level = serializers.ListField(
        child=DecimalString(), min_length=2, max_length=2, help_text="[price, size]"
    )
    return serializers.ListField(child=level, help_text=help_text)


class OrderBookOutputSerializer(serializers.Serializer):
    pair = serializers.CharField()
    sequence = serializers.IntegerField(
        help_text="The pair's market-event sequence these levels are exactly as of: "
        "apply stream deltas with a greater seq."
    )
    bids = _levels("Best (highest) first; sizes summed over the orders at the price.")
    asks = _levels("Best (lowest) first; sizes summed over the orders at the price.")
    server_time = serializers.IntegerField(help_text="Unix ms.")

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        pair: Pair = instance["pair"]
        book: BookSnapshot = instance["book"]
        return {
            "pair": pair.symbol,
            "sequence": book.sequence,
            "bids": [[price_str(pair, p), size_str(pair, s)] for p, s in book.bids],
            "asks": [[price_str(pair, p), size_str(pair, s)] for p, s in book.asks],
            "server_time": instance["server_time"],
        }


# ----------------------------------------------------------------- trades


class PublicTradeOutputSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Per-pair trade sequence, gap-free.")
    price = DecimalString()
    size = DecimalString()
    taker_side = NamedChoiceField(choices=Side.values, component="Side")
    time = serializers.CharField(help_text="ISO 8601 UTC with milliseconds.")
    ts = serializers.IntegerField(help_text="The same instant in Unix ms.")

    def to_representation(self, trade: Trade) -> dict[str, Any]:
        pair: Pair = self.context["pair"]
        return {
            "seq": trade.seq,
            "price": price_str(pair, trade.price),
            "size": size_str(pair, trade.size),
            "taker_side": trade.taker_side,
            "time": iso_utc(trade.created_at, "milliseconds"),
            "ts": unix_ms(trade.created_at),
        }


class PublicTradeListOutputSerializer(serializers.Serializer):
    pair = serializers.CharField()
    trades = PublicTradeOutputSerializer(many=True, help_text="Newest first.")


# ----------------------------------------------------------------- candles


class CandleQuerySerializer(serializers.Serializer):
    """interval, start, end; ``limit`` is parsed like the trades endpoint's."""

    interval = serializers.ChoiceField(
        choices=list(INTERVALS),
        default="1m",
        help_text="Candle length, aligned to the Unix epoch in UTC (1d starts at "
        "UTC midnight). Default 1m.",
    )
    start = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_UNIX_MS,
        help_text="Unix ms, inclusive: the first candle starting at or after it. "
        "Given: the first `limit` candles from here.",
    )
    end = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_UNIX_MS,
        help_text="Unix ms, exclusive: candles starting before it (and never "
        "after now). Without start: the last `limit` candles before it.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "start" in data and "end" in data and data["start"] > data["end"]:
            raise serializers.ValidationError({"start": ["Must not be after end."]})
        return data


class CandleOutputSerializer(serializers.Serializer):
    start = serializers.CharField(
        help_text="The bucket's start, ISO 8601 UTC with milliseconds."
    )
    start_ts = serializers.IntegerField(help_text="The same instant in Unix ms.")
    open = DecimalString(help_text="First trade's price (by trade seq).")
    high = DecimalString()
    low = DecimalString()
    close = DecimalString(help_text="Last trade's price (by trade seq).")
    volume = DecimalString(help_text="Base traded, in the base asset.")
    quote_volume = DecimalString(help_text="Quote traded, in the quote asset.")
    trades = serializers.IntegerField(help_text="Number of trades.")
    closed = serializers.BooleanField(
        help_text="The bucket has ended: this candle is final. False for the "
        "forming candle."
    )

    def to_representation(self, candle: Candle) -> dict[str, Any]:
        pair: Pair = self.context["pair"]
        return {
            "start": iso_utc(from_unix_ms(candle.start), "milliseconds"),
            "start_ts": candle.start,
            "open": pair.format_price(candle.open),
            "high": pair.format_price(candle.high),
            "low": pair.format_price(candle.low),
            "close": pair.format_price(candle.close),
            "volume": pair.format_size(candle.volume),
            "quote_volume": format_units(candle.quote_volume, pair.quote.scale),
            "trades": candle.trades,
            "closed": candle.closed,
        }


class CandleListOutputSerializer(serializers.Serializer):
    pair = serializers.CharField()
    interval = serializers.CharField()
    candles = CandleOutputSerializer(
        many=True,
        help_text="Oldest first. A bucket without trades carries the previous "
        "close as open, high, low and close, with zero volumes; none before the "
        "pair's first trade.",
    )
    server_time = serializers.IntegerField(help_text="Unix ms; `closed` is as of it.")
