"""The stored text of the events journals' payloads.

orjson, not the standard library: the matcher encodes ~2.4 payloads per
command inside its settlement transaction (an order's body, fills, balances,
book deltas), and orjson does it ~15x faster (bench/README.md, "Journal
payloads with orjson"). The output is compact JSON in UTF-8, with keys in
insertion order, exactly what json.loads (and psycopg's json loader) read
back; payloads hold only str, int, bool and None (money is never a float)."""

from __future__ import annotations

from typing import Any

import orjson


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()
