"""The ccxt driver (exchange.client.ccxt_driver) against a live exchange:
daphne and the matcher as real processes on the test database (SQLite or
PostgreSQL, whichever the run has), driven by ccxt itself."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from apps.apikeys.services import apikey_revoke
from apps.markets.models import PairStatus
from exchange.client import signing
from exchange.client.ccxt_driver import hkt
from tests.apikeys.factories import ApiKeyFactory
from tests.factories import AssetFactory, PairFactory
from tests.helpers import place
from tests.markets.test_ws_e2e import exchange, seed_book
from tests.matching.processes import wait_drained

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ["127.0.0.1", "::1"]


def driver(base: str, key: Any = None, **config: Any) -> hkt:
    """A ccxt instance of this exchange at ``base``, signing with ``key``."""
    if key is not None:
        config.update(apiKey=key.key, secret=key.secret)
    return hkt({"urls": {"api": {"rest": base}}, **config})


def balances(ex: hkt) -> dict[str, tuple[str, str]]:
    """(available, held) per asset, the server's exact strings."""
    spot = ex.fetch_balance()["info"]["spot"]
    return {row["asset"]: (row["available"], row["held"]) for row in spot}


def wait_for_status(ex: hkt, order_id: str, status: str) -> dict[str, Any]:
    """Poll until the server's status (not ccxt's, which says open for
    pending too) is ``status``."""
    deadline = time.monotonic() + 20
    while (order := ex.fetch_order(order_id))["info"]["status"] != status:
        assert time.monotonic() < deadline, order
        time.sleep(0.1)
    return order


def test_public_market_data_through_ccxt(funded, alice, bob, tmp_path):
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        place(alice, funded, side="buy", price="63001", size="0.002")
        wait_drained(matcher)
        ex = driver(base)

        market = ex.load_markets()["BTC/USD"]
        assert (market["id"], market["base"], market["quote"]) == (
            "BTC-USD",
            "BTC",
            "USD",
        )
        assert market["spot"] and market["active"] and market["type"] == "spot"
        precision = market["precision"]
        assert (precision["amount"], precision["price"]) == (0.0001, 0.01)
        assert market["limits"]["amount"]["min"] == 0.0001
        assert market["limits"]["cost"]["min"] == 1.0
        assert (market["maker"], market["taker"]) == (0.001, 0.002)
        assert abs(ex.fetch_time() - signing.now_ms()) < 5_000

        ticker = ex.fetch_ticker("BTC/USD")
        assert (ticker["bid"], ticker["ask"], ticker["last"]) == (
            62999.0,
            63002.0,
            63001.0,
        )
        assert (ticker["bidVolume"], ticker["baseVolume"]) == (0.002, 0.002)
        assert list(ex.fetch_tickers()) == ["BTC/USD"]
        assert ex.fetch_tickers(["BTC/USD"])["BTC/USD"]["last"] == 63001.0

        book = ex.fetch_order_book("BTC/USD", 3)
        assert book["bids"] == [[62999.0, 0.002], [62998.0, 0.002], [62997.0, 0.002]]
        assert book["asks"] == [[63002.0, 0.002], [63003.0, 0.002], [63004.0, 0.002]]
        assert book["symbol"] == "BTC/USD" and book["nonce"] > 0

        (trade,) = ex.fetch_trades("BTC/USD")
        assert (trade["price"], trade["amount"], trade["side"]) == (
            63001.0,
            0.002,
            "buy",
        )
        assert trade["cost"] == pytest.approx(126.002)
        assert trade["timestamp"] > 0 and trade["symbol"] == "BTC/USD"

        candle = ex.fetch_ohlcv("BTC/USD", "1m")[-1]
        assert candle[1:] == [63001.0, 63001.0, 63001.0, 63001.0, 0.002]
        assert candle[0] % 60_000 == 0
        assert ex.fetch_ohlcv("BTC/USD", "1h", limit=1)[0][4] == 63001.0


