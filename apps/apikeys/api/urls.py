from django.urls import path

from apps.apikeys.api.views import AccountApiKeyView, ServerTimeView

urlpatterns = [
    path("time", ServerTimeView.as_view(), name="time"),
    path("account/api-key", AccountApiKeyView.as_view(), name="account-api-key"),
]
