"""The matcher process: owns pairs, rebuilds their books, drains their queues;
a matcher of all pairs also takes the pairs listed while it runs.

Not Celery: one long-lived process per shard of pairs, so each book lives in
memory in exactly one place. Woken by Redis or PostgreSQL NOTIFY when
configured, polling otherwise; a wake-up is only a hint.
"""

from __future__ import annotations

import gc
import logging
import random
import signal
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from apps.accounts.services import account_events_prune
from apps.core.cache_purge import cache_purge_expired
from apps.markets.models import Pair
from apps.matching.books import PairBook
from apps.matching.fencing import OwnershipLost, consistent_snapshot, ownership_take
from apps.matching.locks import PairOwned, PostgresLocks, make_locks, this_matcher
from apps.matching.models import MatcherHeartbeat
from apps.matching.processor import BatchProcessor
from apps.orders import bus
from apps.orders.cancels import cancel_all_after_fire

log = logging.getLogger("apps.matching")

# Pruning the private events journal from the housekeeping: at most this many
# rows a turn (a few short transactions), again the next second while more
# are due, else every PRUNE_EVERY_S.
PRUNE_ROWS_PER_TURN = 10_000
PRUNE_EVERY_S = 60.0
CACHE_PURGE_EVERY_S = 60.0


class MatcherProcess:
    """One matcher process: takes its pairs (lock, then a new owner epoch),
    rebuilds their books and drains their queues until stopped."""

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
        self.owner = this_matcher()
        self.locks = make_locks()
        self.books: dict[int, PairBook] = {}
        self.processed = 0
        self.next_prune = 0.0  # time.monotonic()
        self.next_cache_purge = 0.0  # time.monotonic()
        self.new_pairs_s = settings.MATCHER_NEW_PAIRS_POLL_MS / 1000
        self.next_new_pairs = 0.0  # time.monotonic()
        self.owned_elsewhere: set[int] = set()  # new pairs another matcher has

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
        """Take every pair's lock or none: a standby (``--wait``) holds no
        lock while any of its pairs is owned elsewhere, so it never keeps a
        free pair from a matcher that could run it. Then become the fenced
        owner (a new epoch per pair) before anything reads the books."""
        pairs = self.pairs()
        retry_s = settings.MATCHER_STANDBY_RETRY_MS / 1000
        waiting_for = ""
        while (busy := self._try_lock_all(pairs)) is not None:
            owner = self.locks.owner(busy.pk)
            if not self.wait_for_lock:
                raise PairOwned(
                    f"pair {busy.symbol} is owned by another matcher ({owner}); "
                    "stop it first or run with --wait"
                )
            if waiting_for != (now_waiting := f"{busy.symbol} (owned by {owner})"):
                log.info("standby: waiting for %s", now_waiting)
                waiting_for = now_waiting
            # Jitter keeps standbys of overlapping shards from retrying in step.
            deadline = time.monotonic() + retry_s * (1 + random.random())
            while time.monotonic() < deadline:
                if self.stopping:
                    return
                time.sleep(min(0.05, retry_s))
        epochs = ownership_take(pair_ids=[p.pk for p in pairs], owner=self.owner)
        self.books = {p.pk: PairBook(p, epoch=epochs[p.pk]) for p in pairs}

    def _try_lock_all(self, pairs: list[Pair]) -> Pair | None:
        """Lock every pair, or release those taken; returns a busy pair."""
        taken: list[Pair] = []
        for pair in pairs:
            if not self.locks.try_lock(pair.pk):
                for held in taken:
                    self.locks.unlock(held.pk)
                return pair
            taken.append(pair)
        return None

    def rebuild(self) -> None:
        """Every book from ONE snapshot, taken after the epochs were taken
        (each book's own snapshot becomes a savepoint of this one)."""
        with consistent_snapshot():
            self._rebuild_each()

    def _rebuild_each(self) -> None:
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
        waker = bus.WakeListener(
            list(self.books),
            pg_conn=self.locks.conn if isinstance(self.locks, PostgresLocks) else None,
        )
        log.info(
            "matcher %s owns %s",
            self.owner,
            ", ".join(b.pair.symbol for b in self.books.values()),
        )
        last_beat = 0.0
        self.next_new_pairs = time.monotonic() + self.new_pairs_s
        try:
            while not self.stopping:
                if time.monotonic() - last_beat > 1:
                    if not self.locks.alive():
                        raise OwnershipLost("lost the pair locks' connection")
                    self.heartbeat()
                    self.housekeeping()
                    last_beat = time.monotonic()
                if time.monotonic() >= self.next_new_pairs:
                    self.take_new_pairs(waker)
                    self.next_new_pairs = time.monotonic() + self.new_pairs_s
                try:
                    done = processor.run_once(self.batch_size)
                except OwnershipLost:
                    raise
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
        except OwnershipLost as exc:
            log.error("matcher %s lost its pairs: %s; stopping", self.owner, exc)
            raise
        finally:
            processor.publisher.close()
            self.heartbeat(stopping=True)
            self.locks.close()
        # The books as they stop, for an operator (or a test) to compare with
        # a rebuild from the database: equal unless memory ran ahead of it.
        log.info(
            "matcher %s stopped after %d commands; states %s",
            self.owner,
            self.processed,
            ", ".join(
                f"{b.pair.symbol}={'stale' if processor.stale else b.engine.state_hash()}"
                for b in self.books.values()
            ),
        )

    def take_new_pairs(self, waker: bus.WakeListener) -> list[str]:
        """A matcher of all pairs (no ``--pairs``) takes the pairs listed since
        it started, so a pair added in the admin trades without a restart.
        Each is taken as at start: its lock, then a new owner epoch, then its
        book rebuilt from a snapshot taken after the epoch (so its settlements
        are fenced like the others'). A new pair whose lock another matcher
        holds (a shard started with ``--pairs`` for it) is left to that one
        and tried again at the next look, as a standby would. Returns the
        symbols taken; never raises (the next look tries again)."""
        if self.symbols is not None:
            return []  # an explicit shard keeps exactly its list
        taken: list[str] = []
        try:
            new = Pair.objects.select_related("base", "quote").exclude(
                pk__in=list(self.books)
            )
            for pair in new.order_by("pk"):
                if not self.locks.try_lock(pair.pk):
                    if pair.pk not in self.owned_elsewhere:
                        self.owned_elsewhere.add(pair.pk)
                        log.info(
                            "new pair %s is owned by another matcher (%s)",
                            pair.symbol,
                            self.locks.owner(pair.pk),
                        )
                    continue
                # If the epoch or the rebuild fails we keep the lock (a
                # session lock is re-entrant) and take the pair next time:
                # unlocking could drop the one file lock of all pairs.
                epochs = ownership_take(pair_ids=[pair.pk], owner=self.owner)
                book = PairBook(pair, epoch=epochs[pair.pk])
                book.rebuild()
                self.books[pair.pk] = book  # the processor shares this dict
                waker.add(pair.pk)
                self.owned_elsewhere.discard(pair.pk)
                taken.append(pair.symbol)
                log.info("matcher %s took new pair %s", self.owner, pair.symbol)
        except Exception:  # noqa: BLE001 - never stop matching the others
            log.exception("taking new pairs failed; trying again later")
            close_old_connections()
        return taken

    def housekeeping(self) -> None:
        """Once a second: fire expired cancel-all-after timers, and now and
        then prune the private events journal (both idempotent, so several
        matcher shards doing it is harmless)."""
        try:
            fired = cancel_all_after_fire()
        except Exception:  # noqa: BLE001 - never stop matching for this
            log.exception("cancel-all-after housekeeping failed")
        else:
            if fired:
                log.info("cancel-all-after fired for %d key(s)", fired)
        if time.monotonic() >= self.next_prune:
            self.prune_account_events()
        if time.monotonic() >= self.next_cache_purge:
            self.purge_cache()

    def purge_cache(self) -> None:
        """Once a minute: the database cache's expired rows (nonces, rate
        counters) on the embedded default; nothing with Redis."""
        self.next_cache_purge = time.monotonic() + CACHE_PURGE_EVERY_S
        try:
            purged = cache_purge_expired()
        except Exception:  # noqa: BLE001 - never stop matching for this
            log.exception("purging the cache's expired rows failed")
        else:
            if purged:
                log.debug("purged %d expired cache rows", purged)

    def prune_account_events(self) -> None:
        """Delete a bounded number of expired private events; come back next
        turn while more are due (``account_events_prune``)."""
        try:
            pruned = account_events_prune(max_rows=PRUNE_ROWS_PER_TURN)
        except Exception:  # noqa: BLE001 - never stop matching for this
            log.exception("pruning the account events failed")
            pruned = 0
        if pruned:
            log.info("pruned %d expired account events", pruned)
        more = pruned >= PRUNE_ROWS_PER_TURN
        self.next_prune = time.monotonic() + (0 if more else PRUNE_EVERY_S)

    def heartbeat(self, stopping: bool = False) -> None:
        now = timezone.now()
        if stopping:
            # Only rows still naming this matcher: a newer owner's stay.
            try:
                MatcherHeartbeat.objects.filter(
                    pair_id__in=list(self.books), owner=self.owner
                ).update(owner="", heartbeat_at=now, processed=self.processed)
            except Exception:  # noqa: BLE001 - informational; never mask the exit
                log.warning("could not clear the heartbeat", exc_info=True)
            return
        for pair_id, book in self.books.items():
            MatcherHeartbeat.objects.update_or_create(
                pair_id=pair_id,
                defaults={
                    "owner": self.owner,
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
