"""API keys: public id, Fernet-encrypted secret, scope, IP allow-list, drift."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Scope(models.TextChoices):
    READ = "read", "Read only"
    TRADE = "trade", "Trade (and read)"
    WITHDRAW = "withdraw", "Withdraw (and trade, read)"


SCOPE_RANK = {Scope.READ: 1, Scope.TRADE: 2, Scope.WITHDRAW: 3}

DEFAULT_DRIFT_MS = 5_000
MIN_DRIFT_MS = 500
MAX_DRIFT_MS = 60_000
RETAIL_WEIGHT_PER_MINUTE = 1_200
MARKET_MAKER_WEIGHT_PER_MINUTE = 6_000


class ApiKey(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    key = models.CharField(max_length=64, unique=True)
    secret_encrypted = models.TextField()
    label = models.CharField(max_length=64, blank=True, default="")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    ip_allowlist = models.JSONField(
        default=list, blank=True, help_text="Addresses or CIDR networks, IPv4 or IPv6."
    )
    drift_ms = models.PositiveIntegerField(default=DEFAULT_DRIFT_MS)
    weight_per_minute = models.PositiveIntegerField(default=RETAIL_WEIGHT_PER_MINUTE)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Staff's suspension (the admin's "Disable"): reversible, unlike a
    # revocation; the key answers AUTH_KEY_DISABLED while it is set.
    disabled_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The client address of that use (written with last_used_at, at most once
    # a minute per key: apps/apikeys/auth.py).
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(drift_ms__gte=MIN_DRIFT_MS) & Q(drift_ms__lte=MAX_DRIFT_MS),
                name="apikey_drift_range",
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def rate_tier(self) -> str:
        """The key's rate-limit tier in words, e.g. "retail (1,200 weight/min)"."""
        name = {
            RETAIL_WEIGHT_PER_MINUTE: "retail",
            MARKET_MAKER_WEIGHT_PER_MINUTE: "market maker",
        }.get(self.weight_per_minute, "custom")
        return f"{name} ({self.weight_per_minute:,} weight/min)"

    def has_scope(self, needed: str) -> bool:
        return SCOPE_RANK[Scope(self.scope)] >= SCOPE_RANK[Scope(needed)]


class ApiKeyChange(models.Model):
    """One change to a key (created, edited, revoked), by its owner or by
    staff: who, when, from which address, and what changed (field names and
    new values; never the secret). Written only by apps/apikeys/services.py,
    in the transaction of the change itself."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        REVOKED = "revoked", "Revoked"
        DISABLED = "disabled", "Disabled"
        ENABLED = "enabled", "Enabled"

    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, related_name="changes"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    by_staff = models.BooleanField(default=False)
    ip = models.GenericIPAddressField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.api_key_id} {self.action} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def summary(self) -> str:
        """The change in words, e.g. "drift_ms: 2000; scope: trade" (by field
        name: jsonb does not keep the keys' order)."""

        def text(value: object) -> str:
            if isinstance(value, list):
                return ", ".join(map(str, value)) or "(empty)"
            return str(value)

        return "; ".join(
            f"{name}: {text(value)}" for name, value in sorted(self.changes.items())
        )
