"""The database cache's expired rows are purged (the embedded default's
nonces and rate counters), live ones kept, on both databases."""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection

from apps.core.cache_purge import cache_purge_expired

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def db_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "purgetest": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "purge_test_cache",
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        },
    }
    call_command("createcachetable", "purge_test_cache")
    yield caches["purgetest"]
    caches["purgetest"].clear()


def test_expired_rows_go_and_live_ones_stay(db_cache):
    for n in range(30):
        db_cache.add(f"nonce:{n}", 1, timeout=1)
    for n in range(5):
        db_cache.add(f"live:{n}", 1, timeout=600)
    time.sleep(2.1)  # whole seconds: DatabaseCache stores expiry so
    assert cache_purge_expired() >= 30
    assert [db_cache.get(f"live:{n}") for n in range(5)] == [1] * 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM purge_test_cache")
        assert cursor.fetchone()[0] == 5
    assert cache_purge_expired() == 0


def test_a_purge_is_bounded_and_resumes(db_cache, monkeypatch):
    import apps.core.cache_purge as purge

    monkeypatch.setattr(purge, "PURGE_CHUNK", 4)
    for n in range(10):
        db_cache.add(f"nonce:{n}", 1, timeout=1)
    time.sleep(2.1)
    first = cache_purge_expired(max_rows=6)
    assert first == 6
    assert cache_purge_expired() >= 4
