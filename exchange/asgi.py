"""ASGI entry point: HTTP through Django, WebSockets through Channels routing."""

import gc
import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
django_asgi_app = get_asgi_application()

from apps.orders.ws_guard.middleware import WebSocketGuard  # noqa: E402
from apps.orders.ws_guard.origin import origin_validator  # noqa: E402
from exchange.routing import websocket_urlpatterns  # noqa: E402  (needs apps loaded)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The Origin check first: a cross-site page takes no connection slot.
        "websocket": origin_validator(WebSocketGuard(URLRouter(websocket_urlpatterns))),
    }
)

# Long-lived objects out of the cyclic collector's full passes (see wsgi.py).
gc.freeze()
