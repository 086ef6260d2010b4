from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class XunchenConfig(AppConfig):
    name = "django_xunchen"
    verbose_name = _("Xunchen SMS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Here, not at the top: these modules use the models, which need the app registry.
        from django.core.signals import setting_changed
        from django.db.models.signals import post_migrate

        from .conf import mask_configured_secrets
        from .db import analyze_new_tables
        from .operations import checks  # noqa: F401 - registers the system checks

        mask_configured_secrets()
        setting_changed.connect(mask_configured_secrets, dispatch_uid="django_xunchen.mask")
        post_migrate.connect(analyze_new_tables, sender=self, dispatch_uid="django_xunchen.analyze")
