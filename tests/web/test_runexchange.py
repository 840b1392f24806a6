"""`make run`'s command, end to end, on a fresh embedded-default var dir."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.client import ExchangeClient
from tests.helpers import LIMIT_BUY

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_block(starting: str) -> str:
    """The README's shell block whose first line is ``starting``."""
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        if block.startswith(starting):
            return block
    raise AssertionError(f"README has no sh block starting with {starting!r}")


class Output:
    """runexchange's output, read by a thread for the whole run, and a wait
    for a line that can time out instead of blocking.

    The pipe is shared by every child (daphne's access log, the matcher's
    and the simulator's logs). Left unread it fills (64 KiB: under a minute
    of the simulator's traffic) and each child blocks on its next write:
    daphne in its event loop, so every request hangs until someone reads."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        threading.Thread(target=self.read, args=(proc.stdout,), daemon=True).start()

    def read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, count: int = 1) -> list[re.Match]:
        deadline = time.monotonic() + 30
        while True:
            found = [m for line in list(self.lines) if (m := re.search(pattern, line))]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"no {pattern!r} in {self.lines}"
            time.sleep(0.1)


def run_readme_python_client(port: int, env: dict, exports: dict) -> None:
    """The README's Python client example, with the demo key filled in."""
    text = (ROOT / "README.md").read_text()
    (block,) = [
        b
        for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
        if b.startswith("from exchange.client import ExchangeClient")
    ]
    script = (
        block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        .replace('key="hkt_..."', f'key="{exports["HKT_KEY"]}"')
        .replace('secret="..."', f'secret="{exports["HKT_SECRET"]}"')
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    status, filled = result.stdout.splitlines()[0].split()
    assert status in ("open", "filled", "pending") and filled.startswith("0.")


def wait_for_simulated_book(port: int, levels: int = 20, timeout: float = 90) -> None:
    """Until the simulator's makers show ``levels`` levels a side on every
    pair at once: a fresh sandbox has a deep market within its first minute
    (each maker's first ladder goes out in the simulator's opening, before
    any trade; docs/sandbox.md; about 10 s on a quiet machine, the rest of
    ``timeout`` is slack for a loaded one)."""
    deadline = time.monotonic() + timeout
    base = f"http://127.0.0.1:{port}/v1"
    depths: dict[str, tuple[int, int]] = {}
    while True:
        try:
            markets = httpx.get(f"{base}/markets", timeout=10).json()["markets"]
            pairs = [m["symbol"] for m in markets]
            books = {
                pair: httpx.get(f"{base}/orderbook/{pair}?depth=100", timeout=10).json()
                for pair in pairs
            }
        except httpx.TimeoutException:  # a loaded machine; the deadline decides
            pairs, books = [], {}
        depths = {p: (len(b["bids"]), len(b["asks"])) for p, b in books.items()}
        if pairs and all(min(d) >= levels for d in depths.values()):
            return
        assert time.monotonic() < deadline, f"books not {levels} deep: {depths}"
        time.sleep(0.5)


def demo_key(output: Output) -> dict[str, str]:
    """The demo key's exports that runexchange printed."""
    return {
        name: output.wait_for(rf"^\s*export {name}=(\S+)")[0].group(1)
        for name in ("HKT_KEY", "HKT_SECRET")
    }


def run_readme_quickstart(port: int, env: dict, output: Output) -> None:
    """The README's curl quick-start, as written (but for the port), with the
    demo key that runexchange printed, once the simulated market is up."""
    wait_for_simulated_book(port)
    exports = demo_key(output)
    script = readme_block("source .venv/bin/activate").replace(
        "127.0.0.1:8000", f"127.0.0.1:{port}"
    )
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={**env, **exports},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    order = json.loads(result.stdout)
    # Filled against the simulator's asks, at their prices (below the limit).
    assert order["status"] == "filled", order
    assert (order["pair"], order["side"], order["price"], order["size"]) == (
        "BTC-USD",
        "buy",
        "70000.000000",
        "0.01000000",
    )
    assert Decimal(order["average_price"]) < Decimal("70000"), order
    run_readme_python_client(port, env, exports)


def start_runexchange(
    tmp_path: Path, port: int, **settings: str
) -> tuple[subprocess.Popen, dict, Output]:
    """`manage.py runexchange` on the embedded default (no DATABASE_URL, no
    REDIS_URL) in a fresh var dir; its stdout and stderr come as one pipe,
    drained from the start (``Output``)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(EXCHANGE_VAR_DIR=str(tmp_path), PORT=str(port), PYTHONUNBUFFERED="1")
    env.update(settings)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runexchange"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return proc, env, Output(proc)


def wait_for_health(
    proc: subprocess.Popen, port: int, output: Output
) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
        except httpx.HTTPError:
            assert proc.poll() is None, "".join(output.lines)
            time.sleep(0.3)
    raise AssertionError("no health within a minute")


def stop_runexchange(proc: subprocess.Popen, port: int) -> None:
    """SIGTERM stops runexchange with exit code 0, and all its children with
    it: the port is free again."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)


@pytest.mark.slow
def test_runexchange_serves_health_and_admin_then_stops_on_sigterm(tmp_path):
    port = free_port()
    proc, env, output = start_runexchange(tmp_path, port)
    try:
        health = wait_for_health(proc, port, output)
        assert health.status_code == 200
        output.wait_for(r"^markets:")
        lines = list(output.lines)
        first = next(i for i, line in enumerate(lines) if line.startswith("markets:"))
        before = [
            line for line in lines[:first] if "WARNING" in line or "ERROR" in line
        ]
        assert not before, before
        assert lines[first].startswith(
            "markets: BTC-USD, ETH-USD, ETH-BTC; demo user: demo"
        ), lines[first]
        assert health.json()["checks"] == {"database": True, "channel_layer": True}
        run_readme_quickstart(port, env, output)
        login = httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=5)
        assert login.status_code == 200 and "Django administration" in login.text
        # Each request goes to var/access.log, not to the terminal, where
        # the simulator's traffic would drown everything else.
        output.wait_for(r"^access log: ")
        access = (tmp_path / "access.log").read_text()
        assert '"GET /admin/login/" 200' in access, access[-2000:]
        assert not any("/admin/login/" in line for line in output.lines)
        stop_runexchange(proc, port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def matcher_pids(runexchange: subprocess.Popen) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(runexchange.pid), "-f", "runmatcher"],
        capture_output=True,
        text=True,
    )
    return [int(pid) for pid in found.stdout.split()]


