"""Every /v1 endpoint, gathered from the apps' api/urls.py."""

from django.urls import include, path

from apps.core.api.views import HealthView

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("", include("apps.apikeys.api.urls")),
]
