"""WebSocket delivery latency of the public book stream, end to end.

    python bench/ws.py [--clients 100] [--seconds 20] [--rate 10]
                       [--db postgres|sqlite] [--servers 1] [--client-procs 1]

Starts the matcher and ``--servers`` daphne processes on a fresh database
(PostgreSQL + Redis: ``--bench-db`` and Redis db ``--redis-db``; or the
SQLite default in a temporary directory, no Redis), connects ``--clients``
WebSocket clients spread over the servers and over ``--client-procs``
processes, each subscribed to the BTC-USD book and trades, then places
``--rate`` orders a second through the real order service for ``--seconds``
(limit orders around the mid, about half of them crossing). The clients are
the ``websockets`` package's asyncio client with a minimal reader (a
thousand of the Python client's threaded ``MarketStream`` would measure
threads); the e2e tests check the same messages with the full client.

Latency of an event = its receipt by a client minus the event's journal
stamp (``MarketEvent.created_at``: the matcher's batch stamp, taken just
before the batch's writes and commit, so the figure is an upper bound of
commit -> receipt by the batch's persist time, ~1 ms for small batches).
Gaps: book messages whose ``prev_seq`` is not the previous message's ``seq``,
resyncs, and connections that ended early. Last line:
``ws: <clients> clients, p50 <x> ms, p99 <y> ms, gaps <n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchkit import free_port, fresh_database  # noqa: E402


class Receipts:
    """What one process's clients saw: (seq, receipt time) per event, and gaps."""

    def __init__(self) -> None:
        self.times: list[tuple[int, float]] = []
        self.gaps = 0
        self.ended = 0  # connections closed before the end

    def take(self, msg: dict[str, Any], now: float, last: int | None) -> int | None:
        """Record one client's message received at ``now``; ``last`` is the
        seq its book chain stands at, and the new one is returned."""
        kind = msg.get("type")
        if kind == "book_delta":
            if msg["prev_seq"] != last:
                self.gaps += 1
            self.times.append((msg["seq"], now))
            return msg["seq"]
        if kind == "trade":
            self.times.append((msg["seq"], now))
        elif kind == "book_snapshot":
            return msg["seq"]
        elif kind == "resync":
            self.gaps += 1
        return last


async def client(url: str, receipts: Receipts, connected: asyncio.Event) -> None:
    import websockets

    async with websockets.connect(url, max_queue=None, open_timeout=60) as ws:
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
        last = None
        try:
            async for raw in ws:
                msg = json.loads(raw)
                last = receipts.take(msg, time.time(), last)
                if msg.get("type") == "book_snapshot":
                    connected.set()
        except websockets.ConnectionClosed:
            pass
        receipts.ended += 1


