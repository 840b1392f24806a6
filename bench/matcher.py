"""End-to-end settlement rate of the matcher process on PostgreSQL.

    python bench/matcher.py [--orders 20000] [--batch-size 5000] [--poll-ms 10]
                            [--database exchange_bench] [--sqlite]

Creates a fresh database (``--server``'s PostgreSQL, database ``--database``,
``exchange_bench`` by default; with ``--sqlite`` a fresh SQLite file instead),
queues ``--orders`` limit orders through the real order service (holds, ledger,
commands), then starts ``manage.py runmatcher`` and times, from outside, how
long it takes to settle them: order states, trades, both sides' balances,
fees, ledger and market events, one transaction per batch.

How the span is timed, and why not from ``processed_at``: every command of a
batch gets ONE ``processed_at`` stamp, taken at the start of the batch's
persist, before its writes and commit. The span between the first and the
last stamp therefore misses the first batch's fetch and apply and the last
batch's persist and commit: it covers about batches - 1 batches' work, and a
rate computed on it is inflated by about batches / (batches - 1) (+33% for
20,000 orders in batches of 5,000). The bench used to report that figure; it
still prints it, labelled, for comparison within the same run.

Instead the bench reads the matcher's log on stderr and starts the clock when
the matcher logs ``matcher <owner> owns <pairs>``: the books are rebuilt, the
GC is frozen, and the next thing the process does is its first loop turn
(heartbeat, housekeeping, the first fetch). It then asks PostgreSQL every
``--poll-ms`` whether any command is still unprocessed (a partial index makes
this cheap); the first poll that finds none ends the span. The last commit
happened after the start of the previous poll and before the start of this
one, so the span is an upper bound, at most one poll interval plus a query
too long (10 ms by default, a fraction of a percent of a multi-second span).
This needs no change to the matcher and measures what a client sees: from
the first fetch to the last batch's outcome being visible. The bench also
prints the whole run, from starting the process (Python, Django, lock, book
rebuild) to the last commit.

The per-batch split: the number of batches is the number of distinct
``processed_at`` stamps, the mean batch time is span / batches, and the rate
is orders / span. Last line, the honest figure:
``matcher: <N> orders/s settled``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit import fresh_database  # noqa: E402

BENCH_DB = "exchange_bench"
OWNS = " owns "  # apps.matching logs "matcher <owner> owns <pairs>" at INFO


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (gone ones: 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def database_backends() -> list[int]:
    """PostgreSQL server processes of the bench's database but this one's:
    the matcher's connections (SQLite: none)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


