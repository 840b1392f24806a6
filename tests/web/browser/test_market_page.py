"""The public market pages in Debian's Chromium against a live exchange
(daphne + the matcher on the test database: SQLite's journal poller, or
PostgreSQL with Redis): the page shows what the public API says, follows an
order placed through the signed REST API, draws its charts, and shows and
recovers from a forced resync and a dropped connection."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from exchange.client import ExchangeClient
from tests.apikeys.factories import ApiKeyFactory
from tests.matching.processes import wait_drained
from tests.web.browser.market_scenery import build_markets, traders
from tests.web.browser.pages import PHONE, canvas_painted, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# docs/websocket.md's worked example.
DOC_CHECKSUM = (
    "62990.000000:0.50000000:63010.000000:0.25000000:62980.000000:1.20000000",
    1182633689,
)

# Records every state the status badge takes, so a short-lived "resyncing"
# is seen even if it lasts one frame.
WATCH_STATUS = """() => {
  const badge = document.querySelector("[data-role=status]");
  window.seenStates = [];
  new MutationObserver(() => window.seenStates.push(badge.dataset.state))
    .observe(badge, {attributes: true, attributeFilter: ["data-state"]});
}"""


def wait_live(page: Any) -> None:
    page.wait_for_selector("[data-role=status][data-state=live]")


def book_prices(page: Any, side: str) -> list[str]:
    return page.locator(f"[data-role={side}] td.price").all_inner_texts()


def shown(text: str) -> str:
    """A wire price as the page shows it (2 decimals, thousands commas)."""
    whole, _, frac = text.partition(".")
    return f"{int(whole):,}.{(frac + '00')[:2]}"


def assert_book_matches_rest(page: Any, base: str) -> None:
    """The page's top levels are the REST order book's, once it settles."""
    book = httpx.get(f"{base}/v1/orderbook/BTC-USD?depth=5", timeout=5).json()
    want_bids = [shown(p) for p, _ in book["bids"][:5]]
    want_asks = [shown(p) for p, _ in book["asks"][:5]]
    wait_for(
        page,
        """([bids, asks]) => {
          const cells = (role) => Array.from(
            document.querySelectorAll(`[data-role=${role}] td.price`),
            (td) => td.textContent);
          const shownBids = cells("bids").slice(0, bids.length);
          const shownAsks = cells("asks").reverse().slice(0, asks.length);
          return JSON.stringify(shownBids) === JSON.stringify(bids)
            && JSON.stringify(shownAsks) === JSON.stringify(asks);
        }""",
        arg=[want_bids, want_asks],
    )


def test_market_page_is_live_follows_api_orders_and_recovers(
    live_exchange, new_page, page, screenshot
):
    maker, taker = traders()
    live = live_exchange()
    build_markets(live.matcher, maker, taker)
    key = ApiKeyFactory(user=taker, scope="trade")  # maker holds the book

    # The overview: every pair with its ticker from the stream.
    page.goto(live.url("/"))
    wait_live(page)
    for symbol in ("BTC-USD", "ETH-USD", "ETH-BTC"):
        row = page.locator(f"tr[data-pair={symbol}]")
        assert row.locator("a.pair-link").get_attribute("href") == f"/markets/{symbol}"
        wait_for(
            page,
            "(s) => document.querySelector(`tr[data-pair=${s}]`).dataset.seq",
            arg=symbol,
        )
        assert re.fullmatch(
            r"[\d,]+\.\d+", row.locator("[data-field=last_price]").inner_text()
        )
        assert re.fullmatch(
            r"[+-][\d.]+%", row.locator("[data-field=change_percent]").inner_text()
        )
    assert page.locator("nav a[href='/v1/docs']").count() == 1
    screenshot(page, "markets-desktop")

    # The market page: book, trades, ticker, candles and depth chart.
    page.goto(live.url("/markets/BTC-USD"))
    wait_live(page)
    assert page.evaluate("(s) => HKT.crc32(s)", DOC_CHECKSUM[0]) == DOC_CHECKSUM[1]
    assert_book_matches_rest(page, live.base)
    wait_for(page, "document.querySelectorAll('[data-role=trades] tr').length >= 20")
    wait_for(
        page,
        "Number(document.querySelector('[data-role=market]').dataset.candles) > 30",
    )
    assert canvas_painted(page, "canvas.depth")
    assert canvas_painted(page, "[data-role=candles] canvas")
    last = httpx.get(f"{live.base}/v1/ticker/BTC-USD", timeout=5).json()["last_price"]
    assert page.locator(".ticker-bar [data-field=last_price]").inner_text() == shown(
        last
    )

    # An order placed through the signed REST API appears in the book ...
    best_bid = httpx.get(f"{live.base}/v1/orderbook/BTC-USD?depth=1", timeout=5).json()
    bid = best_bid["bids"][0][0]
    new_bid = f"{int(bid.split('.')[0]) + 1}.00"
    with ExchangeClient(live.base, key.key, key.secret) as client:
        placed = client.place_order(
            pair="BTC-USD", side="buy", type="limit", price=new_bid, size="0.0123"
        )
        assert placed["status"] == "open", placed
        wait_for(
            page,
            "(p) => document.querySelector('[data-role=bids] td.price').textContent === p",
            arg=shown(new_bid),
        )
        # ... and one that trades appears in the trades, at the top.
        best_ask = httpx.get(
            f"{live.base}/v1/orderbook/BTC-USD?depth=1", timeout=5
        ).json()
        ask = best_ask["asks"][0][0]
        taken = client.place_order(
            pair="BTC-USD", side="buy", type="limit", price=ask, size="0.0001"
        )
        assert taken["status"] == "filled", taken
    wait_drained(live.matcher)
    wait_for(
        page,
        "(p) => document.querySelector('[data-role=trades] td.price').textContent === p",
        arg=shown(ask),
    )
    assert_book_matches_rest(page, live.base)
    assert page.errors == []
    screenshot(page, "market-desktop")

    # A book gap (the sandbox drops one delta): the page notices, says so,
    # subscribes again and is live with the right book.
    page.evaluate(WATCH_STATUS)
    page.evaluate(
        """() => HKT.market.socket.send({op: "scenario", scenario: "gap",
                                         channel: "book", pair: "BTC-USD"})"""
    )
    with ExchangeClient(live.base, key.key, key.secret) as client:
        for n in range(3):
            client.place_order(
                pair="BTC-USD",
                side="buy",
                type="limit",
                price=f"{50000 + n}.00",
                size="0.001",
            )
    page.wait_for_selector("[data-role=status][data-gaps='1']")
    wait_live(page)
    assert "resyncing" in page.evaluate("window.seenStates")
    assert_book_matches_rest(page, live.base)

    # The server's own resync (announced): a new snapshot, live again.
    page.evaluate(WATCH_STATUS)
    page.evaluate(
        """() => HKT.market.socket.send({op: "scenario", scenario: "resync",
                                         channel: "book", pair: "BTC-USD"})"""
    )
    page.wait_for_selector("[data-role=status][data-server-resyncs='1']")
    wait_live(page)
    assert "resyncing" in page.evaluate("window.seenStates")

    # A dropped connection: shown, reconnected with back-off, resubscribed.
    page.evaluate(WATCH_STATUS)
    page.evaluate("() => HKT.market.socket.ws.close()")
    page.wait_for_selector("[data-role=status][data-reconnects='1']")
    wait_live(page)
    assert "reconnecting" in page.evaluate("window.seenStates")
    with ExchangeClient(live.base, key.key, key.secret) as client:
        client.place_order(
            pair="BTC-USD",
            side="buy",
            type="limit",
            price=f"{int(bid.split('.')[0]) + 2}.00",
            size="0.002",
        )
    assert_book_matches_rest(page, live.base)

    # Another candle interval: REST history, then the stream.
    page.click("button[data-interval='5m']")
    wait_for(
        page, "document.querySelector('[data-role=market]').dataset.interval === '5m'"
    )
    wait_for(
        page, "Number(document.querySelector('[data-role=market]').dataset.candles) > 5"
    )
    assert (
        page.locator("button[data-interval='5m']").get_attribute("aria-pressed")
        == "true"
    )
    assert page.errors == []

    # On a phone.
    phone = new_page(PHONE)
    phone.goto(live.url("/markets/BTC-USD"))
    wait_live(phone)
    wait_for(
        phone,
        "Number(document.querySelector('[data-role=market]').dataset.candles) > 30",
    )
    assert canvas_painted(phone, "canvas.depth")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width}px"
    screenshot(phone, "market-phone")
    phone.goto(live.url("/"))
    wait_live(phone)
    wait_for(phone, "document.querySelector('tr[data-pair=ETH-BTC]').dataset.seq")
    screenshot(phone, "markets-phone")
    assert phone.errors == []
