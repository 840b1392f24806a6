"""Account shapes on the wire: every amount a decimal string in the asset's
units (exactly ``scale`` decimals)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import Balance, Wallet, Withdrawal, WithdrawalStatus
from apps.accounts.selectors import WalletBalance
from apps.core.api.fields import NamedChoiceField
from apps.core.api.serializers import StrictInputSerializer
from apps.core.money import format_units

ASSET_CODE_RE = r"\A[A-Za-z0-9]{1,16}\Z"


@extend_schema_field(OpenApiTypes.STR)
class DecimalStringField(serializers.Field):
    """An amount as a decimal string ("0.5"). The JSON value passes through
    untouched so that ``apps.core.money.parse_units`` judges it: a JSON number
    or "1e-3" is VALIDATION_INVALID_DECIMAL, never coerced."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class StrictCharField(serializers.CharField):
    """A CharField that refuses JSON numbers and booleans instead of turning
    them into text (an address or asset code is never a number)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    pass


class WalletField(NamedChoiceField):
    """spot | margin | earn, one ``Wallet`` component in the schema."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Wallet.values, component="Wallet", **kwargs)


def _asset_field() -> serializers.RegexField:
    return StrictRegexField(ASSET_CODE_RE, help_text="Asset code, e.g. BTC.")


# ----------------------------------------------------------------- balances


class WalletAssetBalanceOutputSerializer(serializers.Serializer):
    asset = serializers.CharField()
    available = serializers.CharField()
    held = serializers.CharField(
        help_text="Reserved by open orders and pending withdrawals."
    )
    total = serializers.CharField(help_text="available + held.")

    def to_representation(self, row: WalletBalance) -> dict[str, Any]:
        scale = row.asset.scale
        return {
            "asset": row.asset.code,
            "available": format_units(row.available, scale),
            "held": format_units(row.held, scale),
            "total": format_units(row.total, scale),
        }


class BalancesOutputSerializer(serializers.Serializer):
    """One list per wallet, every asset in each (zeros included), by code."""

    spot = WalletAssetBalanceOutputSerializer(many=True)
    margin = WalletAssetBalanceOutputSerializer(many=True)
    earn = WalletAssetBalanceOutputSerializer(many=True)


# ----------------------------------------------------------------- transfers


class TransferInputSerializer(StrictInputSerializer):
    asset = _asset_field()
    amount = DecimalStringField(help_text='Decimal string, e.g. "0.25".')
    from_wallet = WalletField()
    to_wallet = WalletField()


class TransferBalanceOutputSerializer(serializers.Serializer):
    wallet = WalletField()
    available = serializers.CharField()
    held = serializers.CharField()
    total = serializers.CharField()

    def to_representation(self, balance: Balance) -> dict[str, Any]:
        scale = self.context["scale"]
        return {
            "wallet": balance.wallet,
            "available": format_units(balance.available, scale),
            "held": format_units(balance.held, scale),
            "total": format_units(balance.total, scale),
        }


class TransferOutputSerializer(serializers.Serializer):
    """The amount moved and both resulting balances of the asset."""

    asset = serializers.CharField()
    amount = serializers.CharField()
    source = TransferBalanceOutputSerializer(help_text="The from_wallet balance after.")
    destination = TransferBalanceOutputSerializer(
        help_text="The to_wallet balance after."
    )


# ----------------------------------------------------------------- withdrawals


class WithdrawalCreateInputSerializer(StrictInputSerializer):
    asset = _asset_field()
    amount = DecimalStringField(help_text='Decimal string, e.g. "0.25".')
    address = StrictCharField(
        max_length=128,
        trim_whitespace=False,
        help_text="Destination address: 8-128 characters of [A-Za-z0-9:._-].",
    )
    wallet = WalletField(default=Wallet.SPOT)


class WithdrawalOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    asset = serializers.CharField()
    wallet = WalletField()
    amount = serializers.CharField()
    address = serializers.CharField()
    status = serializers.ChoiceField(
        choices=WithdrawalStatus.values,
        help_text="pending (amount held), completed (sent), failed (amount released).",
    )
    txid = serializers.CharField(allow_null=True, help_text="Set once completed.")
    failure_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, withdrawal: Withdrawal) -> dict[str, Any]:
        field = serializers.DateTimeField()
        done = withdrawal.done_at
        return {
            "id": str(withdrawal.uuid),
            "asset": withdrawal.asset.code,
            "wallet": withdrawal.wallet,
            "amount": format_units(withdrawal.amount, withdrawal.asset.scale),
            "address": withdrawal.address,
            "status": withdrawal.status,
            "txid": withdrawal.txid or None,
            "failure_reason": withdrawal.failure_reason or None,
            "created_at": field.to_representation(withdrawal.created_at),
            "done_at": field.to_representation(done) if done else None,
        }


# ----------------------------------------------------------------- sandbox faucet


class FaucetClaimInputSerializer(StrictInputSerializer):
    """Both fields optional: no body tops up every faucet asset."""

    asset = StrictRegexField(
        ASSET_CODE_RE,
        required=False,
        help_text="Asset code, e.g. BTC. Omitted: the default top-up of every "
        "faucet asset.",
    )
    amount = DecimalStringField(
        required=False,
        help_text='Decimal string, at most the asset\'s cap per claim (BTC "10", '
        'ETH "200", USD "1000000"). Omitted: the asset\'s default top-up.',
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "amount" in attrs and "asset" not in attrs:
            raise serializers.ValidationError({"asset": ["Give the amount's asset."]})
        return attrs


class FaucetCreditOutputSerializer(serializers.Serializer):
    asset = serializers.CharField()
    amount = serializers.CharField(help_text="Credited, decimal string.")
    wallet = WalletField()
    available = serializers.CharField(help_text="The spot balance available after.")


class FaucetClaimOutputSerializer(serializers.Serializer):
    credited = FaucetCreditOutputSerializer(many=True)
    claims_today = serializers.IntegerField(
        help_text="This account's claims in the current UTC day, this one included."
    )
    claims_per_day = serializers.IntegerField()
    resets_at = serializers.CharField(
        help_text="When the day's count restarts (ISO 8601, UTC, next 00:00)."
    )
