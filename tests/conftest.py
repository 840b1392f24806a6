from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from apps.accounts.selectors import ledger_problems
from apps.accounts.services import balance_deposit
from apps.apikeys import auth as apikey_auth
from apps.markets import selectors as market_selectors
from apps.matching.books import PairBook
from apps.matching.fencing import ownership_take
from apps.matching.processor import BatchProcessor
from apps.orders import services as order_services
from apps.orders.selectors import held_problems
from tests.apikeys.factories import ApiKeyFactory
from tests.factories import AssetFactory, PairFactory, UserFactory
from tests.helpers import BTC, USD

_DB_FIXTURES = {"db", "transactional_db", "live_server"}


@pytest.fixture(autouse=True)
def fresh_cache(request: pytest.FixtureRequest):
    """Nonces, rate counters and cached keys must not leak between tests (the
    database cache's table is not flushed by transactional tests, and Redis
    is not rolled back at all)."""
    marker = request.node.get_closest_marker("django_db")
    fixtures = set(request.fixturenames)
    if marker is None and not fixtures & _DB_FIXTURES:
        yield
        return
    transactional = (marker is not None and marker.kwargs.get("transaction")) or bool(
        fixtures & {"transactional_db", "live_server"}
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    cache.clear()
    order_services._queue_memo.clear()
    market_selectors._pair_memo.clear()
    apikey_auth._marked.clear()
    yield
    cache.clear()


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def btc(db):
    return AssetFactory(
        code="BTC", name="Bitcoin", scale=8, circulating_supply=19_800_000
    )


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
    """Call after a scenario: the books must agree with the ledger, and held
    funds with the live orders and withdrawals that hold them (pass
    ``holds=False`` after bare ``balance_hold`` calls, which hold for nothing)."""

    def check(*, holds: bool = True) -> None:
        assert ledger_problems() == []
        if holds:
            assert held_problems() == []

    return check


@pytest.fixture
def funded(btc_usd, alice, bob):
    """BTC-USD with alice and bob holding 10 BTC and 1,000,000 USD each."""
    for user in (alice, bob):
        balance_deposit(user=user, asset=btc_usd.base, amount=10 * BTC)
        balance_deposit(user=user, asset=btc_usd.quote, amount=1_000_000 * USD)
    return btc_usd


@pytest.fixture
def matcher(btc_usd):
    """An in-process matcher over BTC-USD: call it to drain the queue."""
    epochs = ownership_take(pair_ids=[btc_usd.pk], owner="test matcher")
    book = PairBook(btc_usd, epoch=epochs[btc_usd.pk])
    book.rebuild()
    processor = BatchProcessor({btc_usd.pk: book})

    def run(limit: int = 500) -> int:
        total = 0
        while n := processor.run_once(limit):
            total += n
        return total

    run.book = book
    run.processor = processor
    return run


@pytest.fixture
def read_key(alice):
    return ApiKeyFactory(user=alice, scope="read")


@pytest.fixture
def trade_key(alice):
    return ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1"])


@pytest.fixture
def withdraw_key(alice):
    return ApiKeyFactory(user=alice, scope="withdraw", ip_allowlist=["127.0.0.1"])
