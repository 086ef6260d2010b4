"""django-allauth's account adapter of the demo: the SMS through django-xunchen
(:class:`~django_xunchen.integrations.allauth.XunchenAccountAdapter`), the phone number
in :class:`~sms_demo.models.PhoneProfile` (docs/integrations/allauth.rst)."""

from __future__ import annotations

from typing import Any

from django_xunchen.integrations.allauth import XunchenAccountAdapter

from .models import PhoneProfile


class PhoneAccountAdapter(XunchenAccountAdapter):
    def set_phone(self, user: Any, phone: str, verified: bool) -> None:
        PhoneProfile.objects.update_or_create(
            user=user, defaults={"phone": phone, "verified": verified}
        )

    def get_phone(self, user: Any) -> tuple[str, bool] | None:
        if user.pk is None:
            return None
        profile = PhoneProfile.objects.filter(user=user).first()
        return (profile.phone, profile.verified) if profile else None

    def set_phone_verified(self, user: Any, phone: str) -> None:
        PhoneProfile.objects.filter(user=user, phone=phone).update(verified=True)

    def get_user_by_phone(self, phone: str) -> Any:
        profile = PhoneProfile.objects.select_related("user").filter(phone=phone).first()
        return profile.user if profile else None
