"""Orders, trades (fills) and the matcher's command queue.

Prices are integer ticks of the pair, sizes integer lots, quote amounts and fees
integer quote minor units. The API inserts orders as ``pending`` with their funds
held; only the matcher moves them on.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class OrderType(models.TextChoices):
    LIMIT = "limit", "Limit"
    MARKET = "market", "Market"
    STOP = "stop", "Stop (market)"
    STOP_LIMIT = "stop_limit", "Stop limit"


class TimeInForce(models.TextChoices):
    GTC = "GTC", "Good till cancelled"
    IOC = "IOC", "Immediate or cancel"
    FOK = "FOK", "Fill or kill"


class Stp(models.TextChoices):
    CANCEL_NEWEST = "cancel_newest", "Cancel newest"
    CANCEL_OLDEST = "cancel_oldest", "Cancel oldest"
    CANCEL_BOTH = "cancel_both", "Cancel both"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"


LIVE_STATUSES = (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
FINAL_STATUSES = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)
# What the matcher changes on an order; the rest is fixed at placement.
MATCHER_FIELDS = (
    "status",
    "price",  # an amend
    "size",  # an amend
    "hold_amount",  # an amend
    "filled_size",
    "filled_quote",
    "maker_quote",
    "fee",
    "priority",
    "reject_reason",
    "triggered_at",
    "done_at",
    "updated_at",
)


class Order(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # user and pair have no index of their own: order_user_status and
    # order_pair_status start with them. A fill changes status, an indexed
    # column, so every index takes a new entry on every settled update.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    api_key = models.ForeignKey(
        "apikeys.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pair = models.ForeignKey(
        "markets.Pair", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=10, choices=OrderType.choices)
    time_in_force = models.CharField(
        max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC
    )
    post_only = models.BooleanField(default=False)
    stp = models.CharField(
        max_length=16, choices=Stp.choices, default=Stp.CANCEL_NEWEST
    )
    price = models.BigIntegerField(null=True, blank=True, help_text="Ticks.")
    stop_price = models.BigIntegerField(null=True, blank=True, help_text="Ticks.")
    size = models.BigIntegerField(null=True, blank=True, help_text="Lots.")
    funds = models.BigIntegerField(
        null=True, blank=True, help_text="Quote minor units (market buys by funds)."
    )
    hold_amount = models.BigIntegerField(
        default=0,
        help_text="Held at placement, in minor units of the quote (buy) or base (sell).",
    )
    filled_size = models.BigIntegerField(default=0, help_text="Lots.")
    filled_quote = models.BigIntegerField(default=0, help_text="Quote minor units.")
    maker_quote = models.BigIntegerField(
        default=0, help_text="Part of filled_quote filled as maker (fee state)."
    )
    fee = models.BigIntegerField(default=0, help_text="Quote minor units.")
    priority = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Per-pair order in which it entered the book (or the stop book).",
    )
    triggered_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    reject_reason = models.CharField(max_length=32, blank=True, default="")
    # NULL, not "", for "none": the unique constraint applies to given ids only.
    client_order_id = models.CharField(max_length=36, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_user_client_order_id",
            ),
            models.CheckConstraint(
                condition=Q(filled_size__gte=0), name="order_filled_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(hold_amount__gte=0), name="order_hold_gte_0"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status", "-id"], name="order_user_status"),
            models.Index(fields=["pair", "status"], name="order_pair_status"),
        ]

    def __str__(self) -> str:
        return str(self.uuid)


class Trade(models.Model):
    # pair, maker_user and taker_user have no index of their own:
    # trade_pair_seq, trade_maker_user and trade_taker_user start with them.
    pair = models.ForeignKey(
        "markets.Pair", on_delete=models.PROTECT, related_name="trades", db_index=False
    )
    seq = models.BigIntegerField(help_text="Per-pair trade sequence, gap-free.")
    maker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    taker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    maker_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    taker_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    price = models.BigIntegerField(help_text="Ticks.")
    size = models.BigIntegerField(help_text="Lots.")
    quote = models.BigIntegerField(help_text="Notional, quote minor units.")
    taker_side = models.CharField(max_length=4, choices=Side.choices)
    maker_fee = models.BigIntegerField()
    taker_fee = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pair", "seq"], name="trade_pair_seq"),
        ]
        indexes = [
            models.Index(fields=["pair", "created_at"], name="trade_pair_time"),
            models.Index(fields=["maker_user", "-id"], name="trade_maker_user"),
            models.Index(fields=["taker_user", "-id"], name="trade_taker_user"),
        ]

    def __str__(self) -> str:
        return f"{self.pair_id}#{self.seq}"


class CommandKind(models.TextChoices):
    PLACE = "place", "Place"
    CANCEL = "cancel", "Cancel"
    AMEND = "amend", "Amend"


class OrderCommand(models.Model):
    """The matcher's input queue, in arrival (id) order per pair.

    Written by the API in the same transaction as the order (or cancel request);
    marked processed by the matcher in the same transaction as the outcome, so a
    command whose outcome committed is never applied twice.

    An amend carries its new price and total size, and ``hold_add``: what
    the API held for it on top of the order's hold, owned by the command
    until the matcher applies it (folded into the order's ``hold_amount``)
    or rejects it (released).
    """

    # No index of its own: commands are looked up by pair only while
    # unprocessed (ordercommand_unprocessed); marking one processed is not a
    # HOT update (that index's predicate), so each index is written again.
    pair = models.ForeignKey(
        "markets.Pair", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=8, choices=CommandKind.choices)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="commands")
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=32, blank=True, default="")
    # A database default: the order path's fixed INSERTs (placement.py) name
    # their columns and leave this one out.
    cancel_reason = models.CharField(
        max_length=32,
        blank=True,
        default="",
        db_default="",
        help_text="Cancels: the reason the order reports (the engine's "
        "CANCEL_REQUESTED); empty means user_cancelled.",
    )
    amend_price = models.BigIntegerField(null=True, blank=True, help_text="Ticks.")
    amend_size = models.BigIntegerField(
        null=True, blank=True, help_text="Lots, the new total size."
    )
    hold_add = models.BigIntegerField(
        default=0,
        db_default=0,  # the order path's raw INSERTs name only their columns
        help_text="Amend: held on top of the order's hold, in minor units of "
        "the quote (buy) or base (sell).",
    )
    epoch = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Owner epoch of the matcher that processed it (fencing).",
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["pair", "id"],
                condition=Q(processed_at__isnull=True),
                name="ordercommand_unprocessed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id}"


class CancelAllAfter(models.Model):
    """A market maker's dead-man switch: when ``deadline`` passes without a
    refresh, every live order placed with ``api_key`` is cancelled."""

    api_key = models.OneToOneField(
        "apikeys.ApiKey", on_delete=models.CASCADE, related_name="+"
    )
    deadline = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.api_key_id} until {self.deadline:%Y-%m-%d %H:%M:%S}"
