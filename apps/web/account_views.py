"""Account holders' balances and orders pages: thin views over the same
selectors and services as the REST API (``/v1/account/...``, ``/v1/orders``),
so a page and a bot always see and do the same thing."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.faucet import faucet_claim, faucet_enabled
from apps.accounts.selectors import balances_by_wallet
from apps.accounts.services import balance_transfer
from apps.core.errors import DomainError
from apps.core.money import format_units, parse_units
from apps.markets.selectors import asset_get, pair_get, pair_list
from apps.orders.cancels import order_cancel, orders_cancel_all
from apps.orders.models import Order, Trade
from apps.orders.selectors import (
    fills_for_user,
    order_get_for_user,
    orders_for_user,
)
from apps.orders.wire import order_body, trade_fill_body
from apps.web.forms import OrderFilterForm, TransferForm

ORDERS_PER_PAGE = 50


# ------------------------------------------------------------------ balances


def _wallet_rows(user_id: int) -> list[dict[str, Any]]:
    """Each wallet's balances as decimal strings, the assets it holds first."""
    wallets = []
    for wallet, balances in balances_by_wallet(user_id=user_id).items():
        rows = [
            {
                "asset": b.asset.code,
                "available": format_units(b.available, b.asset.scale),
                "held": format_units(b.held, b.asset.scale),
                "total": format_units(b.total, b.asset.scale),
                "empty": b.total == 0,
            }
            for b in balances
        ]
        rows.sort(key=lambda row: (row["empty"], row["asset"]))
        wallets.append({"name": wallet, "rows": rows})
    return wallets


@login_required
def balances(request: HttpRequest) -> HttpResponse:
    """Spot, margin and earn balances by asset; POST moves funds between the
    user's own wallets (``balance_transfer``, as ``POST /v1/account/transfers``)."""
    wallets = _wallet_rows(request.user.pk)
    assets = [row["asset"] for row in wallets[0]["rows"]] if wallets else []
    form = TransferForm(request.POST or None, assets=sorted(assets))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            asset = asset_get(code=data["asset"])
            amount = parse_units(data["amount"], asset.scale, field="amount")
            balance_transfer(
                user=request.user,
                asset=asset,
                amount=amount,
                from_wallet=data["from_wallet"],
                to_wallet=data["to_wallet"],
                ref="web",
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                f"Moved {format_units(amount, asset.scale)} {asset.code} from "
                f"{data['from_wallet']} to {data['to_wallet']}.",
            )
            return redirect("web:balances")
    return render(
        request,
        "web/balances.html",
        {"wallets": wallets, "form": form, "faucet": faucet_enabled()},
    )


@login_required
@require_POST
def faucet(request: HttpRequest) -> HttpResponse:
    """The sandbox faucet's default top-up (``faucet_claim``, as
    ``POST /v1/sandbox/faucet``); routed only in the sandbox."""
    if not faucet_enabled():  # belt and braces: the route is absent in production
        raise Http404("No faucet here.")
    try:
        claim = faucet_claim(user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        funds = ", ".join(
            f"{format_units(amount, asset.scale)} {asset.code}"
            for asset, amount, _ in claim.credited
        )
        messages.success(
            request,
            f"Credited {funds} (claim {claim.claims_today} of "
            f"{claim.claims_per_day} today).",
        )
    return redirect("web:balances")


# -------------------------------------------------------------------- orders


def _fill_rows(user_id: int, trades: list[Trade]) -> dict[str, list[dict[str, Any]]]:
    """The user's side of each trade (as ``GET /v1/fills``), by order id."""
    by_order: dict[str, list[dict[str, Any]]] = {}
    for trade in trades:
        body = trade_fill_body(trade, user_id=user_id)
        body["time"] = trade.created_at
        by_order.setdefault(body["order_id"], []).append(body)
    return by_order


def _order_rows(user_id: int, orders: list[Order]) -> list[dict[str, Any]]:
    trades = list(fills_for_user(user=user_id, orders=orders)) if orders else []
    fills = _fill_rows(user_id, trades)
    rows = []
    for order in orders:
        body = order_body(order, order.pair)
        body["created"] = order.created_at
        body["fills"] = list(reversed(fills.get(body["id"], [])))
        body["pk"] = order.pk
        rows.append(body)
    return rows


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    """Open orders (each with a cancel button) and the order history with its
    fills, filtered by pair, status and side, 50 a page (newest first)."""
    symbols = [p.symbol for p in pair_list()]
    form = OrderFilterForm(request.GET or None, pairs=symbols)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        if data["pair"]:
            filters["pair_id"] = pair_get(symbol=data["pair"]).pk
        filters["status"] = data["status"] or None
        filters["side"] = data["side"] or None
        filters["before_id"] = data["before"]
    user = request.user
    live = list(orders_for_user(user=user, status="live")[:200])
    history = list(orders_for_user(user=user, **filters)[: ORDERS_PER_PAGE + 1])
    more = len(history) > ORDERS_PER_PAGE
    history = history[:ORDERS_PER_PAGE]
    query = request.GET.copy()
    if more:
        query["before"] = str(history[-1].pk)
    return render(
        request,
        "web/orders.html",
        {
            "live": _order_rows(user.pk, live),
            "history": _order_rows(user.pk, history),
            "form": form,
            "next_query": query.urlencode() if more else "",
        },
    )


@login_required
@require_POST
def order_cancel_view(request: HttpRequest, order_id: str) -> HttpResponse:
    """Cancel one of the user's orders (``order_cancel``, as
    ``POST /v1/orders/{id}/cancel``): the matcher takes it off the book."""
    try:
        order = order_get_for_user(user=request.user, order_ref=order_id)
        result = order_cancel(order=order)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        text = {
            "requested": f"Cancel requested for order {order.uuid}.",
        }.get(result, f"Order {order.uuid} is {result.replace('_', ' ')}.")
        messages.success(request, text)
    return redirect("web:orders")


@login_required
@require_POST
def orders_cancel_all_view(request: HttpRequest) -> HttpResponse:
    requested = orders_cancel_all(user=request.user)
    messages.success(request, f"Cancel requested for {len(requested)} open orders.")
    return redirect("web:orders")
