"""Exclusive ownership of pairs: one writer per book.

PostgreSQL: a session advisory lock per pair, on a dedicated connection that
lives as long as the matcher (the server drops it if the process dies, even on
kill -9). SQLite: one file lock for all pairs (one matcher per database).

A lock says who may run a book, not who may write it: the settlement
transaction proves ownership by its epoch (apps/matching/fencing.py).
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

LOCK_CLASS = 0x4D41  # "MA": namespace of the matcher's advisory locks


class PairOwned(Exception):
    """Another matcher owns the pair."""


def this_matcher() -> str:
    """How a matcher names itself to operators: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


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
        # The application name tells another matcher (and pg_stat_activity)
        # which matcher holds a lock, rather than a backend pid.
        self.conn = psycopg.connect(
            pg_conninfo(),
            autocommit=True,
            application_name=f"matcher {this_matcher()}"[:63],
        )

    def try_lock(self, pair_id: int) -> bool:
        row = self.conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, pair_id)
        ).fetchone()
        return bool(row and row[0])

    def unlock(self, pair_id: int) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, pair_id))

    def owner(self, pair_id: int) -> str:
        """The matcher holding the pair's lock, as ``host:pid``."""
        row = self.conn.execute(
            "SELECT a.application_name, l.pid FROM pg_locks l "
            "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s "
            "AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_CLASS, pair_id),
        ).fetchone()
        if row is None:
            return "unknown"
        name, backend = row
        if name and name.startswith("matcher "):
            return name.removeprefix("matcher ")
        return f"a session that is not a matcher (backend pid {backend})"

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
        handle.write(this_matcher())
        handle.flush()
        self.handle = handle
        return True

    def unlock(self, pair_id: int) -> None:
        self.close()  # one lock for all pairs

    def owner(self, pair_id: int) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def alive(self) -> bool:
        return self.handle is not None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def make_locks() -> PostgresLocks | FileLocks:
    return PostgresLocks() if settings.IS_POSTGRES else FileLocks()
