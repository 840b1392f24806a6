"""Fixtures of the REST order tests."""

from __future__ import annotations

import pytest

from tests.apikeys.factories import ApiKeyFactory


@pytest.fixture
def quick_wait(settings):
    """A short wait for the matcher's result: these tests run no matcher, so
    an order is answered ``pending`` after 30 ms instead of a second."""
    settings.ORDER_RESULT_TIMEOUT_MS = 30


@pytest.fixture
def key(alice):
    """A trade key with no IP allow-list (conftest's ``trade_key`` has one)."""
    return ApiKeyFactory(user=alice, scope="trade")
