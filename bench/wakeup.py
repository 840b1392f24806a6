"""How long an order waits between its commit and the matcher's result, as
POST /v1/orders sees it, for each way the matcher can be woken.

    python bench/wakeup.py --mode sqlite      # polling (MATCHER_POLL_INTERVAL_MS)
    python bench/wakeup.py --mode postgres    # LISTEN/NOTIFY
    python bench/wakeup.py --mode redis       # PostgreSQL + Redis lists

Last line: ``wakeup[<mode>]: p50 <x> ms, p99 <y> ms``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit import fresh_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--mode", choices=["sqlite", "postgres", "redis"], default="postgres"
    )
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    var = tempfile.mkdtemp(prefix="wakeup-")
    os.environ["EXCHANGE_VAR_DIR"] = var
    if args.mode == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{var}/bench.sqlite3"
    else:
        os.environ["DATABASE_URL"] = fresh_database("exchange_wakeup")
        if args.mode == "redis":
            os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/13"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from apps.accounts.services import account_create, balance_deposit
    from apps.markets.services import markets_seed
    from apps.orders import bus
    from apps.orders.models import OrderStatus
    from tests.helpers import place

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    pair = next(p for p in markets_seed() if p.symbol == "BTC-USD")
    user = account_create(username="wake")
    balance_deposit(user=user, asset=pair.quote, amount=10**15)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runmatcher"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # let it start and rebuild
        samples = []
        for i in range(args.orders):
            order = place(user, pair, side="buy", price=f"{1000 + i}", size="0.0010")
            started = time.perf_counter()

            def done(order=order) -> bool:
                order.refresh_from_db(fields=["status"])
                return order.status != OrderStatus.PENDING

            assert bus.wait_for(order.pk, done, 5), "matcher did not answer"
            samples.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    samples.sort()
    p50, p99 = samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]
    print(f"wakeup[{args.mode}]: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
