import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.accounts.models import Balance, LedgerEntry
from apps.accounts.services import balance_deposit


@pytest.mark.django_db
def test_deposit_command_credits_through_the_money_service(
    alice, btc, capsys, assert_ledger
):
    call_command("deposit", "alice", "btc", "0.5", "--wallet", "earn")
    b = Balance.objects.get(user=alice, asset=btc, wallet="earn")
    assert b.available == 50_000_000
    assert LedgerEntry.objects.get().reason == "deposit"
    assert "deposited 0.50000000 BTC" in capsys.readouterr().out
    assert_ledger()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "BTC", "1"], "No user"),
        (["alice", "DOGE", "1"], "ACCOUNT_ASSET_NOT_FOUND"),
        (["alice", "BTC", "0.000000001"], "VALIDATION_TOO_MANY_DECIMALS"),
        (["alice", "BTC", "-1"], "VALIDATION_INVALID_DECIMAL"),
    ],
)
def test_deposit_command_refuses_bad_input(alice, btc, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("deposit", *args)
    assert LedgerEntry.objects.count() == 0


@pytest.fixture
def staff_client(client, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "asset",
        "pair",
        "balance",
        "ledgerentry",
        "order",
        "trade",
        "account",
        "marketevent",
    ],
)
def test_admin_changelists_render(staff_client, btc_usd, alice, path):
    balance_deposit(user=alice, asset=btc_usd.base, amount=5)
    app = {
        "asset": "markets",
        "pair": "markets",
        "marketevent": "markets",
        "balance": "accounts",
        "ledgerentry": "accounts",
        "account": "accounts",
        "order": "orders",
        "trade": "orders",
    }[path]
    response = staff_client.get(f"/admin/{app}/{path}/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_balances_and_ledger_are_read_only_in_admin(staff_client, alice, btc):
    b = balance_deposit(user=alice, asset=btc, amount=5)
    response = staff_client.post(
        f"/admin/accounts/balance/{b.pk}/change/", {"available": 999}
    )
    assert response.status_code == 403
    b.refresh_from_db()
    assert b.available == 5
    entry = LedgerEntry.objects.get()
    assert (
        staff_client.post(
            f"/admin/accounts/ledgerentry/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )


@pytest.mark.django_db
def test_admin_adjust_action_writes_a_ledger_entry(
    staff_client, alice, btc, assert_ledger
):
    b = balance_deposit(user=alice, asset=btc, amount=100_000_000)
    response = staff_client.post(
        "/admin/accounts/balance/",
        {
            "action": "adjust",
            "_selected_action": [b.pk],
            "apply": "1",
            "amount": "-0.25",
            "reason": "chargeback 7",
        },
    )
    assert response.status_code == 302
    b.refresh_from_db()
    assert b.available == 75_000_000
    entry = LedgerEntry.objects.latest("id")
    assert (entry.reason, entry.delta_available, entry.ref) == (
        "adjustment",
        -25_000_000,
        "chargeback 7",
    )
    assert_ledger()


@pytest.mark.django_db
def test_admin_halts_a_pair_with_an_action(staff_client, btc_usd):
    response = staff_client.post(
        "/admin/markets/pair/",
        {"action": "set_halted", "_selected_action": [btc_usd.pk]},
    )
    assert response.status_code == 302
    btc_usd.refresh_from_db()
    assert btc_usd.status == "halted"
