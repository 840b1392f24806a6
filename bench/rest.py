"""Signed POST /v1/orders throughput and latency, end to end.

    python bench/rest.py [--server granian|daphne] [--clients 16] [--seconds 20]
                         [--response-type ack|result] [--workers 2 --threads 8]
                         [--database exchange_bench_rest] [--redis-db 12]
                         [--batch 20]

Creates a fresh PostgreSQL database (``--database``), starts the
matcher and the chosen server with Redis (nonces, rate counters, wake-ups):
granian (WSGI, as README "Deploy at scale" serves REST) or daphne (ASGI).
The default ``ack`` measures orders accepted (held and queued durably, the
matcher running beside); ``result`` also waits for the matcher's outcome.
then drives signed limit orders around the mid (so about half trade) from
``--clients`` concurrent connections on this same machine. Each client has its
own API key with a raised weight budget (the retail 1,200/min would stop it).
Last line: ``rest: <N> orders/s, p50 <x> ms, p99 <y> ms``.

``--batch N``: after the single orders, the same clients for the same time
send ``POST /v1/orders/batch`` with N orders each; it prints
``batch(N): <M> orders/s, ...`` and the ratio to the single-order rate
measured in the same run (latencies are per batch request).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit import PG, free_port, fresh_database  # noqa: E402


def setup(clients: int, database: str) -> list[tuple[str, str]]:
    fresh_database(database)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    from apps.accounts.services import account_create, balance_deposit
    from apps.apikeys.services import apikey_create
    from apps.markets.services import markets_seed

    call_command("migrate", verbosity=0)
    cache.clear()
    pair = next(p for p in markets_seed() if p.symbol == "BTC-USD")
    keys = []
    for i in range(clients):
        user = account_create(username=f"rest{i}")
        balance_deposit(user=user, asset=pair.base, amount=10**6 * 10**8)
        balance_deposit(user=user, asset=pair.quote, amount=10**12 * 10**6)
        key, secret = apikey_create(
            user=user,
            scope="trade",
            ip_allowlist=["127.0.0.1"],
            weight_per_minute=1_000_000,
        )
        keys.append((key.key, secret))
    return keys


def cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each group of processes: the given pids and
    their children, plus every PostgreSQL and Redis server process."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = dict.fromkeys([*groups, "postgres", "redis"], 0.0)
    parent_of: dict[int, int] = {}
    ticks: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        parent_of[int(entry)] = int(fields[1])
        ticks[int(entry)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    for pid, (name, used) in ticks.items():
        group, cur = None, pid
        while cur > 1 and group is None:
            group = next((g for g, pids in groups.items() if cur in pids), None)
            cur = parent_of.get(cur, 0)
        if group is None and name in ("postgres", "redis-server"):
            group = name.replace("-server", "")
        if group is not None:
            found[group] += used
    return found


def matcher_backlog() -> tuple[int, float]:
    """(unprocessed commands now, seconds until the matcher has none left)."""
    from apps.orders.models import OrderCommand

    pending = OrderCommand.objects.filter(processed_at__isnull=True)
    queued, started = pending.count(), time.perf_counter()
    while pending.exists() and time.perf_counter() - started < 60:
        time.sleep(0.01)
    return queued, time.perf_counter() - started


async def client_loop(
    port: int,
    key: str,
    secret: str,
    deadline: float,
    response_type: str,
    latencies: list[float],
    errors: list[str],
    seed: int,
    batch: int = 0,
) -> None:
    """One keep-alive connection sending signed orders back to back.

    A minimal HTTP/1.1 exchange over asyncio streams rather than httpx: the
    load generator shares the 2 cores with the server, and httpx spent ~4 ms
    of CPU per request, which capped the measurement rather than the server."""
    from exchange.client.signing import signed_headers

    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        path = "/v1/orders/batch" if batch else "/v1/orders"
        ok_statuses = (200,) if batch else (201, 202)

        def order() -> dict[str, str]:
            return {
                "pair": "BTC-USD",
                "side": rng.choice(("buy", "sell")),
                "type": "limit",
                "price": f"{63000 + rng.randint(-20, 20) / 2:.2f}",
                "size": f"0.{rng.randint(1, 50):04d}",
                "response_type": response_type,
            }

        while time.perf_counter() < deadline:
            payload = {"orders": [order() for _ in range(batch)]} if batch else order()
            body = json.dumps(payload).encode()
            headers = signed_headers(
                secret=secret, key=key, method="POST", path=path, body=body
            )
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            status = int(status_line.split()[1])
            if status not in ok_statuses or (batch and b'"error"' in answer):
                errors.append(f"{status} {answer[:120]!r}")
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", choices=["granian", "daphne"], default="granian")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--response-type", choices=["ack", "result"], default="ack")
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="Also measure POST /v1/orders/batch with this many orders per call.",
    )
    parser.add_argument(
        "--no-matcher",
        action="store_true",
        help="Diagnosis only: measure the API alone (orders stay pending).",
    )
    parser.add_argument(
        "--database",
        default="exchange_bench_rest",
        help="PostgreSQL database to recreate (one per concurrent bench run).",
    )
    parser.add_argument(
        "--redis-db", type=int, default=12, help="Redis database number (flushed)."
    )
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=f"{PG}/{args.database}",
        REDIS_URL=f"redis://127.0.0.1:6379/{args.redis_db}",
        DJANGO_SETTINGS_MODULE="exchange.settings",
        LOG_LEVEL="WARNING",
        MATCHER_MAX_QUEUE="1000000",
    )
    keys = setup(args.clients, args.database)
    port = free_port()
    if args.server == "daphne":
        server = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "exchange.asgi:application",
        ]
    else:
        server = [
            str(Path(sys.executable).parent / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            str(args.workers),
            "--blocking-threads",
            str(args.threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "exchange.wsgi:application",
        ]
    procs = (
        []
        if args.no_matcher
        else [
            subprocess.Popen(
                [sys.executable, "manage.py", "runmatcher"],
                cwd=ROOT,
                env=dict(
                    os.environ, LOG_LEVEL=os.environ.get("MATCHER_LOG_LEVEL", "WARNING")
                ),
                stderr=open(os.environ.get("MATCHER_LOG", os.devnull), "w"),
            ),
        ]
    )
    procs.append(subprocess.Popen(server, cwd=ROOT, env=dict(os.environ)))
    try:
        import httpx

        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/v1/time", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        groups = {
            "server": [procs[-1].pid],
            "matcher": [p.pid for p in procs[:-1]],
            "load generator": [os.getpid()],
        }
        phases = [measure(args, keys, port, groups, 0)]
        if args.batch:
            phases.append(measure(args, keys, port, groups, args.batch))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    rates = [report(args, phase) for phase in phases]
    if len(rates) == 2:
        print(
            f"batch({args.batch}) / single: {rates[1] / max(rates[0], 1e-9):.1f}x "
            "the single-order rate, same run"
        )


def measure(
    args: argparse.Namespace,
    keys: list[tuple[str, str]],
    port: int,
    groups: dict[str, list[int]],
    batch: int,
) -> dict:
    """One timed phase: every client sends single orders (batch 0) or batches."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + args.seconds

    async def run() -> None:
        await asyncio.gather(
            *(
                client_loop(
                    port,
                    key,
                    secret,
                    deadline,
                    args.response_type,
                    latencies,
                    errors,
                    i,
                    batch,
                )
                for i, (key, secret) in enumerate(keys)
            )
        )

    cpu_before = cpu_seconds(groups)
    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(groups)
    backlog = None if args.no_matcher else matcher_backlog()
    return {
        "batch": batch,
        "latencies": sorted(latencies),
        "errors": errors,
        "elapsed": elapsed,
        "cpu": {g: cpu[g] - cpu_before[g] for g in cpu},
        "backlog": backlog,
    }