def test_round_trip_place_fetch_cancel_restores_the_balance(
    funded, alice, bob, tmp_path, assert_ledger
):
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=LOCAL)
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        ex = driver(base, key)
        before = balances(ex)

        order = ex.create_order(
            "BTC/USD", "limit", "buy", 0.01, 60000, {"clientOrderId": "ccxt-rt-1"}
        )
        assert (order["status"], order["clientOrderId"]) == ("open", "ccxt-rt-1")
        assert (order["price"], order["amount"], order["filled"]) == (60000.0, 0.01, 0)
        assert (order["symbol"], order["type"], order["side"]) == (
            "BTC/USD",
            "limit",
            "buy",
        )
        # The hold: 600 USD plus the worst-case taker fee (0.2%).
        assert order["info"]["held"] == "601.200000"
        available, held = balances(ex)["USD"]
        assert Decimal(held) - Decimal(before["USD"][1]) == Decimal("601.2")
        assert Decimal(before["USD"][0]) - Decimal(available) == Decimal("601.2")

        assert ex.fetch_order(order["id"])["status"] == "open"
        by_client_id = ex.fetch_order(None, None, {"clientOrderId": "ccxt-rt-1"})
        assert by_client_id["id"] == order["id"]
        assert order["id"] in [o["id"] for o in ex.fetch_open_orders("BTC/USD")]

        cancelled = ex.cancel_order(order["id"], "BTC/USD")
        assert cancelled["id"] == order["id"]
        assert cancelled["status"] == "canceled"
        assert balances(ex) == before
        closed = ex.fetch_closed_orders("BTC/USD")
        assert [o["status"] for o in closed if o["id"] == order["id"]] == ["canceled"]
        assert order["id"] not in [o["id"] for o in ex.fetch_open_orders()]
        assert [o["id"] for o in ex.fetch_canceled_orders("BTC/USD")] == [order["id"]]
    assert_ledger()


def test_market_stop_post_only_and_cancel_all_through_ccxt(
    funded, alice, bob, tmp_path, assert_ledger
):
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=LOCAL)
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        ex = driver(base, key)

        bought = ex.create_order("BTC/USD", "market", "buy", 0.002)
        assert (bought["status"], bought["filled"], bought["average"]) == (
            "closed",
            0.002,
            63001.0,
        )
        (fill,) = ex.fetch_my_trades("BTC/USD")
        assert (fill["order"], fill["takerOrMaker"], fill["price"]) == (
            bought["id"],
            "taker",
            63001.0,
        )
        assert fill["fee"]["cost"] > 0
        assert [t["id"] for t in ex.fetch_order_trades(bought["id"])] == [fill["id"]]
        by_cost = ex.create_market_buy_order_with_cost("BTC/USD", 100)
        assert by_cost["info"]["funds"] == "100.000000"
        assert by_cost["status"] == "closed" and by_cost["filled"] > 0
        # Into alice's bids: bob sells (alice's own sell would self-trade).
        bob_key = ApiKeyFactory(user=bob, scope="trade", ip_allowlist=LOCAL)
        sold = driver(base, bob_key).create_order("BTC/USD", "market", "sell", 0.001)
        assert (sold["status"], sold["average"]) == ("closed", 62999.0)

        stop_limit = ex.create_order(
            "BTC/USD", "limit", "sell", 0.001, 60000, {"triggerPrice": 61000}
        )
        assert stop_limit["info"]["type"] == "stop_limit"
        assert (stop_limit["type"], stop_limit["triggerPrice"]) == ("limit", 61000.0)
        stop_market = ex.create_order(
            "BTC/USD", "market", "buy", 0.001, None, {"stopPrice": 65000}
        )
        assert stop_market["info"]["type"] == "stop"
        assert (stop_market["type"], stop_market["triggerPrice"]) == (
            "market",
            65000.0,
        )
        maker = ex.create_order(
            "BTC/USD", "limit", "buy", 0.001, 62000, {"postOnly": True}
        )
        assert maker["postOnly"] is True and maker["status"] == "open"
        ioc = ex.create_order(
            "BTC/USD", "limit", "buy", 0.001, 1000, {"timeInForce": "IOC"}
        )
        assert (ioc["timeInForce"], ioc["status"]) == ("IOC", "canceled")

        live = {o["id"] for o in ex.fetch_open_orders("BTC/USD")}
        assert {stop_limit["id"], stop_market["id"], maker["id"]} <= live
        answered = ex.cancel_all_orders("BTC/USD")
        assert {o["id"] for o in answered} == live
        assert {o["status"] for o in answered} <= {"canceled", "open"}
        wait_drained(matcher)
        assert ex.fetch_open_orders("BTC/USD") == []
    assert_ledger()


