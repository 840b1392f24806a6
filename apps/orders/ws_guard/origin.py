"""Cross-site WebSocket hijacking: a page on another site must not open a
socket that carries the user's cookies.

Channels' ``OriginValidator`` (as ``AllowedHostsOriginValidator``) checks the
Origin header against ``ALLOWED_HOSTS``, plus ``WS_ALLOWED_ORIGINS`` for a
front end served from another host. It also refuses a handshake with no
Origin at all, which would lock out every API client: browsers always send
Origin on a WebSocket handshake, programs (our Python client, websockets,
curl) usually do not, and without a browser there is no one else's cookie
to ride on. So a missing Origin is let through; a present one must match.
"""

from __future__ import annotations

from typing import Any

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Origin must be an allowed host when the client sends one. A refused
    handshake is answered HTTP 403 (channels' ``WebsocketDenier``)."""

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        return bool(self.validate_origin(parsed_origin))


def origin_validator(app: Any) -> BrowserOriginValidator:
    """``app`` behind the Origin check, for the hosts the settings allow."""
    allowed = [*settings.ALLOWED_HOSTS, *settings.WS_ALLOWED_ORIGINS]
    return BrowserOriginValidator(app, allowed)
