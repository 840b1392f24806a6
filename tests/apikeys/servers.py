"""Real server processes on the test database: daphne (ASGI: WebSockets and
REST) and granian (WSGI: REST in production, see README "Deploy at scale")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from django.db import connection

from tests.matching.processes import wait_until_serving

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return (
        f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(kind: str, port: int) -> list[str]:
    if kind == "granian":
        return [
            str(Path(sys.executable).with_name("granian")),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "exchange.wsgi:application",
        ]
    script = Path(sys.executable).with_name("daphne")
    daphne = [str(script)] if script.exists() else [sys.executable, "-m", "daphne"]
    return [*daphne, "-b", "127.0.0.1", "-p", str(port), "exchange.asgi:application"]


def start_servers(
    kinds: list[str],
) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "exchange.settings",
    }
    procs, urls, logs = [], [], []
    for kind in kinds:
        port = _free_port()
        logs.append(
            tempfile.TemporaryFile()
        )  # not a pipe: nobody reads it, it can't fill
        procs.append(
            subprocess.Popen(
                server_command(kind, port),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=logs[-1],
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    for proc, url, log in zip(procs, urls, logs, strict=True):

        def tail(log=log) -> str:
            log.seek(0)
            return log.read().decode()[-2000:]

        wait_until_serving(proc, url, tail)
    return procs, urls


def stop_servers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
