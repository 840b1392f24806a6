"""Sandbox fault injection: the ``X-Sandbox-Scenario`` request header
(docs/sandbox.md, "Fault injection").

Sandbox only. In production the header is ignored: nothing reads it, so a bot
that keeps sending it there trades normally (a refusal would turn a leftover
test setting into an outage). In the sandbox a signed REST request may name
one scenario; it is read after authentication, the IP allow-list and the
scope (so the request must be a good one) and before the rate limit (so the
scenarios' refusals are not charged, like the real ones).

- ``rate_limited``, ``overloaded``: any signed endpoint (here and in
  ``apps.apikeys.api.base``).
- ``execution_unknown``, ``partial_fill``, ``reject_insufficient_funds``:
  ``POST /v1/orders`` only (``apps.orders.scenarios``).

An unknown name, or one that does not apply to the endpoint, is
``400 VALIDATION_SANDBOX_SCENARIO``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.conf import settings

from apps.core.errors import DomainError, ErrorCode

HEADER = "X-Sandbox-Scenario"
_META = "HTTP_X_SANDBOX_SCENARIO"

RATE_LIMITED = "rate_limited"
OVERLOADED = "overloaded"
EXECUTION_UNKNOWN = "execution_unknown"
PARTIAL_FILL = "partial_fill"
REJECT_INSUFFICIENT_FUNDS = "reject_insufficient_funds"

GENERIC_SCENARIOS = (RATE_LIMITED, OVERLOADED)
ORDER_SCENARIOS = (EXECUTION_UNKNOWN, PARTIAL_FILL, REJECT_INSUFFICIENT_FUNDS)
SCENARIOS = GENERIC_SCENARIOS + ORDER_SCENARIOS


def scenarios_enabled() -> bool:
    return settings.EXCHANGE_ENV == "sandbox"


def invalid_scenario(message: str, **details: Any) -> DomainError:
    return DomainError(
        message, code=ErrorCode.VALIDATION_SANDBOX_SCENARIO, details=details
    )


def requested_scenario(
    meta: Mapping[str, Any], *, applicable: Collection[str] = ()
) -> str | None:
    """The scenario this request asks for, or None (no header, or not the
    sandbox). ``applicable``: the endpoint's own scenarios, besides the
    generic ones. Raises VALIDATION_SANDBOX_SCENARIO for an unknown name or
    one that does not apply here."""
    if not scenarios_enabled():
        return None
    raw = meta.get(_META)
    if raw is None:
        return None
    name = str(raw).strip().lower()
    if name not in SCENARIOS:
        raise invalid_scenario(
            f"Unknown {HEADER} {str(raw)[:40]!r}; use one of {', '.join(SCENARIOS)}.",
            scenario=str(raw)[:40],
            scenarios=list(SCENARIOS),
        )
    allowed = [*GENERIC_SCENARIOS, *applicable]
    if name not in allowed:
        raise invalid_scenario(
            f"{name} applies to POST /v1/orders only; here: {', '.join(allowed)}.",
            scenario=name,
            scenarios=allowed,
        )
    return name


def overloaded_error() -> DomainError:
    """What ``overloaded`` answers: the matcher-queue-full refusal (503,
    Retry-After added by the exception handler)."""
    return DomainError(
        "Sandbox scenario overloaded: the service is overloaded; retry shortly.",
        code=ErrorCode.SYSTEM_OVERLOADED,
        details={"scenario": OVERLOADED},
    )
