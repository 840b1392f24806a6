"""The WebSocket session in process (Channels' communicator, the real
database): auth with the REST key scheme, order entry through the REST
code, the key watcher, cancel-on-disconnect. The end-to-end test with real
processes is tests/orders/test_ws_orders_e2e.py."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.accounts.models import Account, AccountEvent, Tier
from apps.accounts.services import balance_deposit
from apps.apikeys.services import apikey_revoke
from apps.orders.models import CommandKind, Order, OrderCommand, OrderStatus
from exchange.client.signing import stream_auth
from exchange.routing import websocket_urlpatterns
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed

pytestmark = pytest.mark.django_db(transaction=True)

ROUTER = URLRouter(websocket_urlpatterns)


def app_from(address: str) -> Any:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        await ROUTER({**scope, "client": (address, 50000)}, receive, send)

    return app


class Ws:
    """A synchronous face on the communicator, for plain test functions: the
    consumer lives on an event loop of its own thread for the whole test."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.comm = WebsocketCommunicator(app_from(address), "/v1/ws")
        connected, _ = self._run(self.comm.connect())
        assert connected

    def _run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def request(self, frame: dict[str, Any], timeout: float = 5) -> dict[str, Any]:
        self._run(self.comm.send_json_to(frame))
        return self.answer(frame["id"], timeout)

    def answer(self, request_id: Any, timeout: float = 5) -> dict[str, Any]:
        while True:
            msg = self.next(timeout)
            if msg.get("id") == request_id and msg["type"] in ("ack", "error", "pong"):
                return msg

    def next(self, timeout: float = 5) -> dict[str, Any]:
        return self._run(self.comm.receive_json_from(timeout), timeout + 5)

    def nothing(self, timeout: float) -> bool:
        """Whether nothing arrives within ``timeout`` (without ending the
        application, as a receive that times out does)."""
        return self._run(self.comm.receive_nothing(timeout), timeout + 5)

    def close(self) -> None:
        self._run(self.comm.disconnect())
        self._run(_cancel_others())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _cancel_others() -> None:
    """End what the consumer left on the loop (the key watcher) before the
    test's database goes."""
    me = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not me]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def code(msg: dict[str, Any]) -> str:
    assert msg["type"] == "error", msg
    return msg["error"]["code"]


def auth(ws: Ws, key: Any, **kwargs: Any) -> dict[str, Any]:
    return ws.request(stream_auth(key=key.key, secret=key.secret, **kwargs))


def limit_buy(client_order_id: str | None = None, **fields: Any) -> dict[str, Any]:
    frame = {
        "op": "place",
        "id": "p-" + (client_order_id or "x"),
        "pair": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "price": "50000.00",
        "size": "0.01000000",
        "response_type": "ack",
    }
    if client_order_id:
        frame["client_order_id"] = client_order_id
    return frame | fields


def test_auth_accepts_a_signed_read_key_and_says_what_the_session_may_do(alice):
    key = ApiKeyFactory(user=alice, scope="read")
    ws = Ws()
    ack = auth(ws, key, request_id="a1")
    assert ack == {
        "type": "ack",
        "id": "a1",
        "op": "auth",
        "key_scope": "read",
        "cancel_on_disconnect": False,
        "max_depth": 100,
    }
    again = auth(ws, key, request_id="a2")
    assert code(again) == "VALIDATION_ERROR"
    ws.close()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"signature": "0" * 64}, "AUTH_INVALID_SIGNATURE"),
        ({"key": "nope"}, "AUTH_INVALID_KEY"),
        ({"timestamp": "1000"}, "AUTH_TIMESTAMP_EXPIRED"),
        ({"nonce": None}, "AUTH_MISSING_HEADERS"),
    ],
)
def test_a_bad_auth_gets_the_rest_code_and_the_connection_stays_usable(
    alice, change, expected
):
    key = ApiKeyFactory(user=alice, scope="read")
    ws = Ws()
    frame = stream_auth(key=key.key, secret=key.secret) | change
    assert code(ws.request(frame)) == expected
    assert ws.request({"op": "ping", "id": "p"})["type"] == "pong"
    assert code(ws.request(limit_buy())) == "AUTH_REQUIRED"
    ws.close()


