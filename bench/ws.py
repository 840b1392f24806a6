"""WebSocket delivery latency of the public book stream, end to end.

    python bench/ws.py [--clients 100] [--seconds 20] [--rate 10] [--db postgres|sqlite]

Starts the matcher and daphne on a fresh database (PostgreSQL + Redis:
``exchange_bench_ws`` and Redis db 15; or the SQLite default in a temporary
directory, no Redis), connects ``--clients`` WebSocket clients that each
subscribe to the BTC-USD book and trades, then places ``--rate`` orders a
second through the real order service for ``--seconds`` (limit orders around
the mid, about half of them crossing).

Latency of an event = its receipt by a client minus the event's journal
stamp (``MarketEvent.created_at``: the matcher's batch stamp, taken just
before the batch's writes and commit, so the figure is an upper bound of
commit -> receipt by the batch's persist time, ~1 ms for small batches).
Gaps: book messages whose ``prev_seq`` is not the previous message's ``seq``,
and resyncs. Last line:
``ws: <clients> clients, p50 <x> ms, p99 <y> ms, gaps <n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit import free_port, fresh_database  # noqa: E402

BENCH_DB = "exchange_bench_ws"
REDIS = "redis://127.0.0.1:6379/15"


class Receipts:
    """What every client saw: (seq, receipt time) per event, and gaps."""

    def __init__(self) -> None:
        self.times: list[tuple[int, float]] = []
        self.gaps = 0
        self.connected = 0


async def client(url: str, receipts: Receipts) -> None:
    import websockets

    async with websockets.connect(url, max_queue=None) as ws:
        for i, channel in enumerate(("book", "trades")):
            await ws.send(
                json.dumps(
                    {
                        "op": "subscribe",
                        "id": str(i),
                        "channel": channel,
                        "pair": "BTC-USD",
                    }
                )
            )
        receipts.connected += 1
        last = None
        async for raw in ws:
            now = time.time()
            msg = json.loads(raw)
            kind = msg.get("type")
            if kind == "book_snapshot":
                last = msg["seq"]
            elif kind == "book_delta":
                if msg["prev_seq"] != last:
                    receipts.gaps += 1
                last = msg["seq"]
                receipts.times.append((msg["seq"], now))
            elif kind == "trade":
                receipts.times.append((msg["seq"], now))
            elif kind == "resync":
                receipts.gaps += 1


async def run_clients(
    url: str, n: int, receipts: Receipts, stop: threading.Event
) -> None:
    tasks = [asyncio.create_task(client(url, receipts)) for _ in range(n)]
    while receipts.connected < n:
        await asyncio.sleep(0.05)
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()  # type: ignore[misc]
    while not stop.is_set():
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # the last events' delivery
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=10, help="orders per second")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="bench-ws-")
    env = dict(os.environ, EXCHANGE_VAR_DIR=var, PYTHONUNBUFFERED="1")
    # Every client comes from 127.0.0.1: no per-address connection limit.
    env.setdefault("WS_MAX_CONNECTIONS_PER_IP", "0")
    if args.db == "postgres":
        env.update(DATABASE_URL=fresh_database(BENCH_DB), REDIS_URL=REDIS)
        subprocess.run(
            ["redis-cli", "-n", "15", "flushdb"], check=False, capture_output=True
        )
    else:
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
    os.environ.clear()  # this process's Django sees what its children see
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from apps.accounts.services import account_create, balance_deposit
    from apps.markets.models import MarketEvent
    from apps.markets.services import markets_seed
    from tests.helpers import place

    call_command("migrate", verbosity=0)
    pair = next(p for p in markets_seed() if p.symbol == "BTC-USD")
    users = [account_create(username=f"wsbench{i}") for i in range(4)]
    for user in users:
        balance_deposit(user=user, asset=pair.base, amount=10**4 * 10**8)
        balance_deposit(user=user, asset=pair.quote, amount=10**9 * 10**6)

    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runmatcher"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-p",
                str(port),
                "exchange.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("daphne did not start") from None
                time.sleep(0.2)
        receipts = Receipts()
        stop = threading.Event()
        url = f"ws://127.0.0.1:{port}/v1/ws"
        clients = threading.Thread(
            target=lambda: asyncio.run(run_clients(url, args.clients, receipts, stop))
        )
        clients.start()
        while receipts.connected < args.clients and clients.is_alive():
            time.sleep(0.1)
        first_seq = MarketEvent.objects.filter(pair=pair).count()
        rng = random.Random(5)
        started = time.monotonic()
        placed = 0
        while time.monotonic() - started < args.seconds:
            side = rng.choice(("buy", "sell"))
            offset = rng.randint(-5, 5) * (1 if side == "buy" else -1)
            place(
                rng.choice(users),
                pair,
                side=side,
                price=str(63000 + offset),
                size=f"0.{rng.randint(1, 20):04d}",
            )
            placed += 1
            time.sleep(max(0.0, started + placed / args.rate - time.monotonic()))
        stop.set()
        clients.join(60)
        stamps = {
            seq: at.timestamp()
            for seq, at in MarketEvent.objects.filter(
                pair=pair, seq__gt=first_seq
            ).values_list("seq", "created_at")
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
    latencies = [
        (received - stamps[seq]) * 1000
        for seq, received in receipts.times
        if seq in stamps
    ]
    if not latencies:
        raise SystemExit("no event reached the clients")
    print(
        f"{placed} orders in {args.seconds:g} s, {len(stamps)} events, "
        f"{len(latencies)} deliveries to {args.clients} clients ({args.db}); "
        f"max {max(latencies):.1f} ms"
    )
    print(
        f"ws: {args.clients} clients, p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, gaps {receipts.gaps}"
    )


if __name__ == "__main__":
    main()
