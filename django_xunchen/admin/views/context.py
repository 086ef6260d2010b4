"""The template context every page of the message admin starts from."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.http import HttpRequest


def page_context(model_admin: ModelAdmin, request: HttpRequest, title: Any, **kwargs: Any):
    """The admin site's context (navigation, user links), the model's options and the
    title, with ``kwargs``."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **kwargs,
    }
