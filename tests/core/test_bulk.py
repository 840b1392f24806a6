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
