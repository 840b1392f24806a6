from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        # Shared tasks bind to the project's Celery app (broker, eager mode).
        import exchange.celery  # noqa: F401
