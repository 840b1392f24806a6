"""The exchange's Python client: request signing and a small REST client.

Plain Python + httpx, no Django: the sandbox bots, the benchmarks and the tests
use it, and the server imports :mod:`exchange.client.signing` so that server and
client share the one implementation of the signing algorithm.
"""

from exchange.client.rest import ApiError, ExchangeClient, NetworkError
from exchange.client.signing import sign_request

__all__ = ["ApiError", "ExchangeClient", "NetworkError", "sign_request"]
