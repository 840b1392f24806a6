"""A WebSocket client of the public streams (``/v1/ws``, docs/websocket.md).

It uses the ``websockets`` package's sync API: a bot or a test calls
``subscribe_book`` and ``recv`` in its own thread, like the REST client,
without an event loop to run. A connection is used from one thread at a time;
nothing reads in the background, so frames wait in the socket until the next
``recv`` (a reader that falls too far behind gets the server's ``resync``).

Requests are answered by id: ``ping``/``subscribe_*``/``unsubscribe`` send one
and read until its answer, keeping the stream messages read meanwhile for
``recv``; an error frame raises :class:`~exchange.client.rest.ApiError` (code,
message, details; ``status`` 0, a frame has no HTTP status).

Each book subscription feeds a :class:`~exchange.client.book.LocalBook`
before its message is handed out, so ``stream.books[pair]`` is current when
``recv`` returns. Automatic resync: when a book loses the chain (a delta whose
``prev_seq`` is not the last ``seq``, a checksum that is not the local book's,
a crossed book, or a heartbeat naming another ``seq``), the stream
unsubscribes and subscribes again and drops that pair's book messages until
the new subscription's ack; its snapshot restores the book. After a server ``resync`` the book just waits for the snapshot that
follows. ``strict=True`` raises ``BookOutOfSync`` from ``recv`` instead.

    with MarketStream("http://127.0.0.1:8000") as stream:
        book = stream.subscribe_book("BTC-USD", depth=10)
        for msg in stream:
            print(book.seq, book.bids(1), book.asks(1))
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import ClientConnection, connect

from exchange.client.book import LocalBook
from exchange.client.rest import ApiError

_ANSWERS = frozenset({"pong", "ack", "error"})
_BOOK_MESSAGES = frozenset({"book_snapshot", "book_delta", "resync"})


def ws_url(url: str) -> str:
    """``http(s)://host`` -> ``ws(s)://host/v1/ws``; a ws URL with a path is
    kept as it is."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else "/v1/ws"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def _error(frame: dict[str, Any]) -> ApiError:
    error = frame.get("error") or {}
    return ApiError(
        0,
        str(error.get("code", "UNKNOWN")),
        str(error.get("message", "")),
        error.get("details") or {},
        bool(error.get("retryable", False)),
    )