def test_a_replayed_auth_frame_is_refused(alice):
    key = ApiKeyFactory(user=alice, scope="read")
    frame = stream_auth(key=key.key, secret=key.secret)
    first, second = Ws(), Ws()
    assert auth_ok(first.request(frame))
    assert code(second.request(frame)) == "AUTH_NONCE_REUSED"
    first.close()
    second.close()


def auth_ok(msg: dict[str, Any]) -> bool:
    return msg["type"] == "ack" and msg["op"] == "auth"


def test_the_keys_ip_allow_list_is_enforced_at_auth(alice):
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["10.1.2.0/24"])
    outside, inside = Ws("127.0.0.1"), Ws("10.1.2.3")
    refused = auth(outside, key)
    assert code(refused) == "PERMISSION_IP_NOT_ALLOWED"
    assert refused["error"]["details"]["ip"] == "127.0.0.1"
    assert auth_ok(auth(inside, key))
    outside.close()
    inside.close()


def test_order_entry_needs_auth_and_a_trade_key(alice, funded):
    ws = Ws()
    assert code(ws.request(limit_buy())) == "AUTH_REQUIRED"
    assert auth_ok(auth(ws, ApiKeyFactory(user=alice, scope="read")))
    refused = ws.request(limit_buy())
    assert code(refused) == "PERMISSION_SCOPE_MISSING"
    assert not Order.objects.exists()
    ws.close()


def test_bad_orders_get_the_rest_codes(alice, funded, trade_key):
    ws = Ws()
    assert auth_ok(auth(ws, trade_key))
    assert code(ws.request(limit_buy(price="50000.001"))) == "ORDER_PRICE_OFF_TICK"
    assert code(ws.request(limit_buy(price=50000))) == "VALIDATION_INVALID_DECIMAL"
    assert code(ws.request(limit_buy(pair="NOPE-USD"))) == "MARKET_NOT_FOUND"
    assert code(ws.request(limit_buy(size="1000000"))) == "ACCOUNT_INSUFFICIENT_FUNDS"
    assert code(ws.request(limit_buy(post_onyl=True))) == "VALIDATION_UNKNOWN_FIELD"
    assert code(ws.request(limit_buy(post_only="yes"))) == "VALIDATION_INVALID_TYPE"
    missing = ws.request({"op": "cancel", "id": "c"})
    assert code(missing) == "VALIDATION_ERROR"
    unknown = ws.request({"op": "cancel", "id": "c", "order_id": "client:none"})
    assert code(unknown) == "ORDER_NOT_FOUND"
    assert not Order.objects.exists()
    ws.close()


def test_a_ws_order_and_a_rest_order_with_one_client_order_id_are_one_order(
    alice, funded, trade_key, client
):
    ws = Ws()
    assert auth_ok(auth(ws, trade_key))
    placed = ws.request(limit_buy("same-1"))
    assert (placed["type"], placed["op"], placed["status"]) == ("ack", "place", 202)
    assert placed["replayed"] is False
    assert placed["order"]["client_order_id"] == "same-1"
    body = limit_buy("same-1")
    for name in ("op", "id"):
        body.pop(name)
    rest = signed(client, trade_key, "POST", "/v1/orders", body)
    assert rest.status_code == 200 and rest["Idempotent-Replayed"] == "true"
    assert rest.json()["id"] == placed["order"]["id"]
    again = ws.request(limit_buy("same-1") | {"id": "again"})
    assert (again["status"], again["replayed"]) == (200, True)
    assert again["order"]["id"] == placed["order"]["id"]
    assert Order.objects.filter(client_order_id="same-1").count() == 1
    ws.close()


def test_cancel_and_cancel_all_go_through_the_rest_code(
    alice, funded, trade_key, matcher
):
    ws = Ws()
    assert auth_ok(auth(ws, trade_key))
    for n in range(3):
        ws.request(limit_buy(f"c-{n}"))
    matcher()
    one = ws.request({"op": "cancel", "id": "c1", "order_id": "client:c-0"})
    assert (one["op"], one["status"], one["cancel_result"]) == (
        "cancel",
        202,
        "pending",
    )
    assert one["order"]["client_order_id"] == "c-0"
    everything = ws.request({"op": "cancel_all", "id": "ca", "pair": "BTC-USD"})
    assert everything["op"] == "cancel_all"
    assert len(everything["requested"]) == 3  # c-0's cancel is idempotent
    matcher()
    assert set(Order.objects.values_list("status", flat=True)) == {
        OrderStatus.CANCELLED
    }
    ws.close()


