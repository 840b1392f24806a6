"""Start, drain and stop real matcher processes on the test database, and
wait for a real server to answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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
