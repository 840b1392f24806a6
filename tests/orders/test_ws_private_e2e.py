"""Private streams and order entry end to end: daphne and the matcher as real
processes, real WebSocket clients (exchange.client.TradingStream), orders
flowing through the service and over the socket, on whichever database the
run has (SQLite with the journal poller, or PostgreSQL with Redis)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from django.db.models import Q

from apps.accounts.models import AccountEvent, Balance
from apps.core.money import format_units
from apps.orders.models import Order, OrderStatus, Trade
from exchange.client import ApiError, ExchangeClient, TradingStream
from tests.apikeys.factories import ApiKeyFactory
from tests.markets.test_ws_e2e import OrderFlow, exchange, seed_book
from tests.matching.processes import wait_drained

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHANNELS = ("orders", "fills", "balances")


def buy(price: str, client_order_id: str) -> dict[str, Any]:
    """A 0.001 BTC limit buy's fields."""
    return {
        "pair": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "price": price,
        "size": "0.001",
        "client_order_id": client_order_id,
    }


def trading(base: str, key: Any, **kwargs: Any) -> TradingStream:
    return TradingStream(base, key=key.key, secret=key.secret, **kwargs)


def last_seq(user: Any, channel: str) -> int:
    seqs = AccountEvent.objects.filter(user=user, channel=channel)
    return max(seqs.values_list("seq", flat=True), default=0)


def drain(stream: TradingStream, user: Any, into: list[dict[str, Any]]) -> None:
    """Read until every private channel of ``stream`` is at the journal's end."""
    targets = {c: last_seq(user, c) for c in stream.positions}

    def done() -> bool:
        return all(stream.positions[c] >= s for c, s in targets.items())

    deadline = time.monotonic() + 20
    while not done():
        assert time.monotonic() < deadline, (stream.positions, targets)
        try:
            msg = stream.recv(timeout=1)
        except TimeoutError:
            continue
        if msg.get("channel") in CHANNELS:
            into.append(msg)
    while True:  # and whatever else already arrived
        try:
            msg = stream.recv(timeout=0)
        except TimeoutError:
            return
        if msg.get("channel") in CHANNELS:
            into.append(msg)


def db_fills(user: Any) -> Counter:
    """(order id, price, size, liquidity) of every fill of ``user``."""
    fills: Counter = Counter()
    trades = Trade.objects.select_related("pair", "maker_order", "taker_order")
    for t in trades.filter(Q(maker_user=user) | Q(taker_user=user)):
        pair = t.pair
        for role, order in (("maker", t.maker_order), ("taker", t.taker_order)):
            if order.user_id == user.pk:
                fills[
                    (
                        str(order.uuid),
                        pair.format_price(t.price),
                        pair.format_size(t.size),
                        role,
                    )
                ] += 1
    return fills


def ws_fills(messages: list[dict[str, Any]]) -> Counter:
    return Counter(
        (
            m["data"]["order_id"],
            m["data"]["price"],
            m["data"]["size"],
            m["data"]["liquidity"],
        )
        for m in messages
        if m["channel"] == "fills"
    )


def assert_consecutive(
    messages: list[dict[str, Any]], channel: str, first: int
) -> None:
    seqs = [m["seq"] for m in messages if m["channel"] == channel]
    assert seqs == list(range(first + 1, first + 1 + len(seqs))), seqs[:20]


def assert_private_state_matches_db(user: Any, messages: list[dict[str, Any]]) -> None:
    """The last balance per (asset, wallet) and the last state per order that
    the stream told are the database's."""
    balances = {}
    for m in messages:
        if m["channel"] == "balances":
            d = m["data"]
            balances[(d["asset"], d["wallet"])] = (d["available"], d["held"])
    rows = Balance.objects.select_related("asset").filter(user=user)
    for row in rows:
        told = balances.get((row.asset.code, row.wallet))
        if told is not None:
            scale = row.asset.scale
            assert told == (
                format_units(row.available, scale),
                format_units(row.held, scale),
            ), (row.asset.code, told, row.available, row.held)
    assert balances, "no balance event arrived"
    orders = {}
    for m in messages:
        if m["channel"] == "orders":
            orders[m["data"]["id"]] = m["data"]
    assert orders, "no order event arrived"
    mine = {str(o.uuid): o for o in Order.objects.filter(user=user)}
    for order_id, data in orders.items():
        assert order_id in mine, "another user's order in this stream"
        order = mine[order_id]
        assert data["status"] == order.status, (data, order.status)
        assert data["filled_size"] == order.pair.format_size(order.filled_size)


