"""Credit a deposit through the money service (for operators and scripts)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import Wallet
from apps.accounts.services import balance_deposit
from apps.core.errors import DomainError
from apps.core.money import format_units, parse_units
from apps.markets.selectors import asset_get


class Command(BaseCommand):
    help = "Credit AMOUNT (a decimal string, e.g. 0.5) of ASSET to USER's wallet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user")
        parser.add_argument("asset")
        parser.add_argument("amount")
        parser.add_argument("--wallet", default=Wallet.SPOT, choices=Wallet.values)
        parser.add_argument("--ref", default="", help="External reference (tx id).")

    def handle(self, *args: object, **opts: str) -> None:
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"No user {opts['user']!r}.")
        try:
            asset = asset_get(code=opts["asset"])
            units = parse_units(opts["amount"], asset.scale, field="amount")
            balance = balance_deposit(
                user=user,
                asset=asset,
                amount=units,
                wallet=opts["wallet"],
                ref=opts["ref"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"deposited {format_units(units, asset.scale)} {asset.code} to "
            f"{user.get_username()} ({opts['wallet']}); available "
            f"{format_units(balance.available, asset.scale)}"
        )
