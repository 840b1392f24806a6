"""Account endpoints: balances, transfers between own wallets, withdrawals.
Thin views over apps.accounts services and selectors."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts import selectors
from apps.accounts.api import serializers as s
from apps.accounts.api.examples import BALANCES
from apps.accounts.faucet import faucet_claim
from apps.accounts.services import balance_transfer
from apps.accounts.withdrawals import withdrawal_request
from apps.apikeys.api.base import SignedAPIView
from apps.core.api.formats import iso_utc
from apps.core.errors import ErrorCode
from apps.core.money import format_units, parse_units
from apps.markets.selectors import asset_get


def _ledger_ref(request: Request) -> str:
    """The request id, so a ledger entry leads to the request's logs."""
    return f"api:{getattr(request, 'request_id', '')}"[:64]


class BalanceListView(SignedAPIView):
    """Spot, margin and earn balances by asset: available, held, total."""

    required_scope = "read"
    rate_weight = 5
    error_codes = ()

    @extend_schema(
        operation_id="account_balances",
        tags=["account"],
        responses=s.BalancesOutputSerializer,
        examples=BALANCES,
    )
    def get(self, request: Request) -> Response:
        wallets = selectors.balances_by_wallet(user_id=request.user.pk)
        return Response(s.BalancesOutputSerializer(wallets).data)


class TransferCreateView(SignedAPIView):
    """Move available funds between two of your own wallets."""

    required_scope = "trade"
    rate_weight = 1
    error_codes = (
        ErrorCode.ACCOUNT_ASSET_NOT_FOUND,
        ErrorCode.ACCOUNT_INVALID_TRANSFER,
        ErrorCode.ACCOUNT_INSUFFICIENT_FUNDS,
        ErrorCode.VALIDATION_INVALID_DECIMAL,
        ErrorCode.VALIDATION_TOO_MANY_DECIMALS,
        ErrorCode.VALIDATION_OUT_OF_RANGE,
    )

    @extend_schema(
        operation_id="account_transfer",
        tags=["account"],
        request=s.TransferInputSerializer,
        responses=s.TransferOutputSerializer,
    )
    def post(self, request: Request) -> Response:
        data = s.TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        asset = asset_get(code=v["asset"])
        amount = parse_units(v["amount"], asset.scale, field="amount")
        source, destination = balance_transfer(
            user=request.user,
            asset=asset,
            amount=amount,
            from_wallet=v["from_wallet"],
            to_wallet=v["to_wallet"],
            ref=_ledger_ref(request),
        )
        body = {
            "asset": asset.code,
            "amount": format_units(amount, asset.scale),
            "source": source,
            "destination": destination,
        }
        return Response(
            s.TransferOutputSerializer(body, context={"scale": asset.scale}).data
        )


class WithdrawalCreateView(SignedAPIView):
    """Request a withdrawal: the amount is held at once and debited when the withdrawal completes."""

    required_scope = "withdraw"
    rate_weight = 10
    error_codes = (
        ErrorCode.ACCOUNT_ASSET_NOT_FOUND,
        ErrorCode.ACCOUNT_WITHDRAWALS_DISABLED,
        ErrorCode.ACCOUNT_INSUFFICIENT_FUNDS,
        ErrorCode.VALIDATION_INVALID_DECIMAL,
        ErrorCode.VALIDATION_TOO_MANY_DECIMALS,
        ErrorCode.VALIDATION_OUT_OF_RANGE,
    )

    @extend_schema(
        operation_id="withdrawal_create",
        tags=["account"],
        request=s.WithdrawalCreateInputSerializer,
        responses={201: s.WithdrawalOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = s.WithdrawalCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        asset = asset_get(code=v["asset"])
        amount = parse_units(v["amount"], asset.scale, field="amount")
        withdrawal = withdrawal_request(
            user=request.user,
            asset=asset,
            amount=amount,
            address=v["address"],
            wallet=v["wallet"],
        )
        withdrawal.refresh_from_db()  # an eager sandbox task may have completed it
        return Response(s.WithdrawalOutputSerializer(withdrawal).data, status=201)


class WithdrawalDetailView(SignedAPIView):
    """One of your withdrawals and its state."""

    required_scope = "read"
    rate_weight = 1
    error_codes = (ErrorCode.ACCOUNT_WITHDRAWAL_NOT_FOUND,)

    @extend_schema(
        operation_id="withdrawal_get",
        tags=["account"],
        parameters=[OpenApiParameter("withdrawal_id", str, "path")],
        responses=s.WithdrawalOutputSerializer,
    )
    def get(self, request: Request, withdrawal_id: str) -> Response:
        withdrawal = selectors.withdrawal_get_for_user(
            user_id=request.user.pk, withdrawal_id=withdrawal_id
        )
        return Response(s.WithdrawalOutputSerializer(withdrawal).data)


class FaucetClaimView(SignedAPIView):
    """Sandbox only: credit testnet funds to your spot wallet (a few claims a day)."""

    required_scope = "trade"
    rate_weight = 10
    error_codes = (
        ErrorCode.ACCOUNT_ASSET_NOT_FOUND,
        ErrorCode.ACCOUNT_FAUCET_CAP_EXCEEDED,
        ErrorCode.RATE_LIMIT_FAUCET_DAILY,
        ErrorCode.VALIDATION_INVALID_DECIMAL,
        ErrorCode.VALIDATION_TOO_MANY_DECIMALS,
        ErrorCode.VALIDATION_OUT_OF_RANGE,
    )

    @extend_schema(
        operation_id="sandbox_faucet",
        tags=["sandbox"],
        request=s.FaucetClaimInputSerializer,
        responses=s.FaucetClaimOutputSerializer,
    )
    def post(self, request: Request) -> Response:
        data = s.FaucetClaimInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        asset = asset_get(code=v["asset"]) if "asset" in v else None
        claim = faucet_claim(user=request.user, asset=asset, amount=v.get("amount"))
        body = {
            "credited": [
                {
                    "asset": a.code,
                    "amount": format_units(units, a.scale),
                    "wallet": balance.wallet,
                    "available": format_units(balance.available, a.scale),
                }
                for a, units, balance in claim.credited
            ],
            "claims_today": claim.claims_today,
            "claims_per_day": claim.claims_per_day,
            "resets_at": iso_utc(claim.resets_at, "seconds"),
        }
        return Response(s.FaucetClaimOutputSerializer(body).data)
