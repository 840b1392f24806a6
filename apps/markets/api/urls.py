from django.urls import path

from apps.markets.api.views import (
    CandleListView,
    MarketListView,
    OrderBookView,
    PublicTradeListView,
    TickerView,
)

urlpatterns = [
    path("markets", MarketListView.as_view(), name="market-list"),
    path("ticker/<str:pair>", TickerView.as_view(), name="ticker"),
    path("orderbook/<str:pair>", OrderBookView.as_view(), name="orderbook"),
    path("trades/<str:pair>", PublicTradeListView.as_view(), name="trades-public"),
    path("candles/<str:pair>", CandleListView.as_view(), name="candles"),
]
