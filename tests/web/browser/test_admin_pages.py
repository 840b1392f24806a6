"""The staff back office in a real browser: its pages load under the site's
Content-Security-Policy without a single blocked script or style, and are
saved as screenshots like every other page."""

from __future__ import annotations

import pytest

from apps.markets.services import markets_seed
from tests.apikeys.factories import ApiKeyFactory
from tests.factories import UserFactory
from tests.web.browser.pages import save_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "staff-pass-phrase-1"


def test_admin_pages_run_under_the_csp(live_exchange, new_page):
    pairs = markets_seed()
    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    staff.set_password(PASSWORD)
    staff.save()
    key = ApiKeyFactory(user=UserFactory(username="trader"), scope="read")
    live = live_exchange()
    page = new_page()
    page.goto(live.url("/admin/login/"))
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/admin/")
    save_screenshot(page, "admin-index")
    for path, name in (
        ("/admin/apikeys/apikey/", "admin-keys"),
        (f"/admin/apikeys/apikey/{key.pk}/change/", "admin-key"),
        ("/admin/markets/pair/", "admin-pairs"),
        (f"/admin/markets/pair/{pairs[0].pk}/change/", "admin-pair"),
        ("/admin/accounts/balance/", "admin-balances"),
    ):
        response = page.goto(live.url(path))
        assert response.status == 200, path
        save_screenshot(page, name)
    assert page.errors == []
