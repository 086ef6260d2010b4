"""The caps on uploaded files are checked by ``manage.py check`` (E015)."""

import tempfile

import pytest

from django_xunchen.conf import xunchen_settings
from django_xunchen.operations.checks import check_settings

SPOOL = tempfile.mkdtemp(prefix="xunchen-checks-")
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


def messages(settings, **given):
    settings.XUNCHEN = {"SPOOL_DIR": SPOOL, "BACKEND": LOCMEM, **given}
    return [(m.id, m.msg) for m in check_settings()]


def test_the_defaults_are_50_mib_and_a_million_rows(settings):
    assert messages(settings) == []
    conf = xunchen_settings()
    assert (conf["UPLOAD_MAX_BYTES"], conf["UPLOAD_MAX_ROWS"]) == (50 * 1024 * 1024, 1_000_000)


@pytest.mark.parametrize("key", ["UPLOAD_MAX_BYTES", "UPLOAD_MAX_ROWS"])
@pytest.mark.parametrize("value", [0, -1, "50MB", 1.5, True, None])
def test_a_cap_that_is_not_a_whole_number_of_1_or_more(settings, key, value):
    ((check, text),) = messages(settings, **{key: value})
    assert check == "django_xunchen.E015"
    assert text.startswith(f"XUNCHEN['{key}'] must be a whole number") and repr(value) in text


def test_caps_of_one_are_fine(settings):
    assert messages(settings, UPLOAD_MAX_BYTES=1, UPLOAD_MAX_ROWS=1) == []
