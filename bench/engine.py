"""Replay a deterministic 1M-command stream through one matching Engine.

    python bench/engine.py [--commands N] [--seed S] [--runs R] [--profile]

Stream: 70% limit orders near the mid (about 10% of them aggressive), 20%
cancels of live orders, 10% market orders (a quarter of the market buys by
funds); the book grows to a few hundred thousand resting orders.  The stream
is replayed on fresh engines: once with CPython's default GC, then R times
after gc.freeze() with raised thresholds (what the matcher process does after
rebuilding its books), keeping the fastest run since other processes share
this 2-core machine.  Latency is sampled on every 16th command with
perf_counter_ns; throughput is wall time over all commands (cpu time is
printed too).  The LAST line is the gc-tuned run:
    engine: <N> commands/s, p50 <x> us, p99 <y> us
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from apps.matching.engine import (  # noqa: E402
    BookConfig,
    CancelOrder,
    Command,
    Engine,
    Event,
    OrderType,
    PlaceOrder,
    Side,
    buy_limit_hold,
)

CFG = BookConfig(
    quote_per_tick_lot=10, maker_fee_bps=2, taker_fee_bps=5, price_band_bps=500
)
MID = 100_000
ACCOUNTS = 2_000
SAMPLE_EVERY = 16


def generate(n: int, seed: int) -> list[Command]:
    """A deterministic command stream.  A shadow Engine runs alongside the
    generator so that every cancel targets an order that is live at that
    point (the timed replays start from fresh engines)."""
    rng = random.Random(seed)
    shadow = Engine(CFG)
    cmds: list[Command] = []
    live: list[tuple[int, int]] = []  # (order_id, account_id), maybe stale
    mid = MID
    next_id = 1
    for i in range(n):
        ts = 1_700_000_000_000 + i
        if i % 1000 == 0:
            mid += rng.choice((-2, -1, 0, 1, 2))
        r = rng.random()
        acc = rng.randrange(ACCOUNTS)
        cmd: Command | None = None
        if 0.70 <= r < 0.90:
            while live and cmd is None:
                j = rng.randrange(len(live))
                live[j], live[-1] = live[-1], live[j]
                oid, owner = live.pop()
                if shadow.open_order(oid) is not None:
                    cmd = CancelOrder(oid, owner, ts)
        elif r >= 0.90:
            buy = rng.random() < 0.5
            size: int | None = rng.randint(1, 100)
            funds = None
            if buy and rng.random() < 0.25:
                funds, size = (size or 0) * mid * CFG.quote_per_tick_lot, None
            hold = funds or (
                (size or 0) * mid * 2 * CFG.quote_per_tick_lot if buy else size or 0
            )
            cmd = PlaceOrder(
                order_id=next_id,
                account_id=acc,
                side=Side.BUY if buy else Side.SELL,
                type=OrderType.MARKET,
                size=size,
                funds=funds,
                hold=hold,
                ts=ts,
            )
            next_id += 1
        if cmd is None:  # a limit order (70%, or a cancel with nothing live)
            buy = rng.random() < 0.5
            if rng.random() < 0.1:
                off = -rng.randrange(6)  # aggressive: at or through the mid
            else:
                off = 1 + int(rng.expovariate(0.05))
            price = mid - off if buy else mid + off
            lots = rng.randint(1, 100)
            cmd = PlaceOrder(
                order_id=next_id,
                account_id=acc,
                side=Side.BUY if buy else Side.SELL,
                type=OrderType.LIMIT,
                size=lots,
                price=price,
                hold=buy_limit_hold(price, lots, CFG) if buy else lots,
                ts=ts,
            )
            live.append((next_id, acc))
            next_id += 1
        shadow.process(cmd)
        cmds.append(cmd)
    return cmds


def replay(cmds: list[Command]) -> tuple[float, float, list[int], Engine, Counter[str]]:
    """Run all commands; return (wall s, cpu s, sampled latencies ns, engine,
    event counts of the sampled commands)."""
    eng = Engine(CFG)
    process = eng.process
    pc = time.perf_counter_ns
    lat: list[int] = []
    sample = lat.append
    step = SAMPLE_EVERY
    sampled: list[list[Event]] = []
    keep = sampled.append
    c0 = time.process_time()
    t0 = pc()
    for i in range(0, len(cmds), step):
        s = pc()
        keep(process(cmds[i]))
        sample(pc() - s)
        for cmd in cmds[i + 1 : i + step]:
            process(cmd)
    wall = (pc() - t0) / 1e9
    cpu = time.process_time() - c0
    kinds = Counter(type(e).__name__ for events in sampled for e in events)
    return wall, cpu, lat, eng, kinds


def pct(sorted_ns: list[int], p: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p))] / 1000


def report(
    label: str, n: int, secs: float, cpu: float, lat: list[int]
) -> tuple[int, float, float]:
    lat.sort()
    rate = int(n / secs)
    p50, p99 = pct(lat, 0.50), pct(lat, 0.99)
    print(
        f"{label}: {rate} commands/s, p50 {p50:.1f} us, p99 {p99:.1f} us, "
        f"max {lat[-1] / 1000:.0f} us (wall {secs:.2f} s, cpu {cpu:.2f} s = "
        f"{int(n / cpu)} commands per cpu-second)"
    )
    return rate, p50, p99


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--runs", type=int, default=3, help="gc-tuned replays (best kept)")
    ap.add_argument("--profile", action="store_true", help="cProfile one run")
    args = ap.parse_args()
    t = time.perf_counter()
    cmds = generate(args.commands, args.seed)
    print(f"generated {len(cmds)} commands in {time.perf_counter() - t:.1f} s")
    if args.profile:
        import cProfile
        import pstats

        gc.freeze()
        cProfile.runctx("replay(cmds)", globals(), {"cmds": cmds}, "/tmp/engine.prof")
        pstats.Stats("/tmp/engine.prof").sort_stats("tottime").print_stats(15)
        return

    gc.collect()
    secs, cpu, lat, eng, kinds = replay(cmds)
    bids, asks = eng.depth(10**9)
    print(
        f"book after replay: {len(eng.resting_orders())} resting orders, "
        f"{len(bids)} bid / {len(asks)} ask levels"
    )
    print(
        f"events of 1 in {SAMPLE_EVERY} commands: "
        + ", ".join(f"{k} {v}" for k, v in kinds.most_common())
    )
    eng.check_invariants()
    del eng
    report("gc default", len(cmds), secs, cpu, lat)
    gc.collect()

    # What the matcher does after rebuilding its books: freeze what exists,
    # collect the young generation rarely.  Best of --runs (other processes
    # share this 2-core machine; the minimum is the least disturbed run).
    gc.freeze()
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1000)
    best: tuple[float, float, list[int]] | None = None
    for _ in range(args.runs):
        secs, cpu, lat, eng, _ = replay(cmds)
        del eng
        gc.collect()
        if best is None or secs < best[0]:
            best = (secs, cpu, lat)
    gc.set_threshold(*old)
    assert best is not None
    label = f"gc frozen + thresholds (100000, 50, 1000), best of {args.runs}"
    rate, p50, p99 = report(label, len(cmds), *best)
    print(f"engine: {rate} commands/s, p50 {p50:.1f} us, p99 {p99:.1f} us")


if __name__ == "__main__":
    main()
