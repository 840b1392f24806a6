"""What a verified key may do: from which addresses, with which scope."""

from __future__ import annotations

from django.http import HttpRequest

from apps.apikeys.errors import IpNotAllowed, ScopeMissing
from apps.apikeys.ip import IPAddress, address_allowed, client_address
from apps.apikeys.models import ApiKey, Scope


def check_ip(api_key: ApiKey, request: HttpRequest) -> None:
    """PERMISSION_IP_NOT_ALLOWED unless the client address is allowed.

    An empty allow-list allows any address for a read key only; a trade or
    withdraw key without a list (which the services refuse to create, but an
    old row could have) fails closed.
    """
    check_ip_address(api_key, client_address(request))


def check_ip_address(api_key: ApiKey, address: IPAddress | None) -> None:
    """``check_ip`` for a client address already determined."""
    seen = str(address) if address is not None else None
    if not api_key.ip_allowlist:
        if api_key.scope == Scope.READ:
            return
        raise IpNotAllowed(
            f"This {api_key.scope} key has no IP allow-list; add one to use it.",
            details={"ip": seen},
        )
    if not address_allowed(address, api_key.ip_allowlist):
        raise IpNotAllowed(
            f"Requests from {seen} are not allowed for this key.",
            details={"ip": seen},
        )


def check_scope(api_key: ApiKey, required: str) -> None:
    """PERMISSION_SCOPE_MISSING unless the key's scope includes ``required``
    (withdraw > trade > read)."""
    if not api_key.has_scope(required):
        raise ScopeMissing(
            f"This endpoint needs a {required} key; this key is {api_key.scope}.",
            details={"required_scope": required, "key_scope": api_key.scope},
        )
