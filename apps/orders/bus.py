"""Signals between the API processes and the matcher, both directions: the
one place that knows how they travel (Redis, LISTEN/NOTIFY or nothing).

* wake: the API tells the matcher a pair has new commands (``wake_matcher``;
  ``notify_sql`` for a statement that carries it); the matcher sleeps on
  ``WakeListener``. With Redis a list per pair (pushed after commit, BLPOP).
  Without Redis on PostgreSQL a NOTIFY on the pair's channel in the
  transaction that wrote the command (delivered on commit; the order
  statement carries it). Not with Redis: every transaction that notifies
  takes one global lock at commit, which would serialise all placements of
  all API processes. Else nothing (the matcher polls every
  MATCHER_POLL_INTERVAL_MS).
* results: the matcher tells a waiting API request its order was processed.
  Redis (a short-lived list per order, BLPOP); without Redis the API re-reads
  the order row with a short back-off.

Each is a hint: the database stays the source of truth, so a lost signal only
costs latency, never an order.

It lives in ``orders``, below the matcher: the command queue and its signals
are the contract between ``orders`` (producer) and the matcher (consumer),
and both import it without an upward arrow (DESIGN.md, "Layers").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connection, transaction


def wake_channel(pair_id: int) -> str:
    """The pair's LISTEN/NOTIFY channel: a matcher hears only its own pairs."""
    return f"matcher_wake_{int(pair_id)}"


RESULT_TTL_S = 30
log = logging.getLogger(__name__)


def _redis():  # type: ignore[no-untyped-def]
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def wake_key(pair_id: int) -> str:
    return f"matcher:wake:{pair_id}"


def result_key(order_id: int) -> str:
    return f"matcher:result:{order_id}"


def notify_sql() -> str:
    """The select-list expression that sends a wake-up NOTIFY, for a statement
    that carries it (the order's one statement); its one parameter is
    ``wake_channel(pair_id)``. Delivered when the transaction commits."""
    return "pg_notify(%s, '')"


def wakes_by_notify() -> bool:
    """Whether wake-ups are PostgreSQL NOTIFYs (else a Redis list, or none)."""
    return settings.IS_POSTGRES and not settings.REDIS_URL


# The pairs to wake once when the innermost ``wakes_deferred`` ends; None
# outside one.
_deferred: ContextVar[set[int] | None] = ContextVar("deferred_wakes", default=None)


@contextmanager
def wakes_deferred() -> Iterator[None]:
    """Inside, ``wake_matcher`` only notes its pair; on leaving, each noted
    pair is woken once. A batch of twenty orders sends one wake-up per pair
    rather than twenty (on Redis a round trip each). Leave it after the
    commands' transaction commits or inside it (as ``wake_matcher`` asks)."""
    pairs: set[int] = set()
    token = _deferred.set(pairs)
    try:
        yield
    finally:
        _deferred.reset(token)
        for pair_id in sorted(pairs):
            wake_matcher(pair_id)


