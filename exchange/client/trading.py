"""A signed WebSocket session: private streams with resume, and order entry
(docs/websocket.md, "auth", "Private channels", "Order entry").

``TradingStream`` is a ``MarketStream`` (public channels work the same) that
authenticates on connect. It remembers the last ``seq`` of each private
channel in ``positions``; give a new stream the old one's ``positions`` and
``resume()`` replays what was missed while disconnected, then continues live,
with no gap and no duplicate::

    stream = TradingStream(url, key=KEY, secret=SECRET)
    stream.subscribe_private("fills")
    ...                                   # the connection drops
    stream = TradingStream(url, key=KEY, secret=SECRET, positions=stream.positions)
    stream.resume()                       # the missed fills come first
"""

from __future__ import annotations

from typing import Any

from exchange.client.signing import stream_auth
from exchange.client.ws import MarketStream

PRIVATE_CHANNELS = ("orders", "fills", "balances")


class PrivateGap(Exception):
    """A private channel's seq skipped a number (strict mode)."""


class TradingStream(MarketStream):
    def __init__(
        self,
        url: str,
        *,
        key: str,
        secret: str,
        cancel_on_disconnect: bool = False,
        positions: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, **kwargs)
        self.positions: dict[str, int] = dict(positions or {})
        self.private_gaps = 0
        frame = stream_auth(
            key=key, secret=secret, cancel_on_disconnect=cancel_on_disconnect
        )
        frame.pop("op")
        frame.pop("id")
        self.session = self.request("auth", **frame)

    # -- private channels ----------------------------------------------------

    def subscribe_private(self, channel: str) -> dict[str, Any]:
        """Live events of ``channel`` from now; the ack's ``seq`` is where
        they start (kept in ``positions``)."""
        ack = self.request("subscribe", channel=channel)
        self.positions[channel] = ack["seq"]
        return ack

    def resume(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Resume ``channel`` (default: every channel in ``positions``) from
        its last seq: the missed events arrive first, then live ones. Raises
        ApiError ``STREAM_RESUME_TOO_OLD`` when they are no longer kept."""
        channels = [channel] if channel else list(self.positions)
        return [
            self.request("resume", channel=c, from_seq=self.positions[c])
            for c in channels
        ]

    def _dispatch(self, msg: dict[str, Any]) -> None:
        channel = msg.get("channel")
        if channel in PRIVATE_CHANNELS and msg.get("type") not in (
            "ack",
            "error",
        ):
            seq = int(msg["seq"])
            if seq != self.positions.get(channel, 0) + 1:
                self.private_gaps += 1
                if self.strict:
                    raise PrivateGap(
                        f"{channel}: seq {seq} after {self.positions.get(channel)}"
                    )
            self.positions[channel] = max(seq, self.positions.get(channel, 0))
        super()._dispatch(msg)

    # -- order entry -----------------------------------------------------------

    def place(self, **order: Any) -> dict[str, Any]:
        """Place an order (``POST /v1/orders``'s fields); the ack carries
        ``status`` (201 matched, 202 pending, 200 replayed) and ``order``."""
        return self.request("place", **order)

    def cancel(self, order_id: str) -> dict[str, Any]:
        """Cancel by id or ``client:<client_order_id>`` (idempotent)."""
        return self.request("cancel", order_id=order_id)

    def cancel_all(self, pair: str | None = None) -> dict[str, Any]:
        return self.request("cancel_all", **({"pair": pair} if pair else {}))
