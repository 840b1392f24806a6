from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.selectors import ledger_problems
from tests.factories import AssetFactory, PairFactory, UserFactory


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def btc(db):
    return AssetFactory(code="BTC", name="Bitcoin", scale=8, circulating_supply=19_800_000)


@pytest.fixture
def usd(db):
    return AssetFactory(code="USD", name="US Dollar", scale=6)


@pytest.fixture
def btc_usd(btc, usd):
    return PairFactory(symbol="BTC-USD", base=btc, quote=usd)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def assert_ledger():
    """Call after a scenario: the books must agree with the ledger."""

    def check() -> None:
        assert ledger_problems() == []

    return check
