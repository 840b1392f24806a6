"""Every /v1 endpoint, gathered from the apps' api/urls.py."""

from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from apps.core.api.views import HealthView

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path(
        "docs", SpectacularSwaggerSplitView.as_view(url_name="openapi"), name="api-docs"
    ),
    path("", include("apps.apikeys.api.urls")),
    path("", include("apps.orders.api.urls")),
    path("", include("apps.markets.api.urls")),
    path("", include("apps.accounts.api.urls")),
]

# Sandbox-only routes (faucet): absent in production, not disabled.
if settings.EXCHANGE_ENV == "sandbox":
    urlpatterns += [path("", include("apps.accounts.api.sandbox_urls"))]
