"""Log-in with throttling, and the password change pages (Django's own
views; only the throttle is ours, apps/web/throttle.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy

from apps.web.throttle import login_blocked_for, login_failed

TOO_MANY = "Too many failed log-ins; try again in {wait} s."


class LoginView(auth_views.LoginView):
    """Django's log-in; while the username or the address has used up its
    failed attempts (LOGIN_THROTTLE_*), the form is refused with 429 and a
    Retry-After, without checking the password at all."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        wait = login_blocked_for(request, username)
        if wait:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, TOO_MANY.format(wait=wait))
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        login_failed(self.request, str(self.request.POST.get("username", "")))
        return super().form_invalid(form)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("web:password-change-done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"
