"""Start, drain and stop real matcher processes on the test database, wait
for a real server to answer, and run a whole live exchange (daphne and the
matcher) for a test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.db import connection

from apps.orders.models import OrderCommand

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_matcher(tmp_path, *args: str, **env_vars: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        EXCHANGE_VAR_DIR=str(tmp_path),
        PYTHONUNBUFFERED="1",
        MATCHER_POLL_INTERVAL_MS="20",
        **env_vars,
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "runmatcher", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_drained(proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while OrderCommand.objects.filter(processed_at__isnull=True).exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "matcher did not drain its queue"
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    return proc.stdout.read()


def wait_until_serving(
    proc: subprocess.Popen,
    base_url: str,
    describe: Callable[[], str] = lambda: "",
    timeout: float = 60,
) -> None:
    """Wait until the server ``proc`` answers ``GET {base_url}/v1/time``;
    raise with ``describe()`` (e.g. its log) if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server at {base_url} exited: {describe()}")
        try:
            if httpx.get(f"{base_url}/v1/time", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server at {base_url} did not start: {describe()}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def exchange(
    tmp_path: Path,
    pairs: str | None = "BTC-USD",
    env: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen, str]]:
    """The matcher (``pairs``, or every pair for None; BTC-USD by default)
    and daphne on the test database (with the run's REDIS_URL, if any);
    yields the matcher and daphne's base URL, and stops both however the
    test ends. ``env`` adds or overrides daphne's environment (settings such
    as ``WS_HEARTBEAT_MS``). Static files are served by whitenoise from the
    finders: no collectstatic needed. daphne's log is ``tmp_path/daphne.log``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    script = Path(sys.executable).with_name("daphne")
    daphne = [str(script)] if script.exists() else [sys.executable, "-m", "daphne"]
    server_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "exchange.settings",
        "EXCHANGE_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "WS_HEARTBEAT_MS": "500",
        "WS_POLL_MS": "20",
        **(env or {}),
    }
    log_path = tmp_path / "daphne.log"
    matcher = server = None
    with open(log_path, "wb") as log:
        try:
            matcher = start_matcher(
                tmp_path, *(("--pairs", pairs) if pairs is not None else ())
            )
            address = ["-b", "127.0.0.1", "-p", str(port)]
            server = subprocess.Popen(
                [*daphne, *address, "exchange.asgi:application"],
                cwd=ROOT,
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            wait_until_serving(server, base, lambda: log_tail(log_path))
            yield matcher, base
        except BaseException:
            print(f"--- daphne log ---\n{log_tail(log_path)}")
            raise
        finally:
            if server is not None:
                _stop_server(server)
            if matcher is not None:
                try:
                    stop(matcher)
                except subprocess.TimeoutExpired:
                    matcher.kill()
                    matcher.wait()
