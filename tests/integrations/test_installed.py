"""Every environment that runs this suite installs every integration's package (the
lock, the oldest lock and the latest set all carry the extras), so that an integration's
tests cannot be skipped for a missing package and still pass."""

import importlib.util

import pytest
from django.conf import settings

PACKAGES = ["phonenumbers", "phonenumber_field", "allauth", "two_factor", "django_otp"]


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_is_installed(package):
    assert importlib.util.find_spec(package), f"{package} is not installed: its tests would not run"


def test_the_integrations_are_installed_apps():
    for app in ["django_otp", "two_factor", "django_xunchen.integrations.otp"]:
        assert app in settings.INSTALLED_APPS