@pytest.mark.slow
def test_runexchange_restarts_a_killed_matcher_while_the_api_keeps_answering(
    tmp_path,
):
    port = free_port()
    # The API answers pending after 100 ms without the matcher's result, so an
    # order placed while the matcher is down is pending however fast it returns.
    # No simulator: this test counts the matcher's orders and processes.
    proc, _, output = start_runexchange(
        tmp_path, port, ORDER_RESULT_TIMEOUT_MS="100", SIMULATOR="0"
    )
    try:
        assert wait_for_health(proc, port, output).status_code == 200
        exports = demo_key(output)
        key, secret = exports["HKT_KEY"], exports["HKT_SECRET"]
        output.wait_for(r"matcher \S+ owns BTC-USD")
        (old_pid,) = matcher_pids(proc)

        os.kill(old_pid, signal.SIGKILL)
        health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5)
        assert health.status_code == 200
        base = f"http://127.0.0.1:{port}"
        with ExchangeClient(base, key=key, secret=secret) as client:
            order = client.place_order(**LIMIT_BUY)
            assert order["status"] == "pending"
            output.wait_for(
                r"^runexchange: matcher exited \(killed by SIGKILL\); "
                r"restarting it in 0\.5 s$"
            )
            (restarted,) = output.wait_for(
                r"^runexchange: restarted matcher \(pid (\d+)\)"
            )
            output.wait_for(r"matcher \S+ owns BTC-USD", count=2)
            deadline = time.monotonic() + 30
            while order["status"] == "pending" and time.monotonic() < deadline:
                time.sleep(0.2)
                order = client.get_order(order["id"])
            assert order["status"] == "open", order
        new_pid = int(restarted.group(1))
        assert new_pid != old_pid and matcher_pids(proc) == [new_pid]
        stop_runexchange(proc, port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
