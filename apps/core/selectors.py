"""Health probes of the exchange's dependencies."""

from __future__ import annotations

import uuid

from channels.layers import get_channel_layer
from django.db import connection


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return False


async def channel_layer_ok() -> bool:
    """Round-trips one message through the channel layer (Redis or in-memory)."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        channel = await layer.new_channel()
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "token": token})
        message = await layer.receive(channel)
        return message.get("token") == token
    except Exception:  # noqa: BLE001
        return False
