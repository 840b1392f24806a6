"""The sandbox's WebSocket faults (docs/sandbox.md): a forced gap and a
forced resync on one of the connection's subscriptions, so that a client's
recovery can be tested at will; absent in production."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import place
from tests.orders.test_ws_session import Ws, code

pytestmark = pytest.mark.django_db(transaction=True)

BOOK = {"op": "subscribe", "id": "b", "channel": "book", "pair": "BTC-USD"}


def book_messages(ws: Ws, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < count:
        msg = ws.next()
        if msg.get("channel") == "book" and msg["type"] != "ack":
            got.append(msg)
    return got


def bid(user: Any, pair: Any, matcher: Any, price: str) -> None:
    place(user, pair, side="buy", price=price, size="0.01")
    matcher()


def scenario(name: str, channel: str = "book") -> dict[str, Any]:
    frame = {"op": "scenario", "id": "s", "scenario": name, "channel": channel}
    return frame | {"pair": "BTC-USD"}


def test_a_forced_gap_drops_one_delta_and_the_next_names_it(alice, funded, matcher):
    ws = Ws()
    ws.request(BOOK)
    (snapshot,) = book_messages(ws, 1)
    ack = ws.request(scenario("gap"))
    assert (ack["type"], ack["op"], ack["scenario"]) == ("ack", "scenario", "gap")
    for price in ("62000", "62001", "62002"):
        bid(alice, funded, matcher, price)
    first, second = book_messages(ws, 2)
    # The delta of 62000 was never sent; the next one chains to it.
    assert first["prev_seq"] != snapshot["seq"]
    assert first["changes"] == [["buy", "62001.000000", "0.01000000"]]
    assert second["prev_seq"] == first["seq"]
    ws.close()


def test_a_forced_resync_announces_it_and_sends_a_fresh_snapshot(
    alice, funded, matcher
):
    ws = Ws()
    ws.request(BOOK)
    book_messages(ws, 1)  # the snapshot
    ws.request({"op": "subscribe", "id": "t", "channel": "trades", "pair": "BTC-USD"})
    bid(alice, funded, matcher, "62000")
    book_messages(ws, 1)  # its delta
    assert ws.request(scenario("resync"))["scenario"] == "resync"
    resync, snapshot = book_messages(ws, 2)
    assert (resync["type"], resync["reason"]) == ("resync", "sandbox")
    assert snapshot["type"] == "book_snapshot"
    assert snapshot["bids"] == [["62000.000000", "0.01000000"]]
    ack = ws.request(scenario("resync", "trades"))
    assert ack["channel"] == "trades"
    msg = ws.next()
    assert (msg["type"], msg["channel"], msg["reason"]) == (
        "resync",
        "trades",
        "sandbox",
    )
    ws.close()


def test_scenarios_are_checked(funded):
    ws = Ws()
    assert code(ws.request(scenario("gap"))) == "VALIDATION_ERROR"  # not subscribed
    ws.request(BOOK)
    ws.request({"op": "subscribe", "id": "t", "channel": "trades", "pair": "BTC-USD"})
    error = ws.request(scenario("nope"))
    assert error["error"]["details"]["scenarios"] == ["gap", "resync"]
    error = ws.request(scenario("gap", "trades"))
    assert error["error"]["details"] == {"field": "channel"}
    ws.close()


def test_there_is_no_scenario_op_in_production(funded, settings):
    settings.EXCHANGE_ENV, settings.IS_PRODUCTION = "production", True
    ws = Ws()
    ws.request(BOOK)
    error = ws.request(scenario("resync"))
    assert code(error) == "VALIDATION_ERROR"
    assert "scenario" not in error["error"]["details"]["ops"]
    assert error["error"]["details"]["field"] == "op"
    ws.close()
