from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class XunchenOTPConfig(AppConfig):
    name = "django_xunchen.integrations.otp"
    label = "xunchen_otp"
    verbose_name = _("SMS one-time passwords")
    default_auto_field = "django.db.models.BigAutoField"
