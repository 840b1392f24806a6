"""The account holders' balances and orders pages: the same numbers and the
same services as the REST API, on both databases."""

from __future__ import annotations

import re

import pytest

from apps.accounts.services import balance_deposit
from apps.core.api.formats import iso_utc
from apps.orders.models import CommandKind, OrderCommand
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed
from tests.helpers import bal, place
from tests.sandbox.conftest import production  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

BTC = 100_000_000
USD = 1_000_000


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def _row(page: str, wallet: str, asset: str) -> list[str]:
    """The available, held and total cells of one asset's row in one wallet."""
    section = page[page.index(f'id="wallet-{wallet}"') :]
    section = section[: section.index("</section>")]
    row = re.search(rf'data-asset="{asset}">(.*?)</tr>', section, re.S).group(1)
    return re.findall(r'<td class="num">([^<]*)</td>', row)


@pytest.mark.parametrize("path", ["/account/balances/", "/account/orders/"])
def test_the_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_balances_show_each_wallet_with_available_and_held(
    logged_in, funded, alice, assert_ledger
):
    order = place(alice, funded, side="buy", price="50000", size="0.5")
    assert order.hold_amount == 25_050 * USD  # 25,000 USD and the taker fee's worth
    balance_deposit(user=alice, asset=funded.base, amount=BTC // 4, wallet="earn")
    page = logged_in.get("/account/balances/").content.decode()
    assert _row(page, "spot", "USD") == [
        "974950.000000",
        "25050.000000",
        "1000000.000000",
    ]
    assert _row(page, "spot", "BTC") == ["10.00000000", "0.00000000", "10.00000000"]
    assert _row(page, "earn", "BTC") == ["0.25000000", "0.00000000", "0.25000000"]
    assert _row(page, "margin", "USD") == ["0.000000", "0.000000", "0.000000"]
    assert_ledger()


def test_a_transfer_moves_available_funds_between_wallets(
    logged_in, funded, alice, assert_ledger
):
    response = logged_in.post(
        "/account/balances/",
        {
            "asset": "BTC",
            "amount": "1.5",
            "from_wallet": "spot",
            "to_wallet": "margin",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/account/balances/")
    assert bal(alice, funded.base) == (85 * BTC // 10, 0)
    assert bal(alice, funded.base, "margin") == (15 * BTC // 10, 0)
    page = logged_in.get("/account/balances/").content.decode()
    assert "Moved 1.50000000 BTC from spot to margin." in page
    assert _row(page, "margin", "BTC") == ["1.50000000", "0.00000000", "1.50000000"]
    assert_ledger()


@pytest.mark.parametrize(
    ("amount", "to_wallet", "message"),
    [
        ("11", "margin", "balance is too low"),
        ("0.000000001", "margin", "decimal"),
        ("abc", "margin", "decimal"),
        ("1", "spot", "same"),
        ("-1", "margin", ""),
    ],
)
def test_a_bad_transfer_is_refused_on_the_form_and_moves_nothing(
    logged_in, funded, alice, amount, to_wallet, message, assert_ledger
):
    response = logged_in.post(
        "/account/balances/",
        {
            "asset": "BTC",
            "amount": amount,
            "from_wallet": "spot",
            "to_wallet": to_wallet,
        },
    )
    assert response.status_code == 200  # the form again, with its error
    page = response.content.decode()
    assert 'class="errorlist' in page and message in page
    assert bal(alice, funded.base) == (10 * BTC, 0)
    assert bal(alice, funded.base, "margin") == (0, 0)
    assert_ledger()


def test_the_faucet_button_tops_up_in_the_sandbox(logged_in, funded, alice):
    page = logged_in.get("/account/balances/").content.decode()
    assert 'action="/account/balances/faucet"' in page
    before = bal(alice, funded.quote)[0]
    response = logged_in.post("/account/balances/faucet")
    assert response.status_code == 302
    assert bal(alice, funded.quote)[0] > before
    page = logged_in.get("/account/balances/").content.decode()
    assert "Credited" in page and "claim 1 of" in page


def test_in_production_there_is_no_faucet_button_nor_route(
    logged_in,
    funded,
    alice,
    production,  # noqa: F811 - the fixture
):
    page = logged_in.get("/account/balances/").content.decode()
    assert "faucet" not in page.lower()
    before = bal(alice, funded.quote)
    assert logged_in.post("/account/balances/faucet").status_code == 404
    assert bal(alice, funded.quote) == before


def test_orders_page_lists_open_orders_and_history_with_fills(
    logged_in, funded, alice, bob, matcher
):
    resting = place(alice, funded, side="buy", price="50000", size="0.5")
    sold = place(alice, funded, side="sell", price="60000", size="0.3")
    matcher()
    taker = place(bob, funded, side="buy", price="60000", size="0.1")
    matcher()
    page = logged_in.get("/account/orders/").content.decode()
    open_part = page[page.index('id="open-orders"') : page.index('id="order-history"')]
    assert str(resting.uuid) in open_part and str(sold.uuid) in open_part
    assert str(taker.uuid) not in page  # bob's order
    history = page[page.index('id="order-history"') :]
    assert "partially_filled" in history
    fill = re.search(r'<tr class="fill" data-trade-id="1">(.*?)</tr>', history, re.S)
    assert fill is not None, history
    assert "60000.000000" in fill.group(1) and "0.10000000" in fill.group(1)
    assert "maker" in fill.group(1)


def test_orders_page_shows_each_fill_as_the_rest_fills_answer_does(
    client, logged_in, funded, alice, bob, matcher
):
    place(alice, funded, side="sell", price="60000", size="0.3")
    matcher()
    place(bob, funded, side="buy", price="60000", size="0.1")
    place(bob, funded, side="buy", price="61000", size="0.05")
    matcher()
    alice_pays = place(alice, funded, side="buy", price="59000", size="0.2")
    matcher()  # no fill: the page lists this order with none
    rows = logged_in.get("/account/orders/").context["history"]
    page_fills = [
        {**fill, "time": iso_utc(fill["time"])} for row in rows for fill in row["fills"]
    ]
    rest = signed(client, ApiKeyFactory(user=alice, scope="read"), "GET", "/v1/fills")
    assert len(page_fills) == 2
    assert sorted(page_fills, key=lambda f: f["trade_id"]) == sorted(
        rest.json()["fills"], key=lambda f: f["trade_id"]
    )
    assert all(f["order_id"] != str(alice_pays.uuid) for f in page_fills)


def test_orders_page_filters_by_pair_status_and_side(logged_in, funded, alice, matcher):
    buy = place(alice, funded, side="buy", price="50000", size="0.5")
    sell = place(alice, funded, side="sell", price="60000", size="0.3")
    matcher()
    page = logged_in.get("/account/orders/?side=sell&status=open").content.decode()
    history = page[page.index('id="order-history"') :]
    assert str(sell.uuid) in history and str(buy.uuid) not in history
    page = logged_in.get("/account/orders/?status=filled").content.decode()
    assert "No orders." in page[page.index('id="order-history"') :]
    page = logged_in.get("/account/orders/?pair=NOPE-USD").content.decode()
    assert str(buy.uuid) in page  # an unknown pair is ignored, not a 500


def test_cancel_on_the_orders_page_queues_the_cancel_for_the_matcher(
    logged_in, funded, alice, bob, matcher, assert_ledger
):
    order = place(alice, funded, side="buy", price="50000", size="0.5")
    matcher()
    response = logged_in.post(f"/account/orders/{order.uuid}/cancel")
    assert response.status_code == 302
    assert (
        OrderCommand.objects.filter(order=order, kind=CommandKind.CANCEL).count() == 1
    )
    matcher()
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)
    assert_ledger()


def test_another_users_order_cannot_be_cancelled_from_the_page(
    logged_in, funded, alice, bob, matcher
):
    theirs = place(bob, funded, side="buy", price="50000", size="0.5")
    matcher()
    response = logged_in.post(f"/account/orders/{theirs.uuid}/cancel", follow=True)
    assert "No such order for this account." in response.content.decode()
    assert not OrderCommand.objects.filter(
        order=theirs, kind=CommandKind.CANCEL
    ).exists()


def test_cancel_all_on_the_page_cancels_only_the_users_orders(
    logged_in, funded, alice, bob, matcher, assert_ledger
):
    mine = [
        place(alice, funded, side="buy", price=p, size="0.1") for p in ("100", "200")
    ]
    theirs = place(bob, funded, side="buy", price="300", size="0.1")
    matcher()
    logged_in.post("/account/orders/cancel-all")
    matcher()
    for order in mine:
        order.refresh_from_db()
        assert order.status == "cancelled"
    theirs.refresh_from_db()
    assert theirs.status == "open"
    assert_ledger()


def test_page_actions_need_post_and_csrf(funded, alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    order = place(alice, funded, side="buy", price="50000", size="0.5")
    assert strict.get(f"/account/orders/{order.uuid}/cancel").status_code == 405
    assert strict.post(f"/account/orders/{order.uuid}/cancel").status_code == 403
    assert strict.post("/account/balances/faucet").status_code == 403
    assert not OrderCommand.objects.filter(kind=CommandKind.CANCEL).exists()
