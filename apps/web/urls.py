from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from apps.web import market_views, views

app_name = "web"
urlpatterns = [
    path("", market_views.markets_overview, name="home"),
    path("markets/<str:symbol>", market_views.market_page, name="market"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:home"), name="logout"),
    path("settings/api-keys/", views.api_keys, name="api-keys"),
    path("settings/api-keys/<str:key>/", views.api_key_edit, name="api-key-edit"),
    path(
        "settings/api-keys/<str:key>/revoke",
        views.api_key_revoke,
        name="api-key-revoke",
    ),
]

# Absent, not disabled, when sign-up is off (production's default).
if settings.SIGNUP_ENABLED:
    urlpatterns += [path("signup/", views.signup, name="signup")]