def test_edit_order_amends_in_place_or_cancel_replaces_as_the_api_does(
    funded, alice, bob, tmp_path, assert_ledger
):
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=LOCAL)
    bob_key = ApiKeyFactory(user=bob, scope="trade", ip_allowlist=LOCAL)
    with exchange(tmp_path) as (matcher, base):
        ex, seller = driver(base, key), driver(base, bob_key)
        first = ex.create_order("BTC/USD", "limit", "buy", 0.004, 60000)
        second = ex.create_order(
            "BTC/USD", "limit", "buy", 0.004, 60000, {"clientOrderId": "ccxt-ed-2"}
        )
        assert ex.has["editOrder"] is True

        # A smaller amount at the same price: in place, same id, same queue
        # place (first still fills before second).
        cut = ex.edit_order(first["id"], "BTC/USD", "limit", "buy", 0.002)
        assert (cut["id"], cut["status"], cut["amount"], cut["price"]) == (
            first["id"],
            "open",
            0.002,
            60000.0,
        )
        assert cut["info"]["held"] == "120.240000"  # 120 USD + 0.2% worst fee
        seller.create_order("BTC/USD", "market", "sell", 0.002)
        assert wait_for_status(ex, first["id"], "filled")["filled"] == 0.002
        assert ex.fetch_order(second["id"])["filled"] == 0

        # A new price is a cancel-replace under the same id that loses the
        # queue place: moved away and back, second now queues behind third.
        third = ex.create_order("BTC/USD", "limit", "buy", 0.004, 60000)
        moved = ex.edit_order(
            None, "BTC/USD", "limit", "buy", None, 59000, {"clientOrderId": "ccxt-ed-2"}
        )
        assert (moved["id"], moved["clientOrderId"], moved["price"]) == (
            second["id"],
            "ccxt-ed-2",
            59000.0,
        )
        assert (moved["status"], moved["amount"]) == ("open", 0.004)
        back = ex.edit_order(second["id"], "BTC/USD", "limit", "buy", 0.005, 60000)
        assert (back["id"], back["price"], back["amount"]) == (
            second["id"],
            60000.0,
            0.005,
        )
        seller.create_order("BTC/USD", "market", "sell", 0.004)
        assert wait_for_status(ex, third["id"], "filled")["filled"] == 0.004
        assert ex.fetch_order(second["id"])["filled"] == 0

        with pytest.raises(ccxt.InvalidOrder, match="ORDER_AMEND_NO_CHANGE"):
            ex.edit_order(second["id"], "BTC/USD", "limit", "buy", 0.005)
        with pytest.raises(ccxt.InvalidOrder, match="ORDER_ALREADY_FILLED"):
            ex.edit_order(first["id"], "BTC/USD", "limit", "buy", 0.001)
        with pytest.raises(ccxt.InvalidOrder, match="limit orders only"):
            ex.edit_order(second["id"], "BTC/USD", "market", "buy", 0.001)
        ex.cancel_order(second["id"])
        wait_drained(matcher)
    assert_ledger()


