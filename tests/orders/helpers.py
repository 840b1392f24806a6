"""Helpers of the REST order tests."""

from __future__ import annotations

from tests.apikeys.helpers import signed


def post(client, key, payload, path="/v1/orders"):
    """A signed POST of ``payload`` (JSON) with ``key``."""
    return signed(client, key, "POST", path, payload)