def report(args: argparse.Namespace, phase: dict) -> float:
    """Print one phase; returns its orders/s."""
    latencies, errors, elapsed = phase["latencies"], phase["errors"], phase["elapsed"]
    per = max(1, phase["batch"])
    ok = (len(latencies) - len(errors)) * per
    print(
        f"server={args.server} workers={args.workers}x{args.threads} clients={args.clients} "
        f"response_type={args.response_type} batch={phase['batch']}: "
        f"{len(latencies)} requests, {len(errors)} errors"
        + (f" (first: {errors[0]})" if errors else "")
    )
    done = max(1, len(latencies) * per)
    print(
        "CPU per order: "
        + ", ".join(
            f"{group} {used / done * 1000:.2f} ms"
            for group, used in phase["cpu"].items()
        )
        + f" (of {os.cpu_count() * elapsed / done * 1000:.2f} ms on {os.cpu_count()} cores)"
    )
    backlog = phase["backlog"]
    if backlog is not None:
        # Accepted only counts if the matcher keeps up: what it had left when
        # the load stopped, and how long it took to settle the rest.
        print(
            f"matcher: {backlog[0]} commands queued at the end, settled in {backlog[1]:.2f} s"
        )
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    label = f"batch({phase['batch']})" if phase["batch"] else "rest"
    print(f"{label}: {ok / elapsed:.0f} orders/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return ok / elapsed


if __name__ == "__main__":
    main()
