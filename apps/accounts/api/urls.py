from django.urls import path

from apps.accounts.api.views import (
    BalanceListView,
    TransferCreateView,
    WithdrawalCreateView,
    WithdrawalDetailView,
)

urlpatterns = [
    path("account/balances", BalanceListView.as_view(), name="account-balances"),
    path("account/transfers", TransferCreateView.as_view(), name="account-transfers"),
    path("withdrawals", WithdrawalCreateView.as_view(), name="withdrawal-create"),
    path(
        "withdrawals/<str:withdrawal_id>",
        WithdrawalDetailView.as_view(),
        name="withdrawal-detail",
    ),
]
