"""Exclusive ownership of pairs: one writer per book.

PostgreSQL: a session advisory lock per pair, on a dedicated connection that
lives as long as the matcher (the server drops it if the process dies, even on
kill -9). SQLite: one file lock for all pairs (one matcher per database).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

LOCK_CLASS = 0x4D41  # "MA": namespace of the matcher's advisory locks


class PairOwned(Exception):
    """Another matcher owns the pair."""


def pg_conninfo() -> str:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    return psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if v is not None}
    )


class PostgresLocks:
    def __init__(self) -> None:
        self.conn = psycopg.connect(pg_conninfo(), autocommit=True)

    def try_lock(self, pair_id: int) -> bool:
        row = self.conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, pair_id)
        ).fetchone()
        return bool(row and row[0])

    def owner_pid(self, pair_id: int) -> int | None:
        row = self.conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objid = %s AND granted",
            (LOCK_CLASS, pair_id),
        ).fetchone()
        return row[0] if row else None

    def alive(self) -> bool:
        try:
            self.conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def close(self) -> None:
        self.conn.close()


class FileLocks:
    def __init__(self) -> None:
        self.path = Path(settings.VAR_DIR) / "matcher.lock"
        self.handle: Any = None

    def try_lock(self, pair_id: int) -> bool:
        if self.handle is not None:
            return True
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle
        return True

    def owner_pid(self, pair_id: int) -> int | None:
        try:
            return int(self.path.read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.handle is not None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def make_locks() -> PostgresLocks | FileLocks:
    return PostgresLocks() if settings.IS_POSTGRES else FileLocks()
