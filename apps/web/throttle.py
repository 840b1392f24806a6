"""Log-in throttling: failed attempts per username and per client address,
counted in the shared cache by the API's own rate limiter (so every server
process sees one count, on Redis and on the database cache alike). A success
costs nothing; past either limit the form answers 429 until the window ends."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from apps.apikeys import ratelimit


def _budgets(request: HttpRequest, username: str) -> list[ratelimit.Budget]:
    period = settings.LOGIN_THROTTLE_PERIOD_S
    return [
        ratelimit.Budget(
            "web.login.user",
            username.strip().lower()[:150],
            settings.LOGIN_THROTTLE_PER_USER,
            period,
        ),
        ratelimit.Budget(
            "web.login.ip",
            ratelimit.ip_bucket(request),
            settings.LOGIN_THROTTLE_PER_IP,
            period,
        ),
    ]


def login_blocked_for(request: HttpRequest, username: str) -> int:
    """Seconds until a log-in may be tried again, 0 if it may now."""
    waits = [
        usage.retry_after()
        for budget in _budgets(request, username)
        if (usage := ratelimit.peek(budget, 0)).used >= budget.limit
    ]
    return max(waits, default=0)


def login_failed(request: HttpRequest, username: str) -> None:
    for budget in _budgets(request, username):
        ratelimit.charge(budget, 1)
