"""Public market pages: the markets overview and one page per pair.

The views render only the page's frame (which pairs exist, their names and
grids). Every market figure on the page (book, trades, ticker, candles) is
fetched by the browser from the public REST API and the public WebSocket,
exactly as a bot sees them (static/web/*.js): no private back channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.errors import DomainError
from apps.markets.models import Pair
from apps.markets.selectors import pair_get, pair_list

CANDLE_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")
BOOK_DEPTH = 50  # levels a side the page keeps (and checks) from the stream


def step_decimals(step: int, scale: int) -> int:
    """Decimals a grid step needs: a tick of 10,000 at scale 6 (0.01) needs 2."""
    decimals = scale
    while decimals > 0 and step % 10 == 0:
        step //= 10
        decimals -= 1
    return decimals


@dataclass(frozen=True)
class MarketFrame:
    """What a page needs to know of a pair before the data arrives."""

    symbol: str
    base: str
    base_name: str
    quote: str
    status: str
    price_decimals: int
    size_decimals: int

    @classmethod
    def of(cls, pair: Pair) -> MarketFrame:
        return cls(
            symbol=pair.symbol,
            base=pair.base.code,
            base_name=pair.base.name,
            quote=pair.quote.code,
            status=pair.status,
            price_decimals=step_decimals(pair.tick_size, pair.quote.scale),
            size_decimals=step_decimals(pair.lot_size, pair.base.scale),
        )


def markets_overview(request: HttpRequest) -> HttpResponse:
    """Every pair; the browser fills in last price, 24h change and volume
    from the ticker channel."""
    markets = [MarketFrame.of(pair) for pair in pair_list()]
    return render(request, "web/markets.html", {"markets": markets})


def market_page(request: HttpRequest, symbol: str) -> HttpResponse:
    """One pair's live market; ``/markets/btc-usd`` redirects to the
    canonical ``/markets/BTC-USD``. An unknown pair is a 404 page."""
    try:
        pair = pair_get(symbol=symbol)
    except DomainError:
        return render(
            request, "web/market_missing.html", {"symbol": symbol[:32]}, status=404
        )
    if pair.symbol != symbol:
        return redirect("web:market", symbol=pair.symbol, permanent=True)
    context = {
        "market": MarketFrame.of(pair),
        "intervals": CANDLE_INTERVALS,
        "depth": BOOK_DEPTH,
    }
    return render(request, "web/market.html", context)
