"""Shared test helpers (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

from apps.accounts.models import Balance
from apps.orders.services import order_place
from apps.orders.validation import order_request_from_wire

BTC = 10**8
USD = 10**6


def place(user, pair, **wire):
    """Place an order through the real service, as the API does."""
    wire.setdefault("type", "limit")
    req = order_request_from_wire(pair=pair, data=wire)
    return order_place(user_id=user.pk, pair=pair, req=req).order


def bal(user, asset, wallet: str = "spot") -> tuple[int, int]:
    b = Balance.objects.filter(user=user, asset=asset, wallet=wallet).first()
    return (b.available, b.held) if b else (0, 0)