def test_private_streams_resume_and_privacy(funded, alice, bob, tmp_path):
    alice_key = ApiKeyFactory(user=alice, scope="trade")
    bob_key = ApiKeyFactory(user=bob, scope="read")
    with exchange(tmp_path) as (matcher, base):
        a = trading(base, alice_key)
        b = trading(base, bob_key)
        starts = {}
        for stream, user in ((a, alice), (b, bob)):
            for channel in CHANNELS:
                ack = stream.subscribe_private(channel)
                starts[(user.pk, channel)] = ack["seq"]
        a_seen: list[dict[str, Any]] = []
        b_seen: list[dict[str, Any]] = []
        seed_book(funded, alice, bob)
        flow = OrderFlow(funded, [alice, bob], ops=80, seed=7)
        flow.start()
        try:
            assert flow.halfway.wait(60)
            # Alice's connection drops halfway; she misses what follows.
            drain(a, alice, a_seen)
            positions = dict(a.positions)
            a.close()
            flow.finish()
            wait_drained(matcher)
            missed = {c: last_seq(alice, c) - positions[c] for c in CHANNELS}
            assert missed["fills"] > 0 and missed["balances"] > 0, missed
            a = trading(base, alice_key, positions=positions)
            resumed = a.resume()
            assert [r["seq"] for r in resumed] == [positions[c] for c in positions]
            drain(a, alice, a_seen)
            drain(b, bob, b_seen)
        finally:
            if flow.is_alive():
                flow.join(60)
            a.close()
            b.close()
    for channel in CHANNELS:
        assert_consecutive(a_seen, channel, starts[(alice.pk, channel)])
        assert_consecutive(b_seen, channel, starts[(bob.pk, channel)])
    assert a.private_gaps == 0 and b.private_gaps == 0
    # Exactly the database's fills: nothing lost over the reconnect, nothing twice.
    assert ws_fills(a_seen) == db_fills(alice)
    assert ws_fills(b_seen) == db_fills(bob)
    assert_private_state_matches_db(alice, a_seen)
    assert_private_state_matches_db(bob, b_seen)


def test_order_entry_and_cancel_on_disconnect_with_the_real_matcher(
    funded, alice, bob, tmp_path
):
    key = ApiKeyFactory(user=alice, scope="trade")
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        with trading(base, key) as s:
            # Crosses bob's best ask: matched before the ack, as REST answers.
            taken = s.place(**buy("63001", "ws-take"))
            assert (taken["status"], taken["order"]["status"]) == (201, "filled")
            again = s.place(**buy("63001", "ws-take"))
            assert (again["status"], again["replayed"]) == (200, True)
            assert again["order"]["id"] == taken["order"]["id"]
            with pytest.raises(ApiError) as refused:
                s.place(
                    pair="BTC-USD", side="buy", type="limit", price="1.001", size="1"
                )
            assert refused.value.code == "ORDER_PRICE_OFF_TICK"

        session = trading(base, key, cancel_on_disconnect=True)
        mine = [session.place(**buy("62000", f"cod-{n}"))["order"] for n in range(3)]
        assert {o["status"] for o in mine} == {"open"}
        other = trading(base, key)
        kept = other.place(**buy("62000", "kept"))["order"]
        other.subscribe_private("orders")
        session.close()
        deadline = time.monotonic() + 10
        ids = [o["id"] for o in mine]
        while (
            Order.objects.filter(uuid__in=ids, status=OrderStatus.CANCELLED).count() < 3
        ):
            assert time.monotonic() < deadline, "cancel-on-disconnect did not happen"
            time.sleep(0.05)
        assert Order.objects.get(uuid=kept["id"]).status == OrderStatus.OPEN
        # Told apart from the user's own cancels, on the stream and over REST.
        seen: list[dict[str, Any]] = []
        drain(other, alice, seen)
        streamed = {
            (m["data"]["id"], m["data"]["reason"])
            for m in seen
            if m["channel"] == "orders" and m["data"]["status"] == "cancelled"
        }
        assert streamed == {(i, "cancel_on_disconnect") for i in ids}
        with ExchangeClient(base, key.key, key.secret) as api:
            for order_id in ids:
                body = api.get_order(order_id)
                assert (body["status"], body["reason"]) == (
                    "cancelled",
                    "cancel_on_disconnect",
                )
        other.close()
