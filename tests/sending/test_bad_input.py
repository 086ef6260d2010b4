"""Bad input is refused with its own error before any row is written or any request made."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from django_xunchen import send_sms
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.exceptions import (
    InvalidContentError,
    InvalidExtcodeError,
    InvalidMobileError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    XunchenValidationError,
)
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db(transaction=True)
DUMMY = "django_xunchen.backends.dummy.SMSBackend"
N = "13800138000"

UTC = dt.timezone.utc
SOON = dt.datetime.now(UTC) + dt.timedelta(days=1)
OK = "13800138000"
T = "JSM40001-0001"

V = XunchenValidationError
TAG_RULE = "each tag must be a non-blank string of at most 100 characters"

# (id, arguments, error class, words of its message, settings)
CASES = [
    # mobiles
    ("mobiles None", {"mobiles": None}, InvalidMobileError, "None", {}),
    ("mobiles float", {"mobiles": 13800138000.0}, InvalidMobileError, "float", {}),
    ("mobiles bytes", {"mobiles": b"13800138000"}, InvalidMobileError, "bytes", {}),
    ("mobiles dict", {"mobiles": {OK: 1}}, InvalidMobileError, "dict", {}),
    ("mobiles bool", {"mobiles": True}, InvalidMobileError, "bool", {}),
    ("mobiles empty string", {"mobiles": ""}, InvalidMobileError, "no mobile", {}),
    ("mobiles empty list", {"mobiles": []}, InvalidMobileError, "no mobile", {}),
    ("10 digits", {"mobiles": "1380013800"}, InvalidMobileError, "1380013800", {}),
    ("12 digits", {"mobiles": "138001380001"}, InvalidMobileError, "138001380001", {}),
    ("second digit 2", {"mobiles": "12800138000"}, InvalidMobileError, "12800138000", {}),
    ("arabic-indic", {"mobiles": "١٣٨٠٠١٣٨٠٠٠"}, InvalidMobileError, "١٣٨", {}),
    ("devanagari", {"mobiles": "१३८००१३८०००"}, InvalidMobileError, "१३८", {}),
    ("one odd digit", {"mobiles": "1380013800٠"}, InvalidMobileError, "1380013800", {}),
    ("+1 prefix", {"mobiles": "+1 13800138000"}, InvalidMobileError, r"\+1", {}),
    ("letters", {"mobiles": "13800138000abc"}, InvalidMobileError, "abc", {}),
    ("None in a list", {"mobiles": [OK, None]}, InvalidMobileError, "None", {}),
    ("one bad of three", {"mobiles": [OK, "123", "13900000000"]}, InvalidMobileError, "123", {}),
    # content
    ("blank", {"content": ""}, InvalidContentError, "blank", {}),
    ("spaces", {"content": "   \n "}, InvalidContentError, "blank", {}),
    ("301 characters", {"content": "短" * 301}, InvalidContentError, "301", {}),
    ("NUL", {"content": "您好\x00"}, InvalidContentError, "U\\+0000", {}),
    ("escape", {"content": "hi\x1b[31m"}, InvalidContentError, "U\\+001B", {}),
    ("DEL", {"content": "x\x7f"}, InvalidContentError, "U\\+007F", {}),
    ("C1 control", {"content": "x\x85y"}, InvalidContentError, "U\\+0085", {}),
    ("lone surrogate", {"content": "a\ud800"}, InvalidContentError, "U\\+D800", {}),
    ("content int", {"content": 123}, InvalidContentError, "int", {}),
    (
        "marketing without content",
        {"content": None, "kind": "marketing"},
        InvalidContentError,
        "^content must be text, not NoneType$",
        {},
    ),
    (
        "marketing content int",
        {"content": 123, "kind": "marketing"},
        InvalidContentError,
        "^content must be text, not int$",
        {},
    ),
    ("no content", {"content": None}, InvalidContentError, "NoneType", {}),
    ("GBK emoji", {"content": "您好😀"}, InvalidContentError, "GBK", {"ENCODING": "gbk"}),
    ("GBK other script", {"content": "ℵ̸ ✈ 𝔸"}, InvalidContentError, "GBK", {"ENCODING": "gbk"}),
    # tags and metadata
    ("tags a string", {"tags": "vip"}, V, "^tags must be a list of strings, not 'vip'$", {}),
    ("tags a number", {"tags": 5}, V, "^tags must be a list of strings, not 5$", {}),
    ("blank tag", {"tags": ["ok", " "]}, V, f"^{TAG_RULE}, not ' '$", {}),
    ("tag of 101", {"tags": ["x" * 101]}, V, f"^{TAG_RULE}, not 'x{{101}}'$", {}),
    ("tag not text", {"tags": [1]}, V, f"^{TAG_RULE}, not 1$", {}),
    ("metadata a list", {"metadata": ["a"]}, V, "^metadata must be a dict, not list$", {}),
    (
        "metadata not JSON",
        {"metadata": {"at": {1, 2}}},
        V,
        "^metadata must be JSON-serialisable: Object of type set is not JSON serializable$",
        {},
    ),
    # extcode
    ("extcode 5 digits", {"extcode": "12345"}, InvalidExtcodeError, "12345", {}),
    ("extcode letters", {"extcode": "ab"}, InvalidExtcodeError, "ab", {}),
    ("extcode arabic-indic", {"extcode": "١٢"}, InvalidExtcodeError, "١٢", {}),
    ("extcode bool", {"extcode": True}, InvalidExtcodeError, "True", {}),
    ("extcode float", {"extcode": 1.5}, InvalidExtcodeError, "1.5", {}),
    ("extcode negative", {"extcode": "-1"}, InvalidExtcodeError, "-1", {}),
    ("extcode list", {"extcode": ["1"]}, InvalidExtcodeError, "1", {}),
    # times
    (
        "naive send time",
        {"send_at": dt.datetime(2030, 1, 1)},
        InvalidSendTimeError,
        r"^send time must be timezone-aware \(USE_TZ is True\)$",
        {},
    ),
    (
        "past send time",
        {"send_at": dt.datetime(2020, 1, 1, tzinfo=UTC)},
        InvalidSendTimeError,
        "not in the future",
        {},
    ),
    (
        "send time text",
        {"send_at": "2030-01-01"},
        InvalidSendTimeError,
        "^send time must be a datetime, not str$",
        {},
    ),
    (
        "send time past the wire format",
        {"send_at": dt.datetime(9999, 12, 31, 20, tzinfo=UTC)},
        InvalidSendTimeError,
        "later than the gateway can carry",
        {},
    ),
    (
        "expired already",
        {"expires_at": dt.datetime(2020, 1, 1, tzinfo=UTC)},
        InvalidSendTimeError,
        "passed",
        {},
    ),
    (
        "expires before send",
        {"send_at": SOON, "expires_at": SOON - dt.timedelta(hours=1)},
        InvalidSendTimeError,
        "^expiry time is not after the send time$",
        {},
    ),
    (
        "expiry text",
        {"expires_at": "tomorrow"},
        InvalidSendTimeError,
        "^expiry time must be a datetime, not str$",
        {},
    ),
    # templates
    (
        "unknown template",
        {"content": None, "template": "NOPE-1"},
        InvalidTemplateParamsError,
        "^no template with vendor id 'NOPE-1' for account 'default'; add it under Templates first$",
        {},
    ),
    (
        "comma in a param",
        {"content": None, "template": T, "params": ["李,", "1"]},
        InvalidTemplateParamsError,
        "delimiters",
        {},
    ),
    (
        "equals in a param",
        {"content": None, "template": T, "params": ["a=b", "1"]},
        InvalidTemplateParamsError,
        "delimiters",
        {},
    ),
    (
        "missing param",
        {"content": None, "template": T, "params": ["李"]},
        InvalidTemplateParamsError,
        "@2@",
        {},
    ),
    (
        "extra param",
        {"content": None, "template": T, "params": ["李", "1", "x"]},
        InvalidTemplateParamsError,
        "@3@",
        {},
    ),
    (
        "params as text",
        {"content": None, "template": T, "params": "李,1"},
        InvalidTemplateParamsError,
        "string",
        {},
    ),
    (
        "param None",
        {"content": None, "template": T, "params": {1: "李", 2: None}},
        InvalidTemplateParamsError,
        "no value",
        {},
    ),
    (
        "param name",
        {"content": None, "template": T, "params": {"x": "李"}},
        InvalidTemplateParamsError,
        "'x'",
        {},
    ),
    (
        "param twice",
        {"content": None, "template": T, "params": {1: "a", "1": "b", 2: "c"}},
        InvalidTemplateParamsError,
        "twice",
        {},
    ),
    (
        "param NUL",
        {"content": None, "template": T, "params": ["李\x00", "1"]},
        InvalidTemplateParamsError,
        "U\\+0000",
        {},
    ),
    (
        "param list",
        {"content": None, "template": T, "params": [["李"], "1"]},
        InvalidTemplateParamsError,
        "list",
        {},
    ),
    ("params without template", {"params": ["x"]}, InvalidTemplateParamsError, "only", {}),
    (
        "content and template",
        {"template": T, "params": ["李", "1"]},
        InvalidContentError,
        "not both",
        {},
    ),
    (
        "GBK param",
        {"content": None, "template": T, "params": ["😀", "1"]},
        InvalidContentError,
        "GBK",
        {"ENCODING": "gbk"},
    ),
    (
        "inactive template",
        {"content": None, "template": "OFF-1", "params": []},
        InvalidTemplateParamsError,
        "not active",
        {},
    ),
]


@pytest.fixture
def templates(db):
    Template.objects.create(template_id=T, name="code", body="尊敬的@1@,您的验证码为@2@")
    Template.objects.create(template_id="OFF-1", name="off", body="x", is_active=False)


def test_there_are_at_least_40_distinct_bad_inputs():
    assert len({case[0] for case in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize(
    ("arguments", "error", "words", "extra"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_refused_with_its_own_error_and_nothing_written_or_sent(
    gateway, templates, settings, arguments, error, words, extra
):
    settings.XUNCHEN = {**settings.XUNCHEN, **extra}
    call = {"mobiles": OK, "content": "您好", **arguments}
    mobiles = call.pop("mobiles")
    content = call.pop("content")
    with pytest.raises(error, match=words) as info:
        send_sms(mobiles, content, **call)
    assert type(info.value) is error
    assert Message.objects.count() == 0
    assert gateway.requests == []


@pytest.mark.parametrize(
    ("value", "number"),
    [("１３８００１３８０００", OK), ("＋８６ １３９ ００００ ００００", "13900000000")],
)
def test_full_width_digits_are_ordinary_input(gateway, value, number):
    (message,) = send_sms(value, "全角数字", extcode="１２")
    assert (message.mobile, message.extcode, message.status) == (number, "12", "sent")


@pytest.mark.parametrize(
    ("form", "field", "words", "extra"),
    [
        ({"mobiles": "١٣٨٠٠١٣٨٠٠٠", "content": "x"}, "mobiles", "١٣٨٠٠١٣٨٠٠٠", {}),
        ({"mobiles": OK, "content": "x\x1by"}, "content", "U+001B", {}),
        ({"mobiles": OK, "content": "x", "extcode": "١٢"}, "extcode", "١٢", {}),
        ({"mobiles": OK, "content": "您好😀"}, "content", "GBK", {"ENCODING": "gbk"}),
    ],
)
def test_the_admin_send_form_shows_them_as_form_errors(
    admin_client, settings, form, field, words, extra
):
    settings.XUNCHEN = {**settings.XUNCHEN, **extra}
    response = admin_client.post(reverse("admin:django_xunchen_message_send"), form)
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors[field])
    assert Message.objects.count() == 0


def test_a_tag_of_100_characters_is_kept_stripped_and_once(gateway):
    (message,) = send_sms(OK, "您好", tags=["x" * 100, " vip ", "vip"], metadata={"order": 7})
    message.refresh_from_db()
    assert (message.tags, message.metadata) == (["x" * 100, "vip"], {"order": 7})


@pytest.mark.parametrize("kind", ["sms", "", "Marketing"])
def test_rows_are_never_prepared_for_an_unknown_kind(settings, kind):
    """prepare_messages is what the admin's form, codes and campaigns build rows with:
    it checks the kind itself, whoever calls it."""
    from django_xunchen.backends import get_backend
    from django_xunchen.exceptions import InvalidKindError
    from django_xunchen.sending.compose import prepare_messages

    expected = f"kind must be one of verification, notification, marketing, not {kind!r}"
    with pytest.raises(InvalidKindError) as info:
        prepare_messages(N, "您好", kind=kind, backend=get_backend(DUMMY))
    assert str(info.value) == expected


def test_an_expiry_at_this_very_moment_or_at_the_send_time_is_refused(xunchen_outbox):
    from django_xunchen.exceptions import InvalidSendTimeError

    now = dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ)
    later = now + dt.timedelta(hours=1)
    with time_machine.travel(now, tick=False):
        with pytest.raises(InvalidSendTimeError, match="has passed"):
            send_sms(N, "您好", expires_at=now, backend=DUMMY)
        with pytest.raises(InvalidSendTimeError, match="not after the send time"):
            send_sms(N, "您好", send_at=later, expires_at=later, backend=DUMMY)
    assert not Message.objects.exists()