class MatcherLog:
    """Drains the matcher's stderr in a thread, noting when the line saying it
    owns its pairs (rebuild done, about to fetch) arrived."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.owns_at: float | None = None  # perf_counter
        self.owns_wall = 0.0  # time.time(), to set against processed_at
        self.owns = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if self.owns_at is None and OWNS in line and "apps.matching" in line:
                self.owns_at = time.perf_counter()
                self.owns_wall = time.time()
                self.owns.set()
            self.lines.append(line.rstrip("\n"))

    def tail(self, n: int = 20) -> str:
        return "\n".join(self.lines[-n:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--database",
        default=BENCH_DB,
        help="PostgreSQL database to recreate (one per concurrent bench run).",
    )
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="The embedded default instead: a fresh SQLite file (the matcher "
        "then polls every MATCHER_POLL_INTERVAL_MS, not woken).",
    )
    args = parser.parse_args()

    if args.sqlite:
        var_dir = Path(tempfile.mkdtemp(prefix="bench-matcher-"))
        os.environ["EXCHANGE_VAR_DIR"] = str(var_dir)
        os.environ["DATABASE_URL"] = f"sqlite:///{var_dir / 'bench.sqlite3'}"
    else:
        os.environ["DATABASE_URL"] = fresh_database(args.database, args.server)
    os.environ["MATCHER_MAX_QUEUE"] = str(args.orders + 1)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Max, Min

    from apps.accounts.selectors import ledger_problems
    from apps.accounts.services import account_create, balance_deposit
    from apps.markets.services import markets_seed
    from apps.orders.models import OrderCommand, Trade
    from tests.helpers import place

    call_command("migrate", verbosity=0)
    pair = next(p for p in markets_seed() if p.symbol == "BTC-USD")
    users = [account_create(username=f"bench{i}") for i in range(20)]
    for user in users:
        balance_deposit(user=user, asset=pair.base, amount=10**6 * 10**8)
        # 10**9 USD each: enough for any run, and the ledger check's per-asset
        # sums stay within SQLite's 64-bit SUM.
        balance_deposit(user=user, asset=pair.quote, amount=10**9 * 10**6)
    rng = random.Random(1)
    started = time.perf_counter()
    for _ in range(args.orders):
        side = rng.choice(("buy", "sell"))
        # Around the mid, so that about half the orders trade.
        price = 63_000 + rng.randint(-30, 30) / 2
        place(
            rng.choice(users),
            pair,
            side=side,
            price=f"{price:.2f}",
            size=f"0.{rng.randint(1, 50):04d}",
        )
    queued_s = time.perf_counter() - started
    print(
        f"queued {args.orders} orders through the order service in {queued_s:.1f} s "
        f"({args.orders / queued_s:.0f}/s)"
    )

    unprocessed = OrderCommand.objects.filter(processed_at__isnull=True)
    poll_s = args.poll_ms / 1000
    launched = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runmatcher",
            "--pairs",
            "BTC-USD",
            "--batch-size",
            str(args.batch_size),
        ],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "INFO"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = MatcherLog(proc)
    try:
        deadline = time.monotonic() + 600
        while not log.owns.wait(0.05):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"matcher did not start:\n{log.tail()}")
        backends = database_backends()
        cpu_start = (cpu_seconds([proc.pid]), cpu_seconds(backends))
        polls = 0
        while True:
            asked = time.perf_counter()
            polls += 1
            if not unprocessed.exists():
                ended = asked  # the last commit was visible when this poll began
                ended_wall = time.time() - (time.perf_counter() - asked)
                cpu_used = (
                    cpu_seconds([proc.pid]) - cpu_start[0],
                    cpu_seconds(backends) - cpu_start[1],
                )
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"matcher did not finish:\n{log.tail()}")
            time.sleep(poll_s)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.thread.join(timeout=5)
    assert log.owns_at is not None
    span = max(ended - log.owns_at, 1e-3)
    whole = ended - launched
    rebuild = [line for line in log.lines if " rebuilt " in line]

    stamps = OrderCommand.objects.aggregate(
        a=Min("processed_at"), b=Max("processed_at")
    )
    stamp_span = max((stamps["b"] - stamps["a"]).total_seconds(), 1e-3)
    stamp_list = sorted(
        OrderCommand.objects.order_by()
        .values_list("processed_at", flat=True)
        .distinct()
    )
    batches = len(stamp_list)
    # Between the clock's start and the first stamp: the first batch's fetch
    # and apply; between stamps: one batch each; after the last stamp: the
    # last batch's persist and commit (plus up to a poll interval).
    marks = [log.owns_wall, *(t.timestamp() for t in stamp_list), ended_wall]
    segments_ms = [(b - a) * 1000 for a, b in itertools.pairwise(marks)]
    trades = Trade.objects.count()
    problems = ledger_problems()
    print(
        f"settled {args.orders} orders, {trades} trades in {batches} batches "
        f"(batch size {args.batch_size}); ledger consistent: {not problems}"
    )
    if rebuild:
        print(f"book rebuild: {rebuild[0].split(' rebuilt ', 1)[1]}")
    print(
        f"whole run (process start, rebuild, settlement): {whole:.2f} s "
        f"({args.orders / whole:.0f} orders/s)"
    )
    print(
        f"old measure, first to last processed_at stamp: {stamp_span:.2f} s "
        f"({args.orders / stamp_span:.0f} orders/s; inflated, covers about "
        f"{batches - 1} of {batches} batches)"
    )
    print(
        f"settlement span, matcher owns its pairs -> last commit seen "
        f"(poll every {args.poll_ms:g} ms, {polls} polls): {span:.2f} s, "
        f"mean batch {span / batches * 1000:.0f} ms; "
        f"old/honest rate = {span / stamp_span:.3f} "
        f"(batches/(batches-1) = {batches / max(batches - 1, 1):.3f})"
    )
    print(
        "timeline (ms): first fetch+apply "
        f"{segments_ms[0]:.0f}, stamp to stamp "
        f"{', '.join(f'{ms:.0f}' for ms in segments_ms[1:-1]) or '-'}, "
        f"last persist+commit {segments_ms[-1]:.0f}"
    )
    # CPU is steadier than wall time on a shared machine: what settling cost
    # the matcher process and its PostgreSQL backends, whatever else runs.
    print(
        f"CPU during the span per order: matcher {cpu_used[0] / args.orders * 1000:.3f} ms"
        + (
            f", its PostgreSQL backends {cpu_used[1] / args.orders * 1000:.3f} ms"
            if backends
            else ""
        )
    )
    print(f"matcher: {args.orders / span:.0f} orders/s settled")


if __name__ == "__main__":
    main()