def wake_matcher(pair_id: int) -> None:
    """Nudge the matcher that owns ``pair_id``. Call inside the transaction
    that wrote the command (PostgreSQL delivers NOTIFY on commit) or after it."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.add(pair_id)
        return
    if settings.REDIS_URL:
        # After commit: a matcher woken earlier would find nothing and sleep.
        transaction.on_commit(lambda: _push_wake(pair_id))
    elif wakes_by_notify():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {notify_sql()}", [wake_channel(pair_id)])


def _push_wake(pair_id: int) -> None:
    # Runs after the command committed: an error here must not fail the
    # request (the order is placed; a retry would place another). The
    # matcher's polling picks the command up.
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.rpush(wake_key(pair_id), 1)
        pipe.ltrim(wake_key(pair_id), -1, -1)
        pipe.execute()
    except Exception:  # noqa: BLE001 - a hint only
        log.warning("could not wake the matcher of pair %s", pair_id, exc_info=True)


class WakeListener:
    """The matcher's side of the wake-up: sleeps until a wake hint for one of
    its pairs arrives or the poll interval passes.

    ``pg_conn``: a psycopg connection in autocommit mode, where the wake-ups
    are NOTIFYs, to LISTEN on. The matcher passes its pair-lock connection
    rather than the bus opening one: it is already dedicated and outlives
    the matcher's loop (Django's connection runs the batches' transactions,
    and NOTIFYs reach a connection only between them), it costs no extra
    server connection, and if it dies the matcher notices at once (the lock
    liveness check) and stops, so a listener never goes deaf unnoticed."""

    def __init__(self, pair_ids: list[int], *, pg_conn: Any = None) -> None:
        self.keys: list[str] = []
        self.warned_at = -1e9
        self.pg = pg_conn if wakes_by_notify() else None
        for pair_id in pair_ids:
            self.add(pair_id)

    def add(self, pair_id: int) -> None:
        """Listen for ``pair_id`` too (a pair the matcher took while running)."""
        self.keys.append(wake_key(pair_id))
        if self.pg is not None:
            self.pg.execute(f"LISTEN {wake_channel(int(pair_id))}")

    def wait(self, timeout: float) -> None:
        """Return on a wake hint, or after ``timeout`` seconds."""
        if not self.keys:
            time.sleep(timeout)  # no pairs yet (a matcher of all, none listed)
        elif settings.REDIS_URL:
            try:
                redis = _redis()
                if redis.blpop(self.keys, timeout=timeout):
                    redis.delete(*self.keys)
            except Exception:  # noqa: BLE001 - wake-ups are hints: poll meanwhile
                now = time.monotonic()
                if now - self.warned_at > 60:
                    log.warning("wake-ups via Redis failed; polling", exc_info=True)
                    self.warned_at = now
                time.sleep(timeout)
        elif self.pg is not None:
            for _ in self.pg.notifies(timeout=timeout, stop_after=1):
                pass
        else:
            time.sleep(timeout)


def publish_results(order_ids: Iterable[int]) -> None:
    """After commit: tell waiting API requests these orders were processed."""
    if not settings.REDIS_URL:
        return
    ids = list(order_ids)
    if not ids:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for order_id in ids:
            pipe.rpush(result_key(order_id), 1)
            pipe.expire(result_key(order_id), RESULT_TTL_S)
        pipe.execute()
    except Exception:  # noqa: BLE001 - waiters fall back to reading the rows
        log.warning("could not publish %d results", len(ids), exc_info=True)


def wait_for(order_id: int, is_done: Callable[[], bool], timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` until ``is_done()`` (which re-reads the database)
    is true. Returns the last answer of ``is_done``."""
    deadline = time.monotonic() + timeout_s
    if settings.REDIS_URL:
        # BLPOP returns as soon as the matcher publishes (the list outlives a
        # result published before we got here); is_done confirms it, and an
        # older result of the same order (its placement, before a cancel) only
        # means waiting again.
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return is_done()
            try:
                popped = _redis().blpop(
                    [result_key(order_id)], timeout=max(remaining, 0.01)
                )
            except Exception:  # noqa: BLE001 - poll the database instead
                log.warning("result wait via Redis failed; polling", exc_info=True)
                break
            if popped is None:
                return is_done()
            if is_done():
                return True
    delay = 0.002
    while True:
        if is_done():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.025)


def wait_for_all(
    order_ids: Iterable[int],
    still_waiting: Callable[[], set[int]],
    timeout_s: float,
) -> set[int]:
    """``wait_for`` for several orders under ONE deadline (a batch):
    ``still_waiting()`` re-reads the database (one query for all of them)
    and returns the ids not yet done. Returns what it last returned."""
    deadline = time.monotonic() + timeout_s
    waiting = set(order_ids)
    if settings.REDIS_URL:
        # The matcher publishes a batch's results together: the first pop
        # usually finds every order done at the one re-read that follows.
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return still_waiting()
            try:
                popped = _redis().blpop(
                    [result_key(i) for i in sorted(waiting)],
                    timeout=max(remaining, 0.01),
                )
            except Exception:  # noqa: BLE001 - poll the database instead
                log.warning("result wait via Redis failed; polling", exc_info=True)
                break
            waiting = still_waiting()
            if popped is None:
                return waiting
        if not waiting:
            return waiting
    delay = 0.002
    while True:
        waiting = still_waiting()
        remaining = deadline - time.monotonic()
        if not waiting or remaining <= 0:
            return waiting
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.025)
