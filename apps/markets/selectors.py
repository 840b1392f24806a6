"""Reads of assets and pairs."""

from __future__ import annotations

from apps.core.errors import DomainError, ErrorCode
from apps.markets.models import Asset, Pair


def pair_get(*, symbol: str) -> Pair:
    """The pair by symbol (case-insensitive), or MARKET_NOT_FOUND."""
    pair = Pair.objects.select_related("base", "quote").filter(symbol=symbol.upper()).first()
    if pair is None:
        raise DomainError(
            f"No market {symbol[:32]!r}.", code=ErrorCode.MARKET_NOT_FOUND,
            details={"pair": symbol[:32]},
        )
    return pair


def asset_get(*, code: str) -> Asset:
    asset = Asset.objects.filter(code=code.upper()).first()
    if asset is None:
        raise DomainError(
            f"No asset {code[:16]!r}.", code=ErrorCode.ACCOUNT_ASSET_NOT_FOUND,
            details={"asset": code[:16]},
        )
    return asset
