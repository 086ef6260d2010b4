import pytest

LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


@pytest.fixture
def on_locmem(settings, xunchen_outbox):
    """Poll the in-memory backend (``locmem.queue_report``), without a sender number."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "SENDER_NUMBER": ""}
