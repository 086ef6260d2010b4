from django.apps import AppConfig


class SmsDemoConfig(AppConfig):
    name = "sms_demo"
    verbose_name = "SMS demo (host app)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401 - connects the signal receivers
