"""``python manage.py createapikey USER --scopes read,trade --ips 127.0.0.1/32``

Prints the key and its secret once (``--json``: ``{"key": ..., "secret": ...}``).
A list of scopes means the highest of them (scopes nest).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.apikeys.models import DEFAULT_DRIFT_MS
from apps.apikeys.services import apikey_create
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for USER and print its secret (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="username of the key's owner")
        parser.add_argument(
            "--scopes",
            default="read",
            help="read, trade or withdraw; a comma list means the highest",
        )
        parser.add_argument(
            "--ips",
            default="",
            help="comma-separated addresses or CIDR networks (required for trade/withdraw)",
        )
        parser.add_argument("--drift-ms", type=int, default=DEFAULT_DRIFT_MS)
        parser.add_argument("--label", default="")
        parser.add_argument(
            "--weight-per-minute",
            type=int,
            default=None,
            help="rate budget (default retail 1200)",
        )
        parser.add_argument(
            "--json", action="store_true", help='print {"key": ..., "secret": ...}'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User._default_manager.get_by_natural_key(options["user"])
        except User.DoesNotExist:
            raise CommandError(f"No user {options['user']!r}.") from None
        try:
            api_key, secret = apikey_create(
                user=user,
                scope=[s for s in options["scopes"].split(",") if s.strip()],
                ip_allowlist=[ip for ip in options["ips"].split(",") if ip.strip()],
                drift_ms=options["drift_ms"],
                label=options["label"],
                weight_per_minute=options["weight_per_minute"],
            )
        except DomainError as exc:
            fields = exc.details.get("fields") or {}
            reasons = "; ".join(str(m) for msgs in fields.values() for m in msgs)
            raise CommandError(reasons or exc.message) from None
        if options["json"]:
            self.stdout.write(json.dumps({"key": api_key.key, "secret": secret}))
            return
        self.stdout.write(f"key:    {api_key.key}")
        self.stdout.write(f"secret: {secret}")
        self.stdout.write(
            f"scope {api_key.scope}, ips {', '.join(api_key.ip_allowlist) or 'any'}, "
            f"drift {api_key.drift_ms} ms. The secret is not shown again."
        )
