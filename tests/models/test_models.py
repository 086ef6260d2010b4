import pytest
from django.core.exceptions import ValidationError

from django_xunchen.exceptions import InvalidTemplateParamsError
from django_xunchen.models import Message, Template


def test_template_render_and_placeholders():
    t = Template(template_id="T", name="n", body="您好@1@，验证码@2@，再次@1@")
    assert t.placeholders == [1, 2]
    assert t.render({1: "王", 2: "12"}) == "您好王，验证码12，再次王"
    assert t.render(["王", "12"]) == "您好王，验证码12，再次王"
    with pytest.raises(InvalidTemplateParamsError, match="missing @2@"):
        t.render({1: "王"})
    with pytest.raises(InvalidTemplateParamsError, match="delimiters"):
        t.render({1: "a,b", 2: "c"})


def test_template_clean():
    t = Template(template_id=" T-1 ", name="n", body="   ")
    with pytest.raises(ValidationError):
        t.clean()
    assert t.template_id == "T-1"


def test_message_preview_and_str():
    m = Message(mobile="13800138000", content="一" * 60)
    assert m.preview == "一" * 39 + "…"
    assert str(m).startswith("13800138000: ")


@pytest.mark.django_db
def test_queryset_helpers():
    Message.objects.create(mobile="13800138000", content="a", status="delivered")
    Message.objects.create(mobile="13800138000", content="b", status="unknown")
    assert Message.objects.delivered().count() == 1
    assert Message.objects.needs_attention().count() == 1


def test_settings_precedence(settings):
    from django_xunchen.conf import xunchen_settings

    settings.XUNCHEN = {"ENCODING": "gbk"}
    conf = xunchen_settings(timeout=3)
    assert conf["ENCODING"] == "gbk"
    assert conf["TIMEOUT"] == 3
    assert conf["POLL_INTERVAL"] == 180
    with pytest.raises(TypeError):
        xunchen_settings(nope=1)
    assert settings.XUNCHEN == {"ENCODING": "gbk"}, "settings are never written to"


def test_backend_repr_has_no_credentials(settings):
    from django_xunchen.backends import get_backend

    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BASE_URL": "http://gw.test",
        "USERNAME": "u",
        "PASSWORD": "pw-123",
        "VERY_CODE": "vc-456",
    }
    backend = get_backend()
    text = repr(backend) + repr(backend.client)
    assert "pw-123" not in text and "vc-456" not in text
