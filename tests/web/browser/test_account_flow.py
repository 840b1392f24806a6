"""An account holder's first session, in a real browser against a live
exchange (daphne + matcher): sign up (funded in the sandbox), create a trade
key with an allow-list, copy its secret, trade through the REST API with it,
see the order on the orders page and cancel it there, top up from the
faucet, revoke the key and see the next signed request refused."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from apps.markets.services import markets_seed
from exchange.client import ApiError, ExchangeClient
from tests.web.browser.pages import PHONE, save_screenshot, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-pass-phrase-42"


def _wait_status(client: ExchangeClient, order_id: str, status: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        order = client.get_order(order_id)
        if order["status"] == status:
            return order
        assert time.monotonic() < deadline, order
        time.sleep(0.2)


def test_sign_up_key_trade_cancel_on_the_page_and_revoke(live_exchange, new_page):
    markets_seed()
    live = live_exchange()
    page = new_page(permissions=["clipboard-read", "clipboard-write"])

    # Sign up: the sandbox funds the new account and opens the key page.
    page.goto(live.url("/signup/"))
    save_screenshot(page, "signup")
    username = f"trader{uuid.uuid4().hex[:6]}"
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/settings/api-keys/$"))
    assert "Your sandbox account holds" in page.content()

    # A trade key with an allow-list; the secret is shown once, and copied.
    page.fill("input[name=label]", "my bot")
    page.check("input[name=scope][value=trade]")
    page.fill("textarea[name=ip_allowlist]", "127.0.0.1")
    page.click("form.create-key button[type=submit]")
    key = page.inner_text("#key").strip()
    secret = page.inner_text("#secret").strip()
    assert key.startswith("hkt_test_") and len(secret) > 30
    page.click("button.copy[data-copy=secret]")
    wait_for(page, "() => document.querySelector('button.copied') !== null")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    save_screenshot(page, "api-key-created")

    # Trade with it through the REST API: a bid far under the market rests.
    with ExchangeClient(live.base, key=key, secret=secret) as api:
        order = api.place_order(
            pair="BTC-USD", side="buy", type="limit", price="1000", size="0.01"
        )
        order = _wait_status(api, order["id"], "open")

        # The orders page shows it; cancel it there.
        page.goto(live.url("/account/orders/"))
        row = page.locator(f"#open-orders tr[data-order-id='{order['id']}']")
        assert row.count() == 1
        assert "1000.000000" in row.inner_text()
        save_screenshot(page, "orders")
        row.locator("button", has_text="Cancel").click()
        page.wait_for_url(re.compile(r"/account/orders/$"))
        assert "Cancel requested" in page.content()
        _wait_status(api, order["id"], "cancelled")
        page.reload()
        assert (
            page.locator(f"#open-orders tr[data-order-id='{order['id']}']").count() == 0
        )
        history = page.locator(f"#order-history tr[data-order-id='{order['id']}']")
        assert "cancelled" in history.inner_text()

        # Balances, and the sandbox faucet's button.
        page.goto(live.url("/account/balances/"))
        before = page.inner_text("#wallet-spot tr[data-asset=USD] td.num >> nth=0")
        page.click("#faucet")
        page.wait_for_url(re.compile(r"/account/balances/$"))
        assert "Credited" in page.content()
        after = page.inner_text("#wallet-spot tr[data-asset=USD] td.num >> nth=0")
        assert float(after) > float(before)  # display text only, not money math
        save_screenshot(page, "balances")

        # Revoke the key on its page: the next signed request is refused.
        page.goto(live.url("/settings/api-keys/"))
        page.locator("tr", has_text=key).locator("button", has_text="Revoke").click()
        page.wait_for_url(re.compile(r"/settings/api-keys/$"))
        assert "revoked" in page.locator("tr", has_text=key).first.inner_text()
        save_screenshot(page, "api-keys")
        with pytest.raises(ApiError) as refused:
            api.balances()
        assert (refused.value.status, refused.value.code) == (401, "AUTH_KEY_REVOKED")
    assert page.errors == []


def test_account_pages_on_a_phone(live_exchange, new_page):
    markets_seed()
    live = live_exchange()
    page = new_page(viewport=PHONE)
    page.goto(live.url("/signup/"))
    page.fill("input[name=username]", "phoneuser")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/settings/api-keys/$"))
    save_screenshot(page, "api-keys-phone")
    page.goto(live.url("/account/balances/"))
    save_screenshot(page, "balances-phone")
    # Readable on a phone: nothing wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    assert page.errors == []
