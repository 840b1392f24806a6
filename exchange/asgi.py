"""ASGI entry point: HTTP through Django, WebSockets through Channels routing."""

import gc
import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
django_asgi_app = get_asgi_application()

from exchange.routing import websocket_urlpatterns  # noqa: E402  (needs apps loaded)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# Long-lived objects out of the cyclic collector's full passes (see wsgi.py).
gc.freeze()
