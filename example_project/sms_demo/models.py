"""The example app keeps no SMS data of its own: opt-outs live in django-xunchen's
suppression list (Xunchen SMS › Suppression list in the admin). It keeps the one thing
django-allauth leaves to the site: where a user's phone number is stored."""

from django.conf import settings
from django.db import models


class PhoneProfile(models.Model):
    """A user's phone number for django-allauth's phone sign-in (sms_demo.adapter), in
    the 11-digit mainland form the adapter's ``clean_phone`` gives."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_profile"
    )
    phone = models.CharField(max_length=11, unique=True)
    verified = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.phone
