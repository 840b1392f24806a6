"""The exchange's Python client: request signing, a small REST client, and a
WebSocket client of the public streams that keeps local order books, and
a signed WebSocket session (private streams with resume, order entry).

Plain Python + httpx + websockets, no Django: the sandbox bots, the benchmarks
and the tests use it, and the server imports :mod:`exchange.client.signing` so
that server and client share the one implementation of the signing algorithm.
"""

from exchange.client.book import BookOutOfSync, LocalBook
from exchange.client.rest import ApiError, ExchangeClient, NetworkError
from exchange.client.signing import sign_request
from exchange.client.trading import PrivateGap, TradingStream
from exchange.client.ws import MarketStream

__all__ = [
    "ApiError",
    "BookOutOfSync",
    "ExchangeClient",
    "LocalBook",
    "MarketStream",
    "NetworkError",
    "PrivateGap",
    "TradingStream",
    "sign_request",
]
