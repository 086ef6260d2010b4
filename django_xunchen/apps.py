from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class XunchenConfig(AppConfig):
    name = "django_xunchen"
    verbose_name = _("Xunchen SMS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