def test_cancel_on_disconnect_cancels_exactly_the_sessions_orders(
    alice, funded, trade_key, matcher, client
):
    ws = Ws()
    assert auth_ok(auth(ws, trade_key, cancel_on_disconnect=True))
    other = Ws()  # the same key, another session without the option
    assert auth_ok(auth(other, trade_key))
    mine = [ws.request(limit_buy(f"mine-{n}"))["order"]["id"] for n in range(2)]
    theirs = other.request(limit_buy("theirs"))["order"]["id"]
    body = limit_buy("rest")
    for name in ("op", "id"):
        body.pop(name)
    assert signed(client, trade_key, "POST", "/v1/orders", body).status_code == 202
    matcher()
    ws.close()
    cancels = OrderCommand.objects.filter(kind=CommandKind.CANCEL)
    assert sorted(str(c.order.uuid) for c in cancels) == sorted(mine)
    matcher()
    status = dict(Order.objects.values_list("client_order_id", "status"))
    assert status == {
        "mine-0": OrderStatus.CANCELLED,
        "mine-1": OrderStatus.CANCELLED,
        "theirs": OrderStatus.OPEN,
        "rest": OrderStatus.OPEN,
    }
    reasons = Order.objects.filter(status=OrderStatus.CANCELLED)
    assert set(reasons.values_list("reject_reason", flat=True)) == {
        "cancel_on_disconnect"
    }
    assert theirs
    other.close()


def test_a_revoked_key_ends_the_session_within_a_second(alice, settings):
    settings.WS_KEY_CHECK_MS = 100
    key = ApiKeyFactory(user=alice, scope="read")
    ws = Ws()
    assert auth_ok(auth(ws, key))
    apikey_revoke(api_key=key)
    ended = ws.next(timeout=1.5)
    assert ended["id"] is None and code(ended) == "AUTH_KEY_REVOKED"
    assert code(ws.request(limit_buy())) == "AUTH_REQUIRED"
    ws.close()


def test_a_verified_accounts_session_may_follow_the_book_1000_deep(alice, btc_usd):
    key = ApiKeyFactory(user=alice, scope="read")
    deep = {"op": "subscribe", "id": "d", "channel": "book", "pair": "BTC-USD"}
    ws = Ws()
    assert code(ws.request(deep | {"depth": 1000})) == "VALIDATION_ERROR"
    assert auth(ws, key)["max_depth"] == 100
    assert code(ws.request(deep | {"depth": 101})) == "VALIDATION_ERROR"
    ws.close()
    Account.objects.update_or_create(user=alice, defaults={"tier": Tier.VERIFIED})
    ws = Ws()
    assert auth(ws, key)["max_depth"] == 1000
    ack = ws.request(deep | {"depth": 1000})
    assert (ack["type"], ack["channel"]) == ("ack", "book")
    assert ws.next()["type"] == "book_snapshot"
    ws.close()


# ------------------------------------------------------------ private streams


def private_events(ws: Ws, count: int) -> list[dict[str, Any]]:
    got = []
    while len(got) < count:
        msg = ws.next()
        if msg.get("channel") in ("orders", "fills", "balances") and "seq" in msg:
            if msg["type"] != "ack":
                got.append(msg)
    return got


def test_private_channels_need_auth(alice):
    ws = Ws()
    for channel in ("orders", "fills", "balances"):
        sub = {"op": "subscribe", "id": channel, "channel": channel}
        assert code(ws.request(sub)) == "AUTH_REQUIRED"
    resume = {"op": "resume", "id": "r", "channel": "fills", "from_seq": 0}
    assert code(ws.request(resume)) == "AUTH_REQUIRED"
    bad = {"op": "resume", "id": "b", "channel": "trades", "from_seq": 0}
    assert code(ws.request(bad)) == "VALIDATION_ERROR"
    ws.close()


