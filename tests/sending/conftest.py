import pytest

from django_xunchen.models import Template


@pytest.fixture
def template(db):
    return Template.objects.create(
        template_id="JSM40001-0001",
        name="Verification code",
        body="尊敬的@1@,您的验证码为@2@，请及时输入。",
    )


@pytest.fixture
def quiet_hours(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": ("21:00", "08:00")}