class LeanClient(asyncio.Protocol):
    """A minimal WebSocket reader for the load generator (``--lean``).

    Hand-written because the measuring clients share this machine's two
    cores with the servers: the ``websockets`` package spends ~70 us of
    Python per received frame (its parser, a queue and a task wake-up per
    connection), more than the server spends writing it, so a thousand of
    its clients mostly measure themselves. This reads frames straight from
    ``data_received``: RFC 6455 framing of unmasked server frames, masked
    client frames, pong replies; nothing else (no extensions, no fragments,
    which the server never sends)."""

    def __init__(
        self, host: str, path: str, receipts: Receipts, connected: asyncio.Event
    ) -> None:
        self.host, self.path = host, path
        self.receipts, self.connected = receipts, connected
        self.buffer = b""
        self.upgraded = False
        self.last: int | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(  # type: ignore[attr-defined]
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        header = (
            bytes((0x80 | opcode, 0x80 | size))
            if size < 126
            else (bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big"))
        )
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(header + mask + masked)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if b" 101 " not in buffer[:end].split(b"\r\n", 1)[0]:
                raise ConnectionError(buffer[:end].decode(errors="replace"))
            self.upgraded, buffer = True, buffer[end + 4 :]
            for i, channel in enumerate(("book", "trades")):
                frame = {"op": "subscribe", "id": str(i), "channel": channel}
                self.send_frame(1, json.dumps(frame | {"pair": "BTC-USD"}).encode())
        at = 0
        while len(buffer) - at >= 2:
            opcode, size = buffer[at] & 0x0F, buffer[at + 1] & 0x7F
            start = at + 2
            if size == 126:
                size, start = int.from_bytes(buffer[at + 2 : at + 4], "big"), at + 4
            elif size == 127:
                size, start = int.from_bytes(buffer[at + 2 : at + 10], "big"), at + 10
            if len(buffer) < start + size:
                break
            payload, at = buffer[start : start + size], start + size
            if opcode == 1:
                self.message(json.loads(payload), now)
            elif opcode == 9:
                self.send_frame(10, payload)
            elif opcode == 8:
                self.transport.close()  # type: ignore[attr-defined]
        self.buffer = buffer[at:]

    def message(self, msg: dict[str, Any], now: float) -> None:
        self.last = self.receipts.take(msg, now, self.last)
        if msg.get("type") == "book_snapshot":
            self.connected.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def lean_client(url: str, receipts: Receipts, connected: asyncio.Event) -> None:
    parts = urllib.parse.urlsplit(url)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: LeanClient(parts.netloc, parts.path, receipts, connected),
        parts.hostname,
        parts.port,
    )
    await protocol.closed
    receipts.ended += 1


def client_process(
    urls: list[str], n: int, ready: object, stop: object, out: object, lean: bool
) -> None:
    """``n`` clients in this process; ``ready`` counts the subscribed ones;
    at ``stop`` (plus a second for the last deliveries) the receipts go to
    ``out``."""

    async def main() -> Receipts:
        receipts = Receipts()
        flags = [asyncio.Event() for _ in range(n)]
        tasks = [
            asyncio.create_task(
                (lean_client if lean else client)(
                    urls[i % len(urls)], receipts, flags[i]
                )
            )
            for i in range(n)
        ]
        counted = 0
        while not stop.is_set():  # type: ignore[attr-defined]
            now = sum(flag.is_set() for flag in flags)
            if now != counted:
                with ready.get_lock():  # type: ignore[attr-defined]
                    ready.value += now - counted  # type: ignore[attr-defined]
                counted = now
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the last events' delivery
        ended = receipts.ended
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        receipts.ended = ended
        return receipts

    receipts = asyncio.run(main())
    out.send((receipts.times, receipts.gaps, receipts.ended))  # type: ignore[attr-defined]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("daphne did not start") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=10, help="orders per second")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--servers", type=int, default=1, help="daphne processes")
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument(
        "--lean",
        action="store_true",
        help="minimal hand-written clients (LeanClient) instead of websockets'",
    )
    parser.add_argument("--bench-db", default="exchange_bench_ws")
    parser.add_argument("--redis-db", type=int, default=15)
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="bench-ws-")
    env = dict(os.environ, EXCHANGE_VAR_DIR=var, PYTHONUNBUFFERED="1")
    # Every client comes from 127.0.0.1: no per-address connection limit.
    env.setdefault("WS_MAX_CONNECTIONS_PER_IP", "0")
    if args.db == "postgres":
        redis = f"redis://127.0.0.1:6379/{args.redis_db}"
        env.update(DATABASE_URL=fresh_database(args.bench_db), REDIS_URL=redis)
        subprocess.run(
            ["redis-cli", "-n", str(args.redis_db), "flushdb"],
            check=False,
            capture_output=True,
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

    ports = [free_port() for _ in range(args.servers)]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runmatcher"], cwd=ROOT, env=env, **quiet
        )
    ] + [
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
            **quiet,
        )
        for port in ports
    ]
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Value("i", 0)
    stop = spawn.Event()
    pipes, workers = [], []
    try:
        for port in ports:
            wait_for_port(port)
        urls = [f"ws://127.0.0.1:{port}/v1/ws" for port in ports]
        share = [
            args.clients // args.client_procs
            + (1 if i < args.clients % args.client_procs else 0)
            for i in range(args.client_procs)
        ]
        for i, n in enumerate(share):
            mine, theirs = spawn.Pipe(duplex=False)
            # Rotated so that each process's clients spread over the servers.
            rotated = urls[i % len(urls) :] + urls[: i % len(urls)]
            worker = spawn.Process(
                target=client_process,
                args=(rotated, n, ready, stop, theirs, args.lean),
            )
            worker.start()
            pipes.append(mine)
            workers.append(worker)
        deadline = time.monotonic() + 300
        while ready.value < args.clients:
            if time.monotonic() > deadline or not all(w.is_alive() for w in workers):
                raise SystemExit(f"only {ready.value} clients subscribed")
            time.sleep(0.1)
        time.sleep(1.0)  # the snapshots' sending settles
        first_seq = MarketEvent.objects.filter(pair=pair).count()
        servers = [proc.pid for proc in procs[1:]]
        clients = [worker.pid for worker in workers]
        cpu_before = [sum(map(cpu_seconds, pids)) for pids in (servers, clients)]
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
        time.sleep(1.0)
        cpu = [
            sum(map(cpu_seconds, pids)) - before
            for pids, before in zip((servers, clients), cpu_before, strict=True)
        ]
        stop.set()
        results = [pipe.recv() for pipe in pipes]
        for worker in workers:
            worker.join(30)
        stamps = {
            seq: at.timestamp()
            for seq, at in MarketEvent.objects.filter(
                pair=pair, seq__gt=first_seq
            ).values_list("seq", "created_at")
        }
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
    times = [pair_ for result in results for pair_ in result[0]]
    gaps = sum(result[1] + result[2] for result in results)
    latencies = [
        (received - stamps[seq]) * 1000 for seq, received in times if seq in stamps
    ]
    if not latencies:
        raise SystemExit("no event reached the clients")
    expected = len(stamps) * args.clients
    print(
        f"{placed} orders in {args.seconds:g} s, {len(stamps)} events, "
        f"{len(latencies)} deliveries to {args.clients} clients ({args.db}, "
        f"{args.servers} server(s), {args.client_procs} client process(es)); "
        f"max {max(latencies):.1f} ms; ~{expected} expected if every event "
        "changed the top 100"
    )
    # CPU per frame moves much less than latency on a shared machine.
    print(
        f"CPU per delivery: servers {cpu[0] / len(latencies) * 1e6:.1f} us, "
        f"clients {cpu[1] / len(latencies) * 1e6:.1f} us"
    )
    print(
        f"ws: {args.clients} clients, p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, gaps {gaps}"
    )


if __name__ == "__main__":
    main()