def test_resume_replays_what_was_missed_then_continues_live(alice, bob, btc):
    key = ApiKeyFactory(user=alice, scope="read")
    ws = Ws()
    auth(ws, key)
    start = ws.request({"op": "subscribe", "id": "s", "channel": "balances"})["seq"]
    balance_deposit(user=alice, asset=btc, amount=1)
    balance_deposit(user=bob, asset=btc, amount=5)  # never in alice's stream
    balance_deposit(user=alice, asset=btc, amount=2)
    seen = private_events(ws, 2)
    assert [m["seq"] for m in seen] == [start + 1, start + 2]
    assert [m["data"]["available"] for m in seen] == ["0.00000001", "0.00000003"]
    ws.close()
    # Missed while away:
    balance_deposit(user=alice, asset=btc, amount=4)
    balance_deposit(user=alice, asset=btc, amount=8)
    ws = Ws()
    auth(ws, key)
    resume = {"op": "resume", "id": "r", "channel": "balances", "from_seq": start + 2}
    ack = ws.request(resume)
    assert (ack["op"], ack["seq"]) == ("resume", start + 2)
    balance_deposit(user=alice, asset=btc, amount=16)  # live, after the replay
    again = private_events(ws, 3)
    assert [m["seq"] for m in again] == [start + 3, start + 4, start + 5]
    assert [m["data"]["available"] for m in again] == [
        "0.00000007",
        "0.00000015",
        "0.00000031",
    ]
    assert ws.nothing(0.5)  # nothing twice, nothing of bob's
    ws.close()


def test_a_resume_older_than_what_is_kept_points_to_rest(alice, btc):
    key = ApiKeyFactory(user=alice, scope="read")
    for amount in (1, 2, 3):
        balance_deposit(user=alice, asset=btc, amount=amount)
    # Retention took the first two (as account_events_prune does with age).
    AccountEvent.objects.filter(user=alice, channel="balances", seq__lte=2).delete()
    ws = Ws()
    auth(ws, key)
    old = {"op": "resume", "id": "o", "channel": "balances", "from_seq": 0}
    refused = ws.request(old)
    assert code(refused) == "STREAM_RESUME_TOO_OLD"
    assert refused["error"]["details"]["first_seq"] == 3
    assert refused["error"]["details"]["rest"] == "GET /v1/account/balances"
    ahead = ws.request(old | {"id": "a", "from_seq": 9})
    assert code(ahead) == "VALIDATION_ERROR"
    assert ahead["error"]["details"]["last_seq"] == 3
    ok = ws.request(old | {"id": "k", "from_seq": 2})
    assert ok["type"] == "ack"
    (third,) = private_events(ws, 1)
    assert (third["seq"], third["data"]["available"]) == (3, "0.00000006")
    ws.close()


def test_a_session_that_authenticates_during_the_key_check_is_not_ended(
    alice, monkeypatch
):
    """The watcher reads the keys of the sessions it had when the read
    began; one added while the read is under way is checked next time,
    never taken for revoked because the read did not ask about it."""
    from apps.orders import stream_session

    first = ApiKeyFactory(user=alice, scope="read")
    second = ApiKeyFactory(user=alice, scope="read")
    ended: list[str] = []
    reads: list[list[int]] = []
    real = stream_session.apikeys_current

    def slow_read(*, ids: list[int]) -> dict[int, Any]:
        reads.append(ids)
        if len(reads) == 1:
            time.sleep(0.3)  # the second session authenticates meanwhile
        return real(ids=ids)

    monkeypatch.setattr(stream_session, "apikeys_current", slow_read)

    def session(key: Any) -> stream_session.StreamSession:
        async def on_end(error: Any) -> None:
            ended.append(key.key)

        return stream_session.StreamSession(api_key=key, tier="retail", on_end=on_end)

    async def scenario() -> None:
        watcher = stream_session.KeyWatcher(0.05)
        watcher.add(session(first))
        await asyncio.sleep(0.1)  # the first read has begun
        watcher.add(session(second))
        await asyncio.sleep(0.6)  # the first read ends, a second one runs
        assert watcher.task is not None
        watcher.sessions.clear()
        await asyncio.wait_for(watcher.task, 2)

    asyncio.run(scenario())
    assert ended == []
    assert reads[0] == [first.pk]
    assert [first.pk, second.pk] in reads[1:]
