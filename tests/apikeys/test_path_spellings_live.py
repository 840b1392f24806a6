"""The signed path line on real servers (docs/signing.md, "The prehash"):
daphne passes the path as sent (ASGI ``raw_path``), granian's WSGI interface
only the decoded one, and both accept a signature over the path as sent in
either canonical spelling, e.g. a cancel by ``client:<client_order_id>`` from a
generated client, which percent-encodes the colon."""

from __future__ import annotations

import httpx
import pytest

from exchange.client import signing
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.servers import start_servers, stop_servers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENCODED = "/v1/orders/client%3Amm-1"
DECODED = "/v1/orders/client:mm-1"
LOWER = "/v1/orders/client%3amm-1"  # not canonical: only daphne sees it as sent


def _get(base: str, api_key, sent: str, signed_as: str) -> tuple[int, str]:
    headers = signing.signed_headers(
        secret=api_key.secret, key=api_key.key, method="GET", path=signed_as
    )
    with httpx.Client(base_url=base, timeout=10) as http:
        request = http.build_request("GET", sent, headers=headers)
        assert request.url.raw_path.decode() == sent  # httpx sends it unchanged
        response = http.send(request)
    return response.status_code, response.json()["error"]["code"]


def test_daphne_and_granian_verify_the_path_as_sent_in_either_spelling(alice):
    procs, (daphne, granian) = start_servers(["daphne", "granian"])
    try:
        api_key = ApiKeyFactory(user=alice, scope="read")
        # 404 ORDER_NOT_FOUND: authenticated, then the order lookup answered.
        found = (404, "ORDER_NOT_FOUND")
        refused = (401, "AUTH_INVALID_SIGNATURE")
        for base in (daphne, granian):
            assert _get(base, api_key, ENCODED, ENCODED) == found, base
            assert _get(base, api_key, DECODED, DECODED) == found, base
            assert _get(base, api_key, ENCODED, DECODED) == found, base
            assert _get(base, api_key, DECODED, ENCODED) == found, base
            assert _get(base, api_key, ENCODED, "/v1/orders/client%3Amm-2") == (
                refused
            ), base
        assert _get(daphne, api_key, LOWER, LOWER) == found
        assert _get(granian, api_key, LOWER, LOWER) == refused
    finally:
        stop_servers(procs)
