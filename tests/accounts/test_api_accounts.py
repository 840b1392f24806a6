"""Signed account endpoints: balances, transfers between own wallets, withdrawals."""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from apps.accounts import tasks, withdrawals
from apps.accounts.models import Balance, LedgerEntry, LedgerReason, Withdrawal
from apps.accounts.services import balance_deposit, balance_hold
from apps.accounts.withdrawals import (
    WithdrawalNotPending,
    withdrawal_complete,
    withdrawal_fail,
    withdrawal_request,
)
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed
from tests.factories import AssetFactory
from tests.helpers import BTC, USD, bal, run_concurrently

pytestmark = pytest.mark.django_db


def _call(client, key, method, url, payload=None, **kwargs):
    response = signed(client, key, method, url, payload, **kwargs)
    assert response.status_code < 500, response.content
    return response


@pytest.fixture
def wallets(btc, usd, alice):
    """alice: 2 BTC spot (0.5 of it held), 1,000 USD earn."""
    balance_deposit(user=alice, asset=btc, amount=2 * BTC)
    balance_hold(user=alice, asset=btc, amount=BTC // 2)
    balance_deposit(user=alice, asset=usd, amount=1_000 * USD, wallet="earn")
    return alice


# ------------------------------------------------------------------ balances


def test_balances_list_every_wallet_and_asset_with_zeros(
    client, wallets, read_key, bob
):
    AssetFactory(code="ETH", scale=8)
    balance_deposit(user=bob, asset=AssetFactory(code="BTC"), amount=7)  # not alice's
    response = _call(client, read_key, "GET", "/v1/account/balances")
    assert response.status_code == 200
    assert response["X-RateLimit-Cost"] == "5"
    body = response.json()
    assert set(body) == {"spot", "margin", "earn"}
    assert body["spot"] == [
        {
            "asset": "BTC",
            "available": "1.50000000",
            "held": "0.50000000",
            "total": "2.00000000",
        },
        {
            "asset": "ETH",
            "available": "0.00000000",
            "held": "0.00000000",
            "total": "0.00000000",
        },
        {
            "asset": "USD",
            "available": "0.000000",
            "held": "0.000000",
            "total": "0.000000",
        },
    ]
    assert [row["total"] for row in body["margin"]] == [
        "0.00000000",
        "0.00000000",
        "0.000000",
    ]
    assert body["earn"][2] == {
        "asset": "USD",
        "available": "1000.000000",
        "held": "0.000000",
        "total": "1000.000000",
    }


def test_balances_need_a_signature(client, wallets):
    response = client.get("/v1/account/balances")
    assert (response.status_code, error_code(response)) == (401, "AUTH_MISSING_HEADERS")


# ------------------------------------------------------------------ transfers

TRANSFER = {
    "asset": "BTC",
    "amount": "0.25",
    "from_wallet": "spot",
    "to_wallet": "margin",
}


def test_transfer_moves_available_and_returns_both_balances(
    client, wallets, trade_key, assert_ledger
):
    response = _call(client, trade_key, "POST", "/v1/account/transfers", TRANSFER)
    assert response.status_code == 200, response.content
    assert response["X-RateLimit-Cost"] == "1"
    assert response.json() == {
        "asset": "BTC",
        "amount": "0.25000000",
        "source": {
            "wallet": "spot",
            "available": "1.25000000",
            "held": "0.50000000",
            "total": "1.75000000",
        },
        "destination": {
            "wallet": "margin",
            "available": "0.25000000",
            "held": "0.00000000",
            "total": "0.25000000",
        },
    }
    assert bal(wallets, Balance.objects.first().asset, "margin") == (BTC // 4, 0)
    entries = LedgerEntry.objects.filter(reason=LedgerReason.TRANSFER)
    assert entries.count() == 2
    assert all(e.ref.startswith("api:") for e in entries)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_transfer_asset_code_is_case_insensitive(
    client, wallets, trade_key, assert_ledger
):
    response = _call(
        client,
        trade_key,
        "POST",
        "/v1/account/transfers",
        {**TRANSFER, "asset": "btc", "amount": "1.5"},
    )
    assert response.status_code == 200
    assert response.json()["source"]["available"] == "0.00000000"
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"asset": "DOGE"}, 404, "ACCOUNT_ASSET_NOT_FOUND"),
        ({"to_wallet": "spot"}, 400, "ACCOUNT_INVALID_TRANSFER"),
        ({"amount": "1.50000001"}, 400, "ACCOUNT_INSUFFICIENT_FUNDS"),
        ({"from_wallet": "earn"}, 400, "ACCOUNT_INSUFFICIENT_FUNDS"),
        ({"amount": 0.25}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"amount": 1}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"amount": "-1"}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"amount": "1e-3"}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"amount": " 1"}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"amount": "0.000000001"}, 400, "VALIDATION_TOO_MANY_DECIMALS"),
        ({"amount": "0"}, 400, "VALIDATION_ERROR"),
        ({"amount": None}, 400, "VALIDATION_ERROR"),
        ({"amount": ["1"]}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"from_wallet": "moon"}, 400, "VALIDATION_ERROR"),
        ({"to_wallet": None}, 400, "VALIDATION_ERROR"),
        ({"asset": "BTC\u0000"}, 400, "VALIDATION_ERROR"),
        ({"asset": "B" * 17}, 400, "VALIDATION_ERROR"),
        ({"asset": 5}, 400, "VALIDATION_INVALID_TYPE"),
        ({"asset": True}, 400, "VALIDATION_INVALID_TYPE"),
    ],
)
def test_transfer_refusals_have_their_codes(
    client, wallets, trade_key, assert_ledger, change, status, code
):
    before = LedgerEntry.objects.count()
    response = _call(
        client, trade_key, "POST", "/v1/account/transfers", {**TRANSFER, **change}
    )
    assert (response.status_code, error_code(response)) == (status, code), (
        response.content
    )
    assert LedgerEntry.objects.count() == before
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.parametrize("missing", ["asset", "amount", "from_wallet", "to_wallet"])
def test_transfer_missing_field_is_validation_error(
    client, wallets, trade_key, missing
):
    payload = {k: v for k, v in TRANSFER.items() if k != missing}
    response = _call(client, trade_key, "POST", "/v1/account/transfers", payload)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert missing in response.json()["error"]["details"]["fields"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "VALIDATION_MALFORMED_JSON"),
        (b"[1, 2]", "VALIDATION_INVALID_TYPE"),
        (b'"x"', "VALIDATION_INVALID_TYPE"),
        (b"null", "VALIDATION_INVALID_TYPE"),
        (b"\xff\xfe", "VALIDATION_MALFORMED_JSON"),
        (b'{"asset": "BTC", "asset": "ETH"}', "VALIDATION_DUPLICATE_KEY"),
    ],
)
def test_transfer_bad_bodies_are_400(client, wallets, trade_key, body, code):
    from tests.apikeys.helpers import sign_headers

    headers = sign_headers(trade_key, "POST", "/v1/account/transfers", body)
    response = client.post(
        "/v1/account/transfers",
        data=body,
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 400
    assert error_code(response) == code


def test_transfer_needs_a_trade_key(client, wallets, read_key):
    response = _call(client, read_key, "POST", "/v1/account/transfers", TRANSFER)
    assert (response.status_code, error_code(response)) == (
        403,
        "PERMISSION_SCOPE_MISSING",
    )


def test_transfer_from_a_foreign_ip_is_refused(client, wallets, trade_key):
    response = _call(
        client,
        trade_key,
        "POST",
        "/v1/account/transfers",
        TRANSFER,
        remote_addr="203.0.113.9",
    )
    assert (response.status_code, error_code(response)) == (
        403,
        "PERMISSION_IP_NOT_ALLOWED",
    )


# ------------------------------------------------------------------ withdrawals

WITHDRAW = {"asset": "BTC", "amount": "0.4", "address": "bc1qsandboxaddress0001"}


@pytest.fixture
def production(settings):
    settings.EXCHANGE_ENV = "production"


def test_withdrawal_in_production_holds_and_stays_pending(
    production,  # first: the key fixtures then make production (hkt_live_) keys
    client,
    wallets,
    withdraw_key,
    assert_ledger,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _call(client, withdraw_key, "POST", "/v1/withdrawals", WITHDRAW)
    assert response.status_code == 201, response.content
    assert response["X-RateLimit-Cost"] == "10"
    assert callbacks == []  # nothing scheduled: staff decide
    body = response.json()
    assert body["status"] == "pending"
    assert (body["asset"], body["amount"], body["wallet"]) == (
        "BTC",
        "0.40000000",
        "spot",
    )
    assert (body["txid"], body["failure_reason"], body["done_at"]) == (None, None, None)
    withdrawal = Withdrawal.objects.get()
    assert str(withdrawal.uuid) == body["id"]
    assert bal(wallets, withdrawal.asset) == (BTC + BTC // 10, BTC // 2 + 4 * BTC // 10)
    hold = LedgerEntry.objects.filter(reason=LedgerReason.HOLD).last()
    assert hold.ref == f"withdrawal:{withdrawal.uuid}"
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.fixture
def eager_celery():
    """Run the task in-process even when REDIS_URL configured a real broker
    (``Task.apply`` is Celery's local execution, as the eager mode uses)."""
    task = tasks.withdrawal_sandbox_confirm

    def run_here(args, countdown):
        task.apply(args=args, throw=True)

    with mock.patch.object(task, "apply_async", side_effect=run_here):
        yield


def test_sandbox_withdrawal_is_completed_by_the_task(
    client,
    wallets,
    withdraw_key,
    settings,
    assert_ledger,
    django_capture_on_commit_callbacks,
    eager_celery,
):
    settings.EXCHANGE_ENV = "sandbox"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _call(client, withdraw_key, "POST", "/v1/withdrawals", WITHDRAW)
    assert response.status_code == 201
    assert len(callbacks) == 1
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.status == "completed"
    assert withdrawal.txid == tasks.sandbox_txid(withdrawal.pk)
    assert bal(wallets, withdrawal.asset) == (BTC + BTC // 10, BTC // 2)
    out = LedgerEntry.objects.get(reason=LedgerReason.WITHDRAWAL)
    assert (out.delta_available, out.delta_held) == (0, -4 * BTC // 10)
    assert_ledger(holds=False)  # bare balance_hold: held for no order
    shown = _call(
        client, withdraw_key, "GET", f"/v1/withdrawals/{withdrawal.uuid}"
    ).json()
    assert shown["status"] == "completed" and shown["txid"].startswith("sandbox:")
    assert shown["done_at"] is not None


def test_sandbox_schedules_the_confirmation_with_a_countdown(wallets, btc, settings):
    settings.EXCHANGE_ENV = "sandbox"
    settings.SANDBOX_WITHDRAWAL_CONFIRM_SECONDS = 42
    with mock.patch.object(
        tasks.withdrawal_sandbox_confirm, "apply_async"
    ) as apply_async:
        withdrawal = withdrawal_request(
            user=wallets, asset=btc, amount=10, address="addr-0001"
        )
        withdrawals._schedule_sandbox_confirmation(withdrawal.pk)
    apply_async.assert_called_once_with(args=[withdrawal.pk], countdown=42)


def test_sandbox_withdrawal_stays_pending_if_scheduling_fails(
    wallets, btc, settings, django_capture_on_commit_callbacks, assert_ledger
):
    settings.EXCHANGE_ENV = "sandbox"
    with mock.patch.object(
        tasks.withdrawal_sandbox_confirm,
        "apply_async",
        side_effect=ConnectionError("broker down"),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            withdrawal = withdrawal_request(
                user=wallets, asset=btc, amount=10, address="addr-0001"
            )
    withdrawal.refresh_from_db()
    assert withdrawal.status == "pending"
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_confirmation_task_is_idempotent_and_skips_outside_the_sandbox(
    wallets, btc, settings, assert_ledger
):
    settings.EXCHANGE_ENV = "production"
    withdrawal = withdrawal_request(
        user=wallets, asset=btc, amount=10, address="addr-0001"
    )
    assert tasks.withdrawal_sandbox_confirm(withdrawal.pk) == "skipped"
    settings.EXCHANGE_ENV = "sandbox"
    assert tasks.withdrawal_sandbox_confirm(withdrawal.pk) == "completed"
    assert tasks.withdrawal_sandbox_confirm(withdrawal.pk) == "not_pending"
    assert LedgerEntry.objects.filter(reason=LedgerReason.WITHDRAWAL).count() == 1
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_withdrawal_fail_releases_the_hold(wallets, btc, production, assert_ledger):
    withdrawal = withdrawal_request(
        user=wallets, asset=btc, amount=BTC, address="addr-0001"
    )
    assert bal(wallets, btc) == (BTC // 2, BTC + BTC // 2)
    failed = withdrawal_fail(
        withdrawal_id=withdrawal.pk, reason="address on a sanctions list"
    )
    assert (failed.status, failed.failure_reason) == (
        "failed",
        "address on a sanctions list",
    )
    assert bal(wallets, btc) == (BTC + BTC // 2, BTC // 2)
    with pytest.raises(WithdrawalNotPending):
        withdrawal_complete(withdrawal_id=withdrawal.pk)
    with pytest.raises(WithdrawalNotPending):
        withdrawal_fail(withdrawal_id=withdrawal.pk, reason="again")
    assert bal(wallets, btc) == (BTC + BTC // 2, BTC // 2)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_withdrawal_complete_debits_once(wallets, btc, production, assert_ledger):
    withdrawal = withdrawal_request(
        user=wallets, asset=btc, amount=BTC, address="addr-0001"
    )
    done = withdrawal_complete(withdrawal_id=withdrawal.pk, txid="abc")
    assert (done.status, done.txid) == ("completed", "abc")
    with pytest.raises(WithdrawalNotPending) as err:
        withdrawal_complete(withdrawal_id=withdrawal.pk)
    assert (err.value.code, err.value.status) == ("ACCOUNT_WITHDRAWAL_NOT_PENDING", 409)
    assert bal(wallets, btc) == (BTC // 2, BTC // 2)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_withdrawal_from_another_wallet(
    production, client, wallets, withdraw_key, usd, assert_ledger
):
    response = _call(
        client,
        withdraw_key,
        "POST",
        "/v1/withdrawals",
        {
            "asset": "USD",
            "amount": "999.5",
            "address": "0xabcdef0123456789",
            "wallet": "earn",
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["wallet"] == "earn"
    assert bal(wallets, usd, "earn") == (500_000, 999_500_000)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_withdrawal_of_disabled_asset_is_refused(client, wallets, withdraw_key, btc):
    btc.withdraw_enabled = False
    btc.save()
    response = _call(client, withdraw_key, "POST", "/v1/withdrawals", WITHDRAW)
    assert (response.status_code, error_code(response)) == (
        409,
        "ACCOUNT_WITHDRAWALS_DISABLED",
    )
    assert not Withdrawal.objects.exists()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (
            {"amount": "1.50000001"},
            400,
            "ACCOUNT_INSUFFICIENT_FUNDS",
        ),  # 0.5 of 2 is held
        ({"asset": "DOGE"}, 404, "ACCOUNT_ASSET_NOT_FOUND"),
        ({"amount": 0.4}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"amount": "0.123456789"}, 400, "VALIDATION_TOO_MANY_DECIMALS"),
        ({"amount": "0"}, 400, "VALIDATION_ERROR"),
        ({"address": "short"}, 400, "VALIDATION_ERROR"),
        ({"address": "has spaces in it"}, 400, "VALIDATION_ERROR"),
        ({"address": "addr\u0000nul-byte"}, 400, "VALIDATION_ERROR"),
        ({"address": "x" * 129}, 400, "VALIDATION_ERROR"),
        ({"address": 12345678}, 400, "VALIDATION_INVALID_TYPE"),
        ({"wallet": "moon"}, 400, "VALIDATION_ERROR"),
        ({"asset": None}, 400, "VALIDATION_ERROR"),
        ({"address": None}, 400, "VALIDATION_ERROR"),
    ],
)
def test_withdrawal_refusals_have_their_codes(
    production, client, wallets, withdraw_key, assert_ledger, change, status, code
):
    before = LedgerEntry.objects.count()
    response = _call(
        client, withdraw_key, "POST", "/v1/withdrawals", {**WITHDRAW, **change}
    )
    assert (response.status_code, error_code(response)) == (status, code), (
        response.content
    )
    assert not Withdrawal.objects.exists()
    assert LedgerEntry.objects.count() == before
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_withdrawal_needs_a_withdraw_key(client, wallets, trade_key):
    response = _call(client, trade_key, "POST", "/v1/withdrawals", WITHDRAW)
    assert (response.status_code, error_code(response)) == (
        403,
        "PERMISSION_SCOPE_MISSING",
    )
    assert response.json()["error"]["details"]["required_scope"] == "withdraw"


def test_withdrawal_get_shows_pending_state_with_a_read_key(
    production, client, wallets, withdraw_key, read_key
):
    created = _call(client, withdraw_key, "POST", "/v1/withdrawals", WITHDRAW).json()
    response = _call(client, read_key, "GET", f"/v1/withdrawals/{created['id']}")
    assert response.status_code == 200
    assert response["X-RateLimit-Cost"] == "1"
    assert response.json() == created


@pytest.mark.parametrize(
    "ref", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00", "1", "x" * 300]
)
def test_withdrawal_get_unknown_is_not_found(client, wallets, read_key, ref):
    response = _call(client, read_key, "GET", f"/v1/withdrawals/{ref}")
    assert (response.status_code, error_code(response)) == (
        404,
        "ACCOUNT_WITHDRAWAL_NOT_FOUND",
    )


def test_withdrawal_of_another_user_is_not_found(client, wallets, btc, bob, production):
    withdrawal = withdrawal_request(
        user=wallets, asset=btc, amount=10, address="addr-0001"
    )
    bobs_key = ApiKeyFactory(user=bob, scope="read")
    response = _call(client, bobs_key, "GET", f"/v1/withdrawals/{withdrawal.uuid}")
    assert (response.status_code, error_code(response)) == (
        404,
        "ACCOUNT_WITHDRAWAL_NOT_FOUND",
    )


# ------------------------------------------------------------------ admin


@pytest.fixture
def staff_client(client, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def test_admin_lists_withdrawals_read_only(staff_client, wallets, btc, production):
    withdrawal = withdrawal_request(
        user=wallets, asset=btc, amount=10, address="addr-0001"
    )
    assert staff_client.get("/admin/accounts/withdrawal/").status_code == 200
    response = staff_client.post(
        f"/admin/accounts/withdrawal/{withdrawal.pk}/change/", {"amount": 1}
    )
    assert response.status_code == 403
    withdrawal.refresh_from_db()
    assert withdrawal.amount == 10


def test_admin_complete_action_asks_then_calls_the_service(
    staff_client, wallets, btc, production, assert_ledger
):
    first = withdrawal_request(user=wallets, asset=btc, amount=10, address="addr-0001")
    second = withdrawal_request(user=wallets, asset=btc, amount=20, address="addr-0002")
    withdrawal_fail(withdrawal_id=second.pk, reason="bad")
    form = {"action": "complete", "_selected_action": [first.pk, second.pk]}
    page = staff_client.post("/admin/accounts/withdrawal/", form)
    assert page.status_code == 200 and b"txid" in page.content
    done = staff_client.post(
        "/admin/accounts/withdrawal/",
        {**form, "apply": "1", "txid": "0xfeed"},
        follow=True,
    )
    assert done.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.txid, second.status) == (
        "completed",
        "0xfeed",
        "failed",
    )
    assert_ledger(holds=False)  # bare balance_hold: held for no order


def test_admin_fail_action_needs_a_reason_and_releases(
    staff_client, wallets, btc, production, assert_ledger
):
    withdrawal = withdrawal_request(
        user=wallets, asset=btc, amount=10, address="addr-0001"
    )
    form = {"action": "fail", "_selected_action": [withdrawal.pk], "apply": "1"}
    again = staff_client.post("/admin/accounts/withdrawal/", {**form, "reason": ""})
    assert again.status_code == 200  # the form again, nothing done
    withdrawal.refresh_from_db()
    assert withdrawal.status == "pending"
    staff_client.post("/admin/accounts/withdrawal/", {**form, "reason": "wrong chain"})
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.failure_reason) == ("failed", "wrong chain")
    assert bal(wallets, btc) == (3 * BTC // 2, BTC // 2)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


# ------------------------------------------------------------------ concurrency


@pytest.mark.django_db(transaction=True)
def test_concurrent_withdrawals_never_overdraw(btc, alice, settings, assert_ledger):
    """Real transactions and row locks (PostgreSQL; serialised on SQLite)."""
    settings.EXCHANGE_ENV = "production"
    balance_deposit(user=alice, asset=btc, amount=100)
    results = [
        type(outcome).__name__
        for outcome in run_concurrently(
            lambda: withdrawal_request(
                user=alice, asset=btc, amount=40, address="addr-0001"
            ),
            threads=3,
        )
    ]
    assert sorted(results) == ["InsufficientFunds", "Withdrawal", "Withdrawal"]
    assert Withdrawal.objects.count() == 2
    assert bal(alice, btc) == (20, 80)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.skipif(
    bool(django_settings.REDIS_URL),
    reason="with REDIS_URL tasks go to the broker, not eager",
)
@pytest.mark.django_db(transaction=True)
def test_without_redis_the_sandbox_task_runs_eagerly_at_commit(
    client, wallets, withdraw_key, settings, assert_ledger
):
    """Real commits: the eager task runs when the request's transaction
    commits, and the answer is re-read after it."""
    settings.EXCHANGE_ENV = "sandbox"
    response = _call(client, withdraw_key, "POST", "/v1/withdrawals", WITHDRAW)
    assert response.status_code == 201
    assert response.json()["status"] == "completed"
    assert Withdrawal.objects.get().status == "completed"
    assert_ledger(holds=False)  # bare balance_hold: held for no order
