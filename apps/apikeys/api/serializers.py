from __future__ import annotations

from rest_framework import serializers


class ServerTimeOutputSerializer(serializers.Serializer):
    server_time = serializers.IntegerField(help_text="Unix time in milliseconds.")
    iso = serializers.CharField(help_text="The same instant, ISO 8601 UTC.")


class ApiKeyOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    scope = serializers.CharField(
        help_text="read, trade or withdraw (each implies the ones before)."
    )
    ip_allowlist = serializers.ListField(child=serializers.CharField())
    drift_ms = serializers.IntegerField()
    weight_per_minute = serializers.IntegerField()
    created_at = serializers.DateTimeField()
