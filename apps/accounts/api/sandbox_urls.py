"""/v1/sandbox/...: included by exchange/api_urls.py in the sandbox only, so
in production these paths do not exist (404 NOT_FOUND like any unknown path)."""

from django.urls import path

from apps.accounts.api.views import FaucetClaimView

urlpatterns = [
    path("sandbox/faucet", FaucetClaimView.as_view(), name="sandbox-faucet"),
]
