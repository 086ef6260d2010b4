import datetime as dt

import pytest

from django_xunchen.client import (
    TEMPLATE,
    build_send_request,
    normalize_mobile,
    normalize_params,
    render_template,
    validate_mobiles,
)
from django_xunchen.exceptions import (
    InvalidContentError,
    InvalidExtcodeError,
    InvalidMobileError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    XunchenValidationError,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        (" 139 0000 0000 ", "13900000000"),
        (19912345678, "19912345678"),
        ("12800138000", None),  # 12x is not a mobile range
        ("1380013800", None),  # 10 digits
        ("138001380001", None),  # 12 digits
        ("+85213800138000", None),
        ("abc", None),
        ("", None),
        (True, None),
        (None, None),
    ],
)
def test_normalize_mobile(raw, expected):
    assert normalize_mobile(raw) == expected


def test_mobiles_deduplicated_in_order():
    assert validate_mobiles(["13800138000", "+86 13800138000", "13900000000"]) == [
        "13800138000",
        "13900000000",
    ]


def test_mobiles_from_a_string_with_separators():
    assert validate_mobiles("13800138000, 13900000000;13700000000\n13600000000") == [
        "13800138000",
        "13900000000",
        "13700000000",
        "13600000000",
    ]


def test_every_bad_number_is_named():
    with pytest.raises(InvalidMobileError) as info:
        validate_mobiles(["13800138000", "12345", "+1 555 0100", "13900000000"])
    assert info.value.invalid == ["12345", "+1 555 0100"]
    assert "'12345'" in str(info.value) and "'+1 555 0100'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_no_numbers():
    with pytest.raises(InvalidMobileError, match="no mobile number"):
        validate_mobiles([])


def test_more_than_100_numbers_in_one_request():
    numbers = [f"138{i:08d}" for i in range(101)]
    with pytest.raises(InvalidMobileError, match="at most 100"):
        build_send_request(numbers, "hi")
    assert len(build_send_request(numbers[:100], "hi").mobiles) == 100


@pytest.mark.parametrize("content", ["", "   ", "\n\t"])
def test_blank_content(content):
    with pytest.raises(InvalidContentError, match="blank"):
        build_send_request("13800138000", content)


def test_content_length_limit():
    assert build_send_request("13800138000", "字" * 300).content == "字" * 300
    with pytest.raises(InvalidContentError, match="301 characters"):
        build_send_request("13800138000", "字" * 301)


def test_gbk_names_the_first_offending_character():
    with pytest.raises(InvalidContentError, match=r"'😀' \(U\+1F600\) at position 2"):
        build_send_request("13800138000", "你好😀🎉", encoding="gbk")
    # the same text is fine in UTF-8
    build_send_request("13800138000", "你好😀🎉", encoding="utf-8")


def test_content_must_be_text():
    with pytest.raises(InvalidContentError, match="must be text"):
        build_send_request("13800138000", None)


def test_template_request():
    request = build_send_request(
        "13800138000",
        template_id=" JSM40001-0001 ",
        params={1: "李先生", "2": "您好", "@3@": 928371},
        template_body="尊敬的@1@@2@,验证码为@3@",
    )
    assert request.msgtype == TEMPLATE
    assert request.template_id == "JSM40001-0001"
    assert request.content == "@1@=李先生,@2@=您好,@3@=928371"


def test_template_params_from_a_list():
    assert normalize_params(["a", "b"]) == ((1, "a"), (2, "b"))


@pytest.mark.parametrize("value", ["a,b", "a=b", "x,=y"])
def test_template_param_delimiters_refused(value):
    with pytest.raises(InvalidTemplateParamsError, match="delimiters"):
        build_send_request("13800138000", template_id="T", params={1: value})


def test_template_params_must_match_placeholders():
    with pytest.raises(InvalidTemplateParamsError, match=r"missing @2@; not in the template: @5@"):
        build_send_request(
            "13800138000", template_id="T", params={1: "a", 5: "b"}, template_body="@1@ @2@"
        )


@pytest.mark.parametrize("params", [{"x": "a"}, {0: "a"}, {1: None}, "abc"])
def test_bad_template_params(params):
    with pytest.raises(InvalidTemplateParamsError):
        build_send_request("13800138000", template_id="T", params=params)


def test_template_and_content_exclusive():
    with pytest.raises(InvalidContentError, match="not both"):
        build_send_request("13800138000", "text", template_id="T", params={1: "a"})
    with pytest.raises(InvalidTemplateParamsError, match="only used with a template"):
        build_send_request("13800138000", "text", params={1: "a"})


def test_render_template():
    assert (
        render_template("您好@1@，验证码@2@", ((1, "张三"), (2, "1234"))) == "您好张三，验证码1234"
    )


@pytest.mark.parametrize("extcode", ["1", "12", "8888", 42])
def test_extcode_ok(extcode):
    assert build_send_request("13800138000", "x", extcode=extcode).extcode == str(extcode)


@pytest.mark.parametrize("extcode", ["12345", "ab", "-1", "1.5", True])
def test_extcode_bad(extcode):
    with pytest.raises(InvalidExtcodeError):
        build_send_request("13800138000", "x", extcode=extcode)


def test_send_time_is_formatted_in_china_standard_time():
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1)
    request = build_send_request("13800138000", "x", send_at=at)
    assert request.sendtime == (at + dt.timedelta(hours=8)).strftime("%Y%m%d%H%M%S")


def test_send_time_must_be_aware_and_future():
    with pytest.raises(InvalidSendTimeError, match="timezone-aware"):
        build_send_request("13800138000", "x", send_at=dt.datetime(2099, 1, 1))
    with pytest.raises(InvalidSendTimeError, match="not in the future"):
        build_send_request(
            "13800138000", "x", send_at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
        )


def test_all_validation_errors_share_a_base():
    assert issubclass(InvalidExtcodeError, XunchenValidationError)
    assert issubclass(InvalidExtcodeError, ValueError)


def test_encoding_must_be_known():
    with pytest.raises(ValueError, match="'utf-8' or 'gbk'"):
        build_send_request("13800138000", "x", encoding="latin-1")


def test_a_clients_build_request_uses_its_encoding():
    from django_xunchen.client import XunchenClient
    from django_xunchen.exceptions import InvalidContentError

    with XunchenClient("http://127.0.0.1:9", "u", "p", "k", encoding="gbk") as client:
        with pytest.raises(InvalidContentError, match="GBK"):
            client.build_request("13800138000", "😀")
        assert client.build_request("13800138000", "好").content == "好"