class MarketStream:
    """One connection to ``/v1/ws`` with its subscriptions and local books.

    ``url`` is the server's base URL (``http://host:8000``) or the WebSocket
    URL. ``timeout`` bounds connecting and each request's wait for its answer
    (seconds). ``connection`` replaces the socket (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10,
        strict: bool = False,
        max_size: int = 2**24,
        connection: ClientConnection | None = None,
    ) -> None:
        self.url = ws_url(url)
        self.timeout = timeout
        self.strict = strict
        self.books: dict[str, LocalBook] = {}
        self.resubscribes = 0  # automatic resyncs of books (unsubscribe + subscribe)
        self._ws = connection or connect(
            self.url,
            proxy=None,
            open_timeout=timeout,
            close_timeout=2,
            max_size=max_size,
        )
        self._ids = itertools.count(1)
        self._inbox: deque[dict[str, Any]] = deque()  # stream messages not yet recv'd
        self._answers: dict[str, dict[str, Any]] = {}
        self._waiting: set[str] = set()  # ids of the caller's requests
        self._internal: set[str] = set()  # ids of the stream's own resubscribes
        self._resubscribing: dict[str, str] = {}  # pair -> its new subscribe's id

    # -- plumbing ------------------------------------------------------------

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> MarketStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send ``{"op": op, "id": ..., **fields}`` and return its answer
        (pong or ack); an error frame raises ``ApiError``."""
        request_id = self._send(op, fields)
        self._waiting.add(request_id)
        try:
            self.wait_until(lambda: request_id in self._answers, self.timeout)
        finally:
            self._waiting.discard(request_id)
        answer = self._answers.pop(request_id)
        if answer["type"] == "error":
            raise _error(answer)
        return answer

    def _send(self, op: str, fields: dict[str, Any]) -> str:
        request_id = f"c{next(self._ids)}"
        self._ws.send(json.dumps({"op": op, "id": request_id, **fields}))
        return request_id

    # -- requests ------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """The server's pong (``server_time`` in Unix ms)."""
        return self.request("ping")

    def subscribe_book(
        self, pair: str, depth: int = 100, *, wait: bool = True
    ) -> LocalBook:
        """Subscribe to ``pair``'s book; returns its LocalBook (also in
        ``books`` under the server's spelling of the pair), in sync with its
        snapshot unless ``wait`` is false."""
        ack = self.request("subscribe", channel="book", pair=pair, depth=depth)
        book = LocalBook(ack["pair"], depth, strict=self.strict)
        self.books[book.pair] = book
        if wait:
            self.wait_until(lambda: book.in_sync, self.timeout)
        return book

    def subscribe_trades(self, pair: str) -> dict[str, Any]:
        """Subscribe to ``pair``'s trades; ``trade`` messages come by ``recv``."""
        return self.request("subscribe", channel="trades", pair=pair)

    def subscribe_ticker(self, pair: str) -> dict[str, Any]:
        """Subscribe to ``pair``'s ticker (REST's ``/v1/ticker`` figures);
        ``ticker`` messages come by ``recv``, the first at once."""
        return self.request("subscribe", channel="ticker", pair=pair)

    def subscribe_candles(self, pair: str, interval: str = "1m") -> dict[str, Any]:
        """Subscribe to ``pair``'s candles of ``interval`` (1m, 5m, 15m, 1h,
        4h, 1d); ``candle`` messages come by ``recv``: the last closed and
        the forming candle at once, then each change."""
        return self.request(
            "subscribe", channel="candles", pair=pair, interval=interval
        )

    def unsubscribe(
        self, channel: str, pair: str, *, interval: str | None = None
    ) -> dict[str, Any]:
        """End a subscription (candles: of ``interval``); nothing more
        arrives on it after this returns."""
        fields = {} if interval is None else {"interval": interval}
        ack = self.request("unsubscribe", channel=channel, pair=pair, **fields)
        if channel == "book":
            self.books.pop(ack["pair"], None)
            self._resubscribing.pop(ack["pair"], None)
        return ack

    # -- reading -------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next stream message (snapshot, delta, resync, trade, heartbeat),
        already applied to its book. Raises ``TimeoutError`` after ``timeout``
        seconds (None: wait for ever) and ``ConnectionClosed`` at the end."""
        self.wait_until(lambda: bool(self._inbox), timeout)
        return self._inbox.popleft()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Stream messages until the connection closes normally."""
        while True:
            try:
                yield self.recv()
            except ConnectionClosedOK:
                return

    def wait_until(self, predicate: Callable[[], Any], timeout: float | None) -> None:
        """Read frames until ``predicate()`` holds; the stream messages read are
        kept for ``recv``. ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        first = True
        while not predicate():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                if not first:  # a timeout of 0 still reads what has arrived
                    raise TimeoutError(f"nothing awaited came within {timeout} s")
                left = 0
            first = False
            raw = self._ws.recv(timeout=left)
            self._dispatch(json.loads(raw, parse_float=Decimal))

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        request_id = msg.get("id")
        if kind in _ANSWERS and request_id in self._internal:
            self._internal_answer(msg)
        elif kind in _ANSWERS and request_id in self._waiting:
            self._answers[request_id] = msg
        elif kind in _BOOK_MESSAGES and msg.get("channel") == "book":
            if self._book_message(msg):
                self._inbox.append(msg)
        else:
            if kind == "heartbeat":
                self._heartbeat(msg)
            self._inbox.append(msg)

    def _book_message(self, msg: dict[str, Any]) -> bool:
        """Apply to the pair's book; False for a message of a subscription
        being replaced (dropped)."""
        pair = msg.get("pair")
        book = self.books.get(str(pair))
        if book is None or pair in self._resubscribing:
            return False
        gaps = book.gaps
        book.apply(msg)
        if book.gaps > gaps:
            self._resubscribe(book)
        return True

    def _heartbeat(self, msg: dict[str, Any]) -> None:
        for sub in msg.get("subscriptions", []):
            book = self.books.get(sub.get("pair"))
            if (
                sub.get("channel") == "book"
                and book is not None
                and book.pair not in self._resubscribing
                and not book.check_seq(sub["seq"])
            ):
                self._resubscribe(book)

    def _resubscribe(self, book: LocalBook) -> None:
        # The server answers in order: after the unsubscribe's ack nothing more
        # comes of the old subscription, so everything after the new ack
        # belongs to the new one, starting with its snapshot.
        fields = {"channel": "book", "pair": book.pair}
        self._internal.add(self._send("unsubscribe", fields))
        subscribe_id = self._send("subscribe", {**fields, "depth": book.depth})
        self._internal.add(subscribe_id)
        self._resubscribing[book.pair] = subscribe_id
        self.resubscribes += 1

    def _internal_answer(self, msg: dict[str, Any]) -> None:
        self._internal.discard(msg["id"])
        if msg["type"] == "error":
            # A resubscribe the server refused: that book is gone, not
            # waiting forever for a snapshot.
            for pair, subscribe_id in list(self._resubscribing.items()):
                if subscribe_id == msg["id"]:
                    del self._resubscribing[pair]
                    self.books.pop(pair, None)
            raise _error(msg)
        for pair, subscribe_id in list(self._resubscribing.items()):
            if subscribe_id == msg["id"]:
                del self._resubscribing[pair]
