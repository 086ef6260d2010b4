"""SMS backends, chosen by dotted path in ``XUNCHEN["BACKEND"]`` as EMAIL_BACKEND is."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..conf import xunchen_settings
from .base import BaseSMSBackend

__all__ = ["BaseSMSBackend", "get_backend", "load_backend_class"]


def load_backend_class(path: str) -> type[BaseSMSBackend]:
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"cannot import the SMS backend {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseSMSBackend)):
        raise ImproperlyConfigured(f"{path!r} is not a subclass of BaseSMSBackend")
    return cls


def get_backend(
    backend: str | None = None,
    *,
    account: str | None = None,
    fail_silently: bool = False,
    **kwargs: Any,
) -> BaseSMSBackend:
    """An instance of ``backend`` (a dotted path), or of the one ``account`` is configured
    with, holding that account's settings (``"default"`` when not given)."""
    path = backend or xunchen_settings(account)["BACKEND"]
    return load_backend_class(path)(fail_silently=fail_silently, account=account, **kwargs)
