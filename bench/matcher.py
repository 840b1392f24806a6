"""End-to-end settlement rate of the matcher process on PostgreSQL.

    python bench/matcher.py [--orders 20000] [--batch-size 500]

Creates a fresh database (DATABASE_URL's server, database ``exchange_bench``),
queues ``--orders`` limit orders through the real order service (holds, ledger,
commands), then starts ``manage.py runmatcher`` and measures, from the
database's own processed_at stamps, how fast it settles them: order states,
trades, both sides' balances, fees, ledger and market events, batched.
Last line: ``matcher: <N> orders/s settled``.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_DB = "exchange_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    os.environ["DATABASE_URL"] = f"{args.server}/{BENCH_DB}"
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
        balance_deposit(user=user, asset=pair.quote, amount=10**12 * 10**6)
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
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while OrderCommand.objects.filter(processed_at__isnull=True).exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("matcher did not finish")
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    span = OrderCommand.objects.aggregate(a=Min("processed_at"), b=Max("processed_at"))
    seconds = max((span["b"] - span["a"]).total_seconds(), 1e-3)
    trades = Trade.objects.count()
    problems = ledger_problems()
    print(
        f"settled {args.orders} orders, {trades} trades in {seconds:.2f} s "
        f"(batch size {args.batch_size}); ledger consistent: {not problems}"
    )
    print(f"matcher: {args.orders / seconds:.0f} orders/s settled")


if __name__ == "__main__":
    main()
