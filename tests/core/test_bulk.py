import pytest
from django.db import connection
from django.utils import timezone

from apps.accounts.models import Balance, LedgerEntry
from apps.accounts.services import balance_deposit


@pytest.mark.django_db
def test_raw_sql_timestamps_are_stored_like_the_orms(alice, btc):
    """Rows written by the money service's raw SQL compare correctly with ORM
    filters (on SQLite both must be Django's naive-UTC text)."""
    before = timezone.now()
    balance_deposit(user=alice, asset=btc, amount=5)  # creates the row (ORM path)
    balance_deposit(user=alice, asset=btc, amount=5)  # UPDATE ... RETURNING path
    assert Balance.objects.filter(updated_at__gte=before).count() == 1
    assert LedgerEntry.objects.filter(created_at__gte=before).count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT updated_at FROM accounts_balance")
        (stored,) = cursor.fetchone()
    if connection.vendor == "sqlite":
        assert "+" not in str(stored)


@pytest.mark.django_db
def test_bulk_insert_stores_each_rows_timestamp_exactly(alice):
    """COPY writes each distinct stamp once as text: rows sharing a stamp,
    rows with their own, whole seconds and None all read back exactly."""
    from datetime import UTC, datetime, timedelta

    from apps.accounts.models import AccountEvent
    from apps.core.bulk import bulk_insert

    now = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    stamps = [now, now, now + timedelta(microseconds=1), now.replace(microsecond=0)]
    stamps += [stamps[2]]
    bulk_insert(
        AccountEvent,
        ("user_id", "channel", "seq", "payload", "created_at"),
        [(alice.pk, "orders", i, "{}", at) for i, at in enumerate(stamps, 1)],
    )
    assert (
        list(AccountEvent.objects.order_by("seq").values_list("created_at", flat=True))
        == stamps
    )
