"""The phone numbers django-allauth's sign-in keeps; the SMS themselves are in the
Xunchen SMS section of the admin."""

from django.contrib import admin

from .models import PhoneProfile


@admin.register(PhoneProfile)
class PhoneProfileAdmin(admin.ModelAdmin):
    list_display = ["phone", "user", "verified"]
    list_filter = ["verified"]
    search_fields = ["phone", "user__username"]
    raw_id_fields = ["user"]
