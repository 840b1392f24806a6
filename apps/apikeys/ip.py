"""Client addresses and IP allow-lists.

The client address is ``REMOTE_ADDR``. ``X-Forwarded-For`` is believed only when
the peer itself is one of ``settings.TRUSTED_PROXIES``: then we walk the header
from the right (each proxy appends the address it saw) and take the first
address that is not itself a trusted proxy. Everything to the left of that was
written by the client and could be forged, so it is never read.

IPv4-mapped IPv6 addresses (``::ffff:10.0.0.1``, what a dual-stack socket
reports for an IPv4 peer) are treated as the IPv4 address, both in requests and
in allow-lists, so ``10.0.0.0/8`` matches them.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from apps.core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_ALLOWLIST_ENTRIES = 100
_MAPPED_V6 = ipaddress.IPv6Network("::ffff:0:0/96")


def normalize_address(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 becomes IPv4; an IPv6 zone (``%eth0``) is dropped."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


def normalize_network(network: IPNetwork) -> IPNetwork:
    """A network inside ``::ffff:0:0/96`` becomes the IPv4 network it maps."""
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED_V6):
        v4 = normalize_address(network.network_address)
        return ipaddress.IPv4Network(f"{v4}/{network.prefixlen - 96}")
    return network


def parse_address(text: str) -> IPAddress | None:
    """One address as found in REMOTE_ADDR or X-Forwarded-For, or None.

    Accepts the ``[v6]:port`` and ``v4:port`` forms some proxies write.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has two colons or more
        text = text.split(":", 1)[0]
    try:
        return normalize_address(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_network(text: str) -> IPNetwork:
    """An allow-list entry: one address or a CIDR network. Raises ValueError."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a string")
    text = text.strip()
    if "/" not in text:
        address = ipaddress.ip_address(text)
        return ipaddress.ip_network(address)
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        loose = ipaddress.ip_network(text, strict=False)  # raises if not a network
        raise ValueError(f"{text} has host bits set; did you mean {loose}?") from None


def canonical_entry(network: IPNetwork) -> str:
    """How an entry is stored: a plain address for a single host, else CIDR."""
    network = normalize_network(network)
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def clean_allowlist(entries: Any) -> list[str]:
    """Validate and canonicalise an allow-list; raises ValidationFailed.

    Rejects a ``/0`` network: it allows every address, which is what an empty
    list means, and only read keys may have that.
    """
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = [part for part in entries.replace(",", " ").split() if part]
    if not isinstance(entries, list | tuple):
        raise _invalid(["Give a list of addresses or CIDR networks."])
    cleaned: list[str] = []
    problems: list[str] = []
    for entry in entries:
        try:
            network = parse_network(entry)
        except ValueError as exc:
            problems.append(
                str(exc) if "/" in str(entry) else f"{entry!r} is not an IP address"
            )
            continue
        if network.prefixlen == 0:
            problems.append(f"{entry} allows every address; list your addresses.")
            continue
        canonical = canonical_entry(network)
        if canonical not in cleaned:
            cleaned.append(canonical)
    if problems:
        raise _invalid(problems)
    if len(cleaned) > MAX_ALLOWLIST_ENTRIES:
        raise _invalid([f"At most {MAX_ALLOWLIST_ENTRIES} entries."])
    return cleaned


def _invalid(messages: list[str]) -> ValidationFailed:
    return ValidationFailed(
        "Invalid IP allow-list.", details={"fields": {"ip_allowlist": messages}}
    )


def allowlist_networks(entries: Iterable[str]) -> list[IPNetwork]:
    """Stored entries as networks (entries were validated when saved)."""
    return [normalize_network(parse_network(entry)) for entry in entries]


def address_allowed(address: IPAddress | None, entries: Sequence[str]) -> bool:
    """Whether ``address`` is inside one of ``entries`` (an empty list: no)."""
    if address is None:
        return False
    address = normalize_address(address)
    return any(address in network for network in _networks(tuple(entries)))


@functools.lru_cache(maxsize=1024)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(allowlist_networks(entries))


@functools.lru_cache(maxsize=8)
def _trusted(setting: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(normalize_network(parse_network(entry)) for entry in setting)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from exc


def trusted_proxies() -> tuple[IPNetwork, ...]:
    return _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _is_trusted(address: IPAddress, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in proxies)


def client_address(request: HttpRequest) -> IPAddress | None:
    """The client's address (see the module docstring), None if unknown."""
    return address_from(
        request.META.get("REMOTE_ADDR") or "",
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
    )


def change_author(request: HttpRequest) -> dict[str, Any]:
    """Who makes a change, as the ``actor`` and ``ip`` keyword arguments of
    the services that record one (``apikey_create``, ``apikey_update``,
    ``apikey_revoke``, ``account_set_tier``): the signed-in user and the
    client's address as text (None if unknown), X-Forwarded-For believed only
    from a trusted proxy, as the API does. The owner sees both in the key's
    change history."""
    address = client_address(request)
    return {"actor": request.user, "ip": None if address is None else str(address)}


def address_from(remote_addr: str, forwarded_for: str) -> IPAddress | None:
    """The client's address from the peer's address and the X-Forwarded-For
    header as received (REST: ``REMOTE_ADDR``; WebSocket: the ASGI scope's
    ``client`` and headers), by the rule of the module docstring."""
    peer = parse_address(remote_addr)
    proxies = trusted_proxies()
    if peer is None or not proxies or not _is_trusted(peer, proxies):
        return peer
    address = peer
    for hop in reversed([part for part in forwarded_for.split(",") if part.strip()]):
        parsed = parse_address(hop)
        if parsed is None:
            # Garbage to the right of any untrusted hop means a misconfigured
            # proxy chain: stop at the last address a trusted proxy vouched for.
            break
        address = parsed
        if not _is_trusted(parsed, proxies):
            break
    return address
