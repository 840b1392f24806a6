"""WebSocket routes: one endpoint, many subscriptions (docs/websocket.md)."""

from django.urls import path

from apps.orders.consumers import StreamConsumer

websocket_urlpatterns = [path("v1/ws", StreamConsumer.as_asgi())]
