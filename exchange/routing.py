"""WebSocket routes. The market-data and private streams are added here."""

from django.urls import path

websocket_urlpatterns: list[path] = []  # type: ignore[valid-type]
