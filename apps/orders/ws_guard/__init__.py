"""WebSocket edge protection (docs/websocket.md, "Limits and close codes").

- ``origin``: the Origin check against cross-site pages (exchange/asgi.py).
- ``middleware``: connections per client address, unsent bytes per
  connection (slow consumers), message size (exchange/asgi.py).
- ``consumer``: frame floods and connections per API key (the consumer).
- ``slots``, ``frames``, ``transport``: the counters, the token bucket, and
  what daphne does not show through ASGI.
"""
