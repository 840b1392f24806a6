"""The matcher process: owns pairs, rebuilds their books, drains their queues.

Not Celery: one long-lived process per shard of pairs, so each book lives in
memory in exactly one place. Woken by Redis or PostgreSQL NOTIFY when
configured, polling otherwise; a wake-up is only a hint.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from apps.markets.models import Pair
from apps.matching import bus
from apps.matching.locks import PairOwned, PostgresLocks, make_locks
from apps.matching.models import MatcherHeartbeat
from apps.matching.processor import BatchProcessor, PairBook
from apps.orders.services import cancel_all_after_fire

log = logging.getLogger("apps.matching")


class Matcher:
    def __init__(
        self,
        symbols: list[str] | None = None,
        *,
        wait_for_lock: bool = False,
        batch_size: int = 5000,
        poll_ms: int | None = None,
    ) -> None:
        self.symbols = [s.upper() for s in symbols] if symbols else None
        self.wait_for_lock = wait_for_lock
        self.batch_size = batch_size
        self.linger_s = settings.MATCHER_LINGER_MS / 1000
        self.poll_s = (
            poll_ms if poll_ms is not None else settings.MATCHER_POLL_INTERVAL_MS
        ) / 1000
        self.stopping = False
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.locks = make_locks()
        self.books: dict[int, PairBook] = {}
        self.processed = 0

    # ------------------------------------------------------------ start
    def pairs(self) -> list[Pair]:
        qs = Pair.objects.select_related("base", "quote").order_by("pk")
        if self.symbols is None:
            return list(qs)
        pairs = list(qs.filter(symbol__in=self.symbols))
        unknown = set(self.symbols) - {p.symbol for p in pairs}
        if unknown:
            raise SystemExit(
                f"runmatcher: unknown pair(s): {', '.join(sorted(unknown))}"
            )
        return pairs

    def acquire(self) -> None:
        for pair in self.pairs():
            while not self.locks.try_lock(pair.pk):
                pid = self.locks.owner_pid(pair.pk)
                if not self.wait_for_lock:
                    raise PairOwned(
                        f"pair {pair.symbol} is owned by another matcher (pid {pid}); "
                        "stop it first or run with --wait"
                    )
                if self.stopping:
                    return
                log.info("waiting for %s (owned by pid %s)", pair.symbol, pid)
                time.sleep(1)
            self.books[pair.pk] = PairBook(pair)

    def rebuild(self) -> None:
        for book in self.books.values():
            started = time.monotonic()
            book.rebuild()
            log.info(
                "rebuilt %s: %d resting orders in %.0f ms, state %s",
                book.pair.symbol,
                len(book.engine.resting_orders()),
                (time.monotonic() - started) * 1000,
                book.engine.state_hash()[:12],
            )

    # ------------------------------------------------------------- loop
    def install_signals(self) -> None:
        def stop(signum: int, frame: Any) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self) -> None:
        self.install_signals()
        self.acquire()
        if self.stopping:
            return
        self.rebuild()
        # A deep book is hundreds of thousands of long-lived objects: freeze
        # them out of the cyclic GC and collect less often (bench/README.md
        # measures the difference on the engine).
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 1_000)
        processor = BatchProcessor(self.books)
        waker = _Waker(self.locks, list(self.books))
        log.info(
            "matcher %s owns %s",
            self.owner,
            ", ".join(b.pair.symbol for b in self.books.values()),
        )
        last_beat = 0.0
        try:
            while not self.stopping:
                if time.monotonic() - last_beat > 1:
                    if not self.locks.alive():
                        raise SystemExit(
                            "runmatcher: lost the pair locks' connection; exiting"
                        )
                    self.heartbeat()
                    self.housekeeping()
                    last_beat = time.monotonic()
                try:
                    done = processor.run_once(self.batch_size)
                except Exception:  # noqa: BLE001 - logged; books were rebuilt
                    close_old_connections()
                    time.sleep(0.5)
                    continue
                self.processed += done
                if done >= self.batch_size:
                    continue
                if done and self.linger_s:
                    # Commands are arriving: let the next batch fill for a
                    # moment, since a batch's fixed cost (fetch, commit,
                    # publish) dwarfs one command's. Idle: wait for a wake-up.
                    time.sleep(self.linger_s)
                else:
                    waker.wait(self.poll_s)
        finally:
            processor.publisher.close()
            self.heartbeat(stopping=True)
            self.locks.close()
            log.info("matcher %s stopped after %d commands", self.owner, self.processed)

    def housekeeping(self) -> None:
        """Once a second: fire expired cancel-all-after timers (idempotent, so
        several matcher shards doing it is harmless)."""
        try:
            fired = cancel_all_after_fire()
        except Exception:  # noqa: BLE001 - never stop matching for this
            log.exception("cancel-all-after housekeeping failed")
            return
        if fired:
            log.info("cancel-all-after fired for %d key(s)", fired)

    def heartbeat(self, stopping: bool = False) -> None:
        now = timezone.now()
        for pair_id, book in self.books.items():
            MatcherHeartbeat.objects.update_or_create(
                pair_id=pair_id,
                defaults={
                    "owner": "" if stopping else self.owner,
                    "heartbeat_at": now,
                    "last_event_seq": book.event_seq,
                    "processed": self.processed,
                },
                create_defaults={
                    "owner": self.owner,
                    "heartbeat_at": now,
                    "started_at": now,
                    "last_event_seq": book.event_seq,
                    "processed": self.processed,
                },
            )


class _Waker:
    """Sleeps until a wake hint arrives or the poll interval passes."""

    def __init__(self, locks: Any, pair_ids: list[int]) -> None:
        self.keys = [bus.wake_key(p) for p in pair_ids]
        self.warned_at = -1e9
        self.pg = (
            locks.conn
            if isinstance(locks, PostgresLocks) and bus.wakes_by_notify()
            else None
        )
        if self.pg is not None:
            for pair_id in pair_ids:
                self.pg.execute(f"LISTEN {bus.wake_channel(pair_id)}")

    def wait(self, timeout: float) -> None:
        if settings.REDIS_URL:
            try:
                redis = bus._redis()
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
