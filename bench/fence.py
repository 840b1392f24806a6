"""The cost of the ownership proof that starts every settlement transaction.

    python bench/fence.py [--transactions 2000] [--server postgres://...]

Creates a fresh PostgreSQL database (``exchange_bench_fence``), seeds the
markets, takes their ownership (``ownership_take``) and times, alternated
twice, transactions that run one trivial query against transactions that run
``ownership_prove`` for every pair (apps/matching/fencing.py). The difference
is what the fence adds to each batch. Last line:
``fence: <x> ms per batch``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit import fresh_database  # noqa: E402

BENCH_DB = "exchange_bench_fence"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = fresh_database(BENCH_DB, args.server)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from apps.markets.models import Pair
    from apps.markets.services import markets_seed
    from apps.matching.fencing import ownership_prove, ownership_take

    call_command("migrate", verbosity=0)
    pairs = markets_seed()
    epochs = ownership_take(pair_ids=[p.pk for p in pairs], owner="bench")

    def per_transaction(prove: bool) -> float:
        started = time.perf_counter()
        for _ in range(args.transactions):
            with transaction.atomic():
                if prove:
                    ownership_prove(epochs)
                else:
                    list(Pair.objects.filter(pk=-1))
        return (time.perf_counter() - started) / args.transactions * 1000

    plain, proved = [], []
    for _ in range(2):
        plain.append(per_transaction(False))
        proved.append(per_transaction(True))
    print(
        f"{args.transactions} transactions each, {len(pairs)} pairs: "
        f"one trivial query {', '.join(f'{x:.3f}' for x in plain)} ms; "
        f"the proof {', '.join(f'{x:.3f}' for x in proved)} ms"
    )
    print(f"fence: {min(proved) - min(plain):.3f} ms per batch")


if __name__ == "__main__":
    main()
