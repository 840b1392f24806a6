"""What the benchmarks share: a fresh PostgreSQL database and a free port.

Imported as ``benchkit`` by the scripts beside it (``python bench/x.py`` puts
this folder on the path).
"""

from __future__ import annotations

import socket

PG = "postgres://postgres@127.0.0.1:5432"


def fresh_database(name: str, server: str = PG) -> str:
    """Drop (forcing out any session) and create database ``name`` on
    ``server``; returns its URL."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
