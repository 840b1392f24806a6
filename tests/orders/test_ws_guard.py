"""The WebSocket guard without a server: the token bucket, the connection
slots (in process, and on Redis when the run has it), the Origin check, the
middleware and the consumer mixin through channels' communicator, with a
minimal consumer of our own (the real one's hooks are the lead's)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from apps.core.errors import DomainError
from apps.orders.ws_guard.consumer import GuardedConsumerMixin
from apps.orders.ws_guard.frames import FrameLimiter, Verdict
from apps.orders.ws_guard.middleware import WebSocketGuard
from apps.orders.ws_guard.origin import origin_validator
from apps.orders.ws_guard.slots import LocalSlots, RedisSlots

needs_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the shared counter needs REDIS_URL"
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ frames


def test_frame_limiter_allows_a_burst_then_refuses_until_tokens_return():
    clock = Clock()
    limiter = FrameLimiter(50, 100, clock=clock)
    assert [limiter.check() for _ in range(100)] == [Verdict.ALLOW] * 100
    assert limiter.check() is Verdict.REFUSE
    assert 1 <= limiter.retry_after_ms() <= 21
    clock.now += 0.1  # five tokens back
    assert [limiter.check() for _ in range(6)] == [Verdict.ALLOW] * 5 + [Verdict.REFUSE]


def test_frame_limiter_lets_a_client_at_the_rate_through_forever():
    clock = Clock()
    limiter = FrameLimiter(50, 100, clock=clock)
    for _ in range(50 * 60):
        clock.now += 0.02
        assert limiter.check() is Verdict.ALLOW


def _flood(limiter: FrameLimiter, clock: Clock, per_second: int, seconds: float):
    verdicts = []
    for _ in range(int(per_second * seconds)):
        clock.now += 1 / per_second
        verdicts.append(limiter.check())
    return verdicts


def test_frame_limiter_closes_a_client_at_five_times_the_rate_for_five_seconds():
    clock = Clock()
    limiter = FrameLimiter(50, 100, clock=clock)
    verdicts = _flood(limiter, clock, 250, 7)
    first_close = verdicts.index(Verdict.CLOSE) / 250
    assert 5 <= first_close <= 6.5, first_close
    assert Verdict.REFUSE in verdicts[: int(250 * first_close)]


def test_frame_limiter_only_refuses_a_client_at_four_times_the_rate():
    clock = Clock()
    limiter = FrameLimiter(50, 100, clock=clock)
    verdicts = _flood(limiter, clock, 200, 30)
    assert Verdict.CLOSE not in verdicts
    assert verdicts.count(Verdict.ALLOW) == pytest.approx(100 + 50 * 30, abs=2)


def test_frame_limiter_forgives_a_client_that_calms_down():
    clock = Clock()
    limiter = FrameLimiter(50, 100, clock=clock)
    assert Verdict.CLOSE not in _flood(limiter, clock, 250, 4)
    clock.now += 10
    assert Verdict.CLOSE not in _flood(limiter, clock, 250, 4)


# ------------------------------------------------------------------ slots


def test_local_slots_count_per_value_and_come_back_on_release():
    async def scenario() -> None:
        slots = LocalSlots()
        taken = [await slots.acquire("ip", "10.0.0.1", 2) for _ in range(3)]
        assert taken[2] is None and None not in taken[:2]
        assert await slots.acquire("ip", "10.0.0.2", 2) is not None
        await taken[0].release()
        await taken[0].release()  # twice gives back one slot only
        assert await slots.count("ip", "10.0.0.1") == 1
        assert await slots.acquire("ip", "10.0.0.1", 2) is not None
        assert await slots.acquire("ip", "10.0.0.1", 2) is None

    async_to_sync(scenario)()


def _redis_slots(ttl_ms: int) -> RedisSlots:
    import redis.asyncio

    return RedisSlots(redis.asyncio.Redis.from_url(django_settings.REDIS_URL), ttl_ms)


@needs_redis
@pytest.mark.django_db  # conftest clears the cache, and so this Redis database
def test_redis_slots_are_shared_by_processes_and_a_dead_ones_expire():
    async def scenario() -> None:
        alive, dead = _redis_slots(600), _redis_slots(600)
        first = await alive.acquire("ip", "10.0.0.9", 3)
        gone = [await dead.acquire("ip", "10.0.0.9", 3) for _ in range(2)]
        assert first is not None and None not in gone
        assert await alive.acquire("ip", "10.0.0.9", 3) is None  # 3 in all
        assert await alive.count("ip", "10.0.0.9") == 3
        # The dead process never refreshes nor releases: only the living
        # one's slot survives its TTL, however often the living refreshes.
        dead.refresher.cancel()
        for _ in range(5):
            await asyncio.sleep(0.2)
            await alive.refresh()
        assert await alive.count("ip", "10.0.0.9") == 1
        again = await alive.acquire("ip", "10.0.0.9", 3)
        assert again is not None
        await first.release()
        await again.release()
        assert await alive.count("ip", "10.0.0.9") == 0
        assert await alive.client.exists(alive.key("ip", "10.0.0.9")) == 0
        alive.refresher.cancel()

    async_to_sync(scenario)()


@needs_redis
@pytest.mark.django_db
def test_redis_slots_race_for_the_last_slot_takes_it_once():
    async def scenario() -> None:
        processes = [_redis_slots(5000) for _ in range(4)]
        taken = await asyncio.gather(
            *[p.acquire("key", "k1", 5) for p in processes for _ in range(10)]
        )
        assert len([slot for slot in taken if slot is not None]) == 5
        for slot in taken:
            if slot is not None:
                await slot.release()
        assert await processes[0].count("key", "k1") == 0
        for p in processes:
            p.refresher.cancel()

    async_to_sync(scenario)()


def test_redis_slots_let_clients_in_when_redis_is_away():
    import redis.asyncio

    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url("redis://127.0.0.1:1/0")
        slots = RedisSlots(client)
        taken = [await slots.acquire("ip", "10.0.0.1", 1) for _ in range(3)]
        assert None not in taken
        await taken[0].release()

    async_to_sync(scenario)()


# ------------------------------------------------------------------ the ASGI edge


class Echo(GuardedConsumerMixin, AsyncWebsocketConsumer):
    """A minimal consumer wired as the lead's will be: the frame check first
    in receive, the key slot on an "auth" op."""

    async def connect(self) -> None:
        await self.accept()

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        if await self.frame_refused(text_data, bytes_data):
            return
        frame = json.loads(text_data or "{}")
        if frame.get("op") == "auth":
            try:
                await self.key_slot_take(frame["key"])
            except DomainError as exc:
                await self.send(text_data=json.dumps({"error": str(exc.code)}))
                return
        await self.send(text_data=json.dumps({"echo": frame.get("id")}))


def _app() -> Any:
    return origin_validator(WebSocketGuard(Echo.as_asgi()))


def _communicator(
    client: str | None = "10.1.1.1", headers: list[tuple[bytes, bytes]] | None = None
) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(_app(), "/v1/ws", headers=headers)
    if client is not None:
        communicator.scope["client"] = [client, 50000]
    return communicator


@pytest.fixture
def limits(settings, transactional_db):
    """Small limits (channels' consumers touch the database connection)."""
    settings.REDIS_URL = ""  # the in-process count, whatever this run has
    settings.WS_MAX_CONNECTIONS_PER_IP = 2
    settings.WS_MAX_CONNECTIONS_PER_KEY = 1
    settings.WS_MAX_FRAMES_PER_SECOND = 50
    settings.WS_FRAME_BURST = 5
    settings.WS_MAX_FRAME_BYTES = 1000
    return settings


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The consumers' frame limiters run on this clock, not the machine's."""
    clock = Clock()
    original = FrameLimiter.__init__

    def with_clock(self, *args: Any, **kwargs: Any) -> None:
        original(self, *args, clock=clock, **kwargs)

    monkeypatch.setattr(FrameLimiter, "__init__", with_clock)
    return clock


def _error(message: dict[str, Any]) -> dict[str, Any]:
    frame = json.loads(message["text"])
    assert frame["type"] == "error", frame
    assert set(frame["error"]) == {"code", "message", "retryable", "details"}
    return frame


def test_a_third_connection_from_one_address_gets_an_error_then_4029(limits):
    async def scenario() -> None:
        first, second, third = (_communicator() for _ in range(3))
        assert (await first.connect())[0] and (await second.connect())[0]
        other = _communicator("10.1.1.2")
        assert (await other.connect())[0]
        assert (await third.connect())[0]  # accepted, to be told why
        frame = _error(await third.receive_output())
        assert frame["id"] is None
        assert frame["error"]["code"] == "RATE_LIMIT_CONNECTIONS_PER_IP"
        assert frame["error"]["details"] == {"limit": 2, "scope": "ip"}
        closing = await third.receive_output()
        assert closing == {
            "type": "websocket.close",
            "code": 4029,
            "reason": "too many connections",
        }
        await first.disconnect()
        fourth = _communicator()
        assert (await fourth.connect())[0]
        await fourth.send_to(text_data='{"id": "x"}')
        assert json.loads(await fourth.receive_from()) == {"echo": "x"}
        for c in (second, other, fourth):
            await c.disconnect()

    async_to_sync(scenario)()


def test_connections_behind_a_trusted_proxy_count_by_forwarded_address(limits):
    limits.TRUSTED_PROXIES = ["10.9.0.0/16"]

    def via_proxy(address: str) -> WebsocketCommunicator:
        return _communicator("10.9.0.1", [(b"x-forwarded-for", address.encode())])

    async def scenario() -> None:
        clients = [via_proxy(f"203.0.113.{n}") for n in range(1, 5)]
        for c in clients:
            assert (await c.connect())[0]
            await c.send_to(text_data='{"id": "ok"}')
            assert json.loads(await c.receive_from()) == {"echo": "ok"}
        # A forged header from an untrusted peer counts as that peer.
        forged = [
            _communicator("198.51.100.7", [(b"x-forwarded-for", b"203.0.113.99")])
            for _ in range(3)
        ]
        for c in forged[:2]:
            assert (await c.connect())[0]
        await forged[2].connect()
        frame = _error(await forged[2].receive_output())
        assert frame["error"]["code"] == "RATE_LIMIT_CONNECTIONS_PER_IP"
        for c in clients + forged[:2]:
            await c.disconnect()

    async_to_sync(scenario)()


def test_origin_of_another_site_is_refused_and_no_origin_is_let_in(limits):
    async def scenario() -> None:
        evil = _communicator(headers=[(b"origin", b"https://evil.example")])
        assert await evil.connect() == (False, 1000)  # HTTP 403 under daphne
        for headers in ([], [(b"origin", b"http://127.0.0.1:8000")]):
            ok = _communicator("10.1.1.3", headers=headers)
            assert (await ok.connect())[0], headers
            await ok.disconnect()

    async_to_sync(scenario)()


def test_allowed_origins_setting_admits_a_front_end_host(limits):
    limits.WS_ALLOWED_ORIGINS = ["https://app.example.com"]

    async def scenario() -> None:
        app = _communicator(headers=[(b"origin", b"https://app.example.com")])
        assert (await app.connect())[0]
        await app.disconnect()
        plain = _communicator(headers=[(b"origin", b"http://app.example.com")])
        assert await plain.connect() == (False, 1000)

    async_to_sync(scenario)()


def test_a_message_over_the_size_limit_closes_1009(limits):
    async def scenario() -> None:
        c = _communicator()
        assert (await c.connect())[0]
        await c.send_to(text_data=json.dumps({"id": "a", "pad": "x" * 900}))
        assert json.loads(await c.receive_from()) == {"echo": "a"}
        await c.send_to(text_data=json.dumps({"id": "b", "pad": "x" * 1000}))
        assert await c.receive_output() == {"type": "websocket.close", "code": 1009}

    async_to_sync(scenario)()


def test_frames_over_the_burst_are_refused_with_their_id_and_not_processed(
    limits, clock
):
    async def scenario() -> None:
        c = _communicator()
        assert (await c.connect())[0]
        for n in range(8):
            await c.send_to(text_data=json.dumps({"id": f"r{n}"}))
        answers = [json.loads(await c.receive_from()) for _ in range(8)]
        assert answers[:5] == [{"echo": f"r{n}"} for n in range(5)]
        for n, frame in enumerate(answers[5:], start=5):
            assert frame["type"] == "error" and frame["id"] == f"r{n}", frame
            assert frame["error"]["code"] == "RATE_LIMIT_EXCEEDED"
            assert frame["error"]["retryable"] is True
            details = frame["error"]["details"]
            assert details["limit_per_second"] == 50 and details["burst"] == 5
            assert details["retry_after_ms"] >= 1
        await c.send_to(text_data="not json")  # refused, so never parsed
        assert json.loads(await c.receive_from())["id"] is None
        await c.disconnect()

    async_to_sync(scenario)()


def test_a_sustained_flood_closes_4029_with_its_reason(limits, clock):
    async def scenario() -> None:
        c = _communicator()
        assert (await c.connect())[0]
        closed = None
        for _ in range(250 * 7):
            clock.now += 1 / 250
            await c.send_to(text_data='{"id": "f"}')
            message = await c.receive_output()
            if message["type"] == "websocket.close":
                closed = message
                break
        assert closed == {
            "type": "websocket.close",
            "code": 4029,
            "reason": "frame flood",
        }
        assert 5 <= clock.now - 1000 <= 6.5

    async_to_sync(scenario)()


def test_an_api_key_holds_one_slot_per_connection_until_it_ends(limits):
    async def scenario() -> None:
        first, second = _communicator(), _communicator()
        for c in (first, second):
            assert (await c.connect())[0]
        await first.send_to(text_data='{"op": "auth", "key": "k1", "id": "1"}')
        assert json.loads(await first.receive_from()) == {"echo": "1"}
        await first.send_to(text_data='{"op": "auth", "key": "k1", "id": "2"}')
        assert json.loads(await first.receive_from()) == {"echo": "2"}  # same key
        await second.send_to(text_data='{"op": "auth", "key": "k1", "id": "3"}')
        assert json.loads(await second.receive_from()) == {
            "error": "RATE_LIMIT_CONNECTIONS_PER_KEY"
        }
        await second.send_to(text_data='{"op": "auth", "key": "k2", "id": "4"}')
        assert json.loads(await second.receive_from()) == {"echo": "4"}
        await first.disconnect()
        third = _communicator("10.1.1.4")
        assert (await third.connect())[0]
        await third.send_to(text_data='{"op": "auth", "key": "k1", "id": "5"}')
        assert json.loads(await third.receive_from()) == {"echo": "5"}
        # Moving to another key gives k2's slot back.
        await second.send_to(text_data='{"op": "auth", "key": "k3", "id": "6"}')
        assert json.loads(await second.receive_from()) == {"echo": "6"}
        await third.send_to(text_data='{"op": "auth", "key": "k2", "id": "7"}')
        assert json.loads(await third.receive_from()) == {"echo": "7"}
        for c in (second, third):
            await c.disconnect()

    async_to_sync(scenario)()