def test_ccxt_errors_are_ccxt_exception_classes(funded, alice, bob, tmp_path):
    eth = AssetFactory(code="ETH", name="Ether", scale=8)
    PairFactory(
        symbol="ETH-USD", base=eth, quote=funded.quote, status=PairStatus.HALTED
    )
    trader = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=LOCAL)
    reader = ApiKeyFactory(user=alice, scope="read")
    elsewhere = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["192.0.2.7"])
    revoked = ApiKeyFactory(user=alice, scope="read")
    apikey_revoke(api_key=revoked)
    frugal = ApiKeyFactory(user=alice, scope="read", weight_per_minute=5)
    with exchange(tmp_path) as (matcher, base):
        ex = driver(base, trader)
        # An empty book: no price to bound a market buy by size.
        with pytest.raises(ccxt.OrderNotFillable):
            ex.create_order("BTC/USD", "market", "buy", 0.01)
        seed_book(funded, alice, bob)
        wait_drained(matcher)

        with pytest.raises(ccxt.InsufficientFunds):
            ex.create_order("BTC/USD", "limit", "buy", 100, 62000)
        with pytest.raises(ccxt.InvalidOrder, match="ORDER_NOTIONAL_TOO_SMALL"):
            ex.create_order("BTC/USD", "limit", "buy", 0.0001, 1)
        ex.create_order("BTC/USD", "limit", "buy", 0.001, 50000, {"clientOrderId": "d"})
        with pytest.raises(ccxt.DuplicateOrderId):
            ex.create_order(
                "BTC/USD", "limit", "buy", 0.001, 50001, {"clientOrderId": "d"}
            )
        with pytest.raises(ccxt.OrderNotFound):
            ex.fetch_order(str(uuid.uuid4()))
        with pytest.raises(ccxt.OrderNotFound):
            ex.cancel_order(str(uuid.uuid4()))
        with pytest.raises(ccxt.MarketClosed, match="MARKET_HALTED"):
            ex.create_order("ETH/USD", "limit", "buy", 0.01, 1000)
        with pytest.raises(ccxt.BadSymbol, match="MARKET_NOT_FOUND"):
            ex.public_get_ticker_pair({"pair": "DOGE-USD"})
        with pytest.raises(ccxt.BadSymbol):
            ex.fetch_ticker("DOGE/USD")  # refused by ccxt before any request
        with pytest.raises(ccxt.BadRequest, match="VALIDATION_ERROR"):
            ex.fetch_orders("BTC/USD", limit=501)

        with pytest.raises(ccxt.AuthenticationError, match="AUTH_INVALID_SIGNATURE"):
            driver(base, apiKey=trader.key, secret="wrong").fetch_balance()
        with pytest.raises(ccxt.AuthenticationError, match="AUTH_INVALID_KEY"):
            driver(base, apiKey="hkt_" + "0" * 32, secret="x").fetch_balance()
        with pytest.raises(ccxt.AuthenticationError, match="AUTH_KEY_REVOKED"):
            driver(base, revoked).fetch_balance()
        with pytest.raises(ccxt.AuthenticationError):
            driver(base).fetch_balance()  # no key: refused by ccxt itself
        with pytest.raises(ccxt.PermissionDenied, match="PERMISSION_SCOPE_MISSING"):
            driver(base, reader).create_order("BTC/USD", "limit", "buy", 0.01, 50000)
        with pytest.raises(ccxt.PermissionDenied, match="PERMISSION_IP_NOT_ALLOWED"):
            driver(base, elsewhere).fetch_balance()

        slow = driver(base, frugal)
        slow.fetch_balance()  # weight 5 of 5
        with pytest.raises(ccxt.RateLimitExceeded):
            slow.fetch_balance()

        skewed = driver(base, trader, options={"timeDifference": -60_000})
        with pytest.raises(ccxt.InvalidNonce, match="AUTH_TIMESTAMP_IN_FUTURE"):
            skewed.fetch_balance()
        # The rejection taught the driver the server's clock: a retry works.
        assert abs(skewed.options["timeDifference"]) < 5_000
        assert "USD" in skewed.fetch_balance()


def test_replayed_nonce_is_invalid_nonce(funded, alice, tmp_path, monkeypatch):
    key = ApiKeyFactory(user=alice, scope="read")
    with exchange(tmp_path) as (_, base):
        ex = driver(base, key)
        monkeypatch.setattr(signing, "new_nonce", lambda: "same-nonce-1")
        ex.fetch_balance()
        with pytest.raises(ccxt.InvalidNonce, match="AUTH_NONCE_REUSED"):
            ex.fetch_balance()


def test_full_matcher_queue_is_ddos_protection(funded, alice, tmp_path, monkeypatch):
    """The API sheds orders (SYSTEM_OVERLOADED, 503) while the pair's queue is
    full; ccxt bots back off on DDoSProtection."""
    monkeypatch.setenv("MATCHER_MAX_QUEUE", "1")
    monkeypatch.setenv("MATCHER_QUEUE_CHECK_MS", "0")
    monkeypatch.setenv("ORDER_RESULT_TIMEOUT_MS", "50")
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=LOCAL)
    with exchange(tmp_path) as (matcher, base):
        ex = driver(base, key)
        matcher.send_signal(signal.SIGSTOP)
        try:
            first = ex.create_order("BTC/USD", "limit", "buy", 0.001, 50000)
            assert first["info"]["status"] == "pending" and first["status"] == "open"
            with pytest.raises(ccxt.DDoSProtection, match="SYSTEM_OVERLOADED"):
                ex.create_order("BTC/USD", "limit", "buy", 0.001, 50000)
        finally:
            matcher.send_signal(signal.SIGCONT)
        assert wait_for_status(ex, first["id"], "open")["info"]["status"] == "open"


def readme_ccxt_block() -> str:
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        if "ccxt_driver" in block:
            return block
    raise AssertionError("README has no ccxt example")


def test_readme_ccxt_quick_start_runs(funded, alice, bob, tmp_path):
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=LOCAL)
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        script = (
            readme_ccxt_block()
            .replace("http://127.0.0.1:8000", base)
            .replace('"hkt_..."', repr(key.key))
            .replace('"..."', repr(key.secret))
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[:2] == ["62999.0 63001.0", "open"], out
