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
def events():
    """Every signal the app sends during the test, as (name, kwargs)."""
    from django_xunchen import signals

    received = []
    names = [
        "message_sent",
        "message_failed",
        "report_received",
        "report_matched",
        "inbound_received",
    ]
    handlers = {}
    for name in names:

        def handler(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            received.append((_name, kwargs))

        handlers[name] = handler
        getattr(signals, name).connect(handler, weak=False)
    yield received
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)
