"""docs/asyncapi.yaml against the real thing: a real server (daphne and the
matcher) and a real client exercise every op and channel; every frame the
client sends must match one of the document's requests, every frame the
server sends one of its messages, and every message the document describes
must have been seen (a message that no longer exists, or a new one that is
not documented, fails)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from websockets.sync.client import connect

from apps.markets.stream_wire import resync_message
from exchange.client.signing import stream_auth
from tests.apikeys.factories import ApiKeyFactory
from tests.markets.test_ws_e2e import exchange, seed_book, ws_url
from tests.matching.processes import wait_drained

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
DOC = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
# Only the server's own trouble sends it; checked from the code that builds it.
NOT_PROVOKED = {"resync"}


def validator(name: str) -> jsonschema.Draft7Validator:
    schema = {"$ref": f"#/components/messages/{name}/payload", **DOC}
    return jsonschema.Draft7Validator(schema)


def names(operation: str) -> list[str]:
    refs = DOC["operations"][operation]["messages"]
    return [ref["$ref"].rsplit("/", 1)[1] for ref in refs]


REQUESTS = {name: validator(name) for name in names("request")}
SERVER = {name: validator(name) for op in ("answer", "stream") for name in names(op)}


def matches(frame: dict[str, Any], catalogue: dict[str, Any]) -> list[str]:
    return [name for name, v in catalogue.items() if v.is_valid(frame)]


class Recorder:
    """A raw client that keeps every frame it sends and receives."""

    def __init__(self, url: str) -> None:
        self.ws = connect(url, proxy=None, open_timeout=10)
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a request and read until its answer."""
        self.sent.append(frame)
        self.ws.send(json.dumps(frame))
        return self.until(lambda m: m.get("id") == frame["id"] and "type" in m)

    def until(self, done: Any, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(
                self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            )
            self.received.append(msg)
            if done(msg):
                return msg

    def seen(self, kind: str) -> bool:
        return any(m.get("type") == kind for m in self.received)


def test_every_message_is_the_documents_and_every_documented_message_is_sent(
    funded, alice, bob, tmp_path
):
    key = ApiKeyFactory(user=alice, scope="trade")
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        client = Recorder(ws_url(base))
        try:
            client.send({"op": "ping", "id": "ping"})
            pair = {"pair": "BTC-USD"}
            client.send(
                {"op": "subscribe", "id": "b", "channel": "book", "depth": 5} | pair
            )
            client.send({"op": "subscribe", "id": "t", "channel": "trades"} | pair)
            client.send({"op": "subscribe", "id": "k", "channel": "ticker"} | pair)
            client.send(
                {"op": "subscribe", "id": "c", "channel": "candles", "interval": "1m"}
                | pair
            )
            client.send({"op": "subscribe", "id": "x", "channel": "nope"} | pair)
            auth = stream_auth(key=key.key, secret=key.secret, request_id="auth")
            client.send(auth)
            for channel in ("orders", "balances"):
                client.send({"op": "subscribe", "id": channel, "channel": channel})
            client.send(
                {"op": "resume", "id": "fills", "channel": "fills", "from_seq": 0}
            )
            order = {"type": "limit", "size": "0.001"} | pair
            client.send(
                {"op": "place", "id": "p1", "side": "buy", "price": "62000"} | order
            )
            client.send(
                {
                    "op": "place",
                    "id": "p2",
                    "side": "buy",
                    "price": "63001",
                    "client_order_id": "taker",
                }
                | order
            )
            client.send({"op": "cancel", "id": "c1", "order_id": "client:taker"})
            client.send({"op": "cancel_all", "id": "ca"} | pair)
            wait_drained(matcher)
            for kind in (
                "fill",
                "trade",
                "book_delta",
                "ticker",
                "candle",
                "heartbeat",
            ):
                if not client.seen(kind):
                    client.until(lambda m, kind=kind: m.get("type") == kind)
            scenario = {"op": "scenario", "id": "s1", "scenario": "resync"}
            client.send(scenario | {"channel": "trades"} | pair)
            client.until(lambda m: m.get("type") == "resync")
            scenario = {"op": "scenario", "id": "s2", "scenario": "gap"}
            client.send(scenario | {"channel": "book"} | pair)
            client.send({"op": "unsubscribe", "id": "u", "channel": "book"} | pair)
            client.send({"op": "unsubscribe", "id": "u2", "channel": "orders"})
        finally:
            client.ws.close()
    # A resync for a reason of the server's own, as the server builds it.
    client.received.append(resync_message("book", funded, "slow_consumer"))

    for frame in client.sent:
        if frame["id"] != "x":  # the deliberately bad request
            assert len(matches(frame, REQUESTS)) == 1, frame
    seen: set[str] = set()
    for frame in client.received:
        found = matches(frame, SERVER)
        assert found, (frame, _why(frame))
        seen.update(found)
    assert {f["op"] for f in client.sent} >= {"ping", "subscribe", "resume", "auth"}
    missing = set(SERVER) - seen
    assert not missing, f"documented but never sent: {sorted(missing)}"
    missing = set(REQUESTS) - {n for f in client.sent for n in matches(f, REQUESTS)}
    assert not missing, f"documented requests never exercised: {sorted(missing)}"


def _why(frame: dict[str, Any]) -> str:
    """The errors against the messages of the frame's type, to read."""
    out = []
    for name, v in SERVER.items():
        errors = list(v.iter_errors(frame))
        if errors and not any(
            e.validator == "const" and e.path and e.path[0] == "type" for e in errors
        ):
            out.append(f"{name}: {errors[0].message} at {list(errors[0].path)}")
    return "; ".join(out)
