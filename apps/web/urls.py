from django.conf import settings
from django.contrib.auth import views as django_auth_views
from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from apps.accounts.faucet import faucet_enabled
from apps.web import account_views, auth_views, market_views, views

app_name = "web"
urlpatterns = [
    # Browsers ask for /favicon.ico on pages without a <link rel=icon> (the admin).
    path("favicon.ico", RedirectView.as_view(url=static("web/favicon.svg"))),
    path("", market_views.markets_overview, name="home"),
    path("markets/<str:symbol>", market_views.market_page, name="market"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path(
        "logout/",
        django_auth_views.LogoutView.as_view(next_page="web:home"),
        name="logout",
    ),
    path(
        "settings/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password-change",
    ),
    path(
        "settings/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password-change-done",
    ),
    path("account/balances/", account_views.balances, name="balances"),
    path("account/orders/", account_views.orders, name="orders"),
    path(
        "account/orders/cancel-all",
        account_views.orders_cancel_all_view,
        name="orders-cancel-all",
    ),
    path(
        "account/orders/<str:order_id>/cancel",
        account_views.order_cancel_view,
        name="order-cancel",
    ),
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
# The sandbox faucet's button: absent in production, like /v1/sandbox/faucet.
if faucet_enabled():
    urlpatterns += [
        path("account/balances/faucet", account_views.faucet, name="faucet")
    ]
