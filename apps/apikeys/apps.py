from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apps.apikeys"
    label = "apikeys"

    def ready(self) -> None:
        from apps.apikeys import checks  # noqa: F401 - registers the system checks
        from apps.apikeys.api import schema  # noqa: F401 - registers the spec extension
