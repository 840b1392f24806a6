"""The Django project. The Celery app is loaded by apps.core when Django
starts (so shared tasks bind to it), not on import: ``exchange.client`` must
import without Django or Celery configured."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        from exchange.celery import app

        return app
    raise AttributeError(name)
