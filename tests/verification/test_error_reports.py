"""No verification code in any error report: a database error during a check and a
failure deep in the HTTP stack during a send, rendered as Django renders them (the HTML
and the text technical 500 report, DEBUG off and on; the e-mail to ADMINS; the debug
page). Django's sensitive_variables and sensitive_post_parameters work with DEBUG off
only: with DEBUG on, the values mask themselves (Secret, a sensitive SendRequest)."""

import dataclasses
import json
import re
import sys

import pytest
from django.core import mail
from django.db import DatabaseError
from django.db.models.query import QuerySet
from django.test import Client
from django.urls import reverse
from django.views.debug import ExceptionReporter
from urllib3.connectionpool import HTTPConnectionPool

from django_xunchen.client import build_send_request
from django_xunchen.forms import PhoneCodeForm
from django_xunchen.verification import codes
from django_xunchen.verification.codes import request_code
from django_xunchen.views import CheckCodeView, RequestCodeView

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
CODE = "73915286"
CHECK_FAILED = "forced failure during the check"
SEND_FAILED = "forced failure inside the HTTP stack"


@pytest.fixture
def fixed_code(monkeypatch, settings):
    """Every code is CODE (8 digits: found nowhere by chance)."""
    monkeypatch.setattr(codes, "derive_code", lambda nonce, n: CODE)
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "VERIFICATION": {"CODE_LENGTH": 8, "COOLDOWN": 0},
    }


@pytest.fixture
def failing_check(fixed_code, xunchen_outbox, monkeypatch):
    """A live code, and a database that fails the check's UPDATE."""
    assert request_code(NUMBER).sent

    def update(self, **kwargs):
        raise DatabaseError(CHECK_FAILED)

    monkeypatch.setattr(QuerySet, "update", update)


@pytest.fixture
def failing_send(fixed_code, settings, monkeypatch):
    """The gateway backend, whose HTTP stack fails with the request in hand."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BASE_URL": "http://127.0.0.1:9",
        "USERNAME": "JSM40001",
        "PASSWORD": "pa55",
        "VERY_CODE": "key-1",
    }

    def urlopen(self, method, url, body=None, headers=None, **kwargs):
        assert CODE.encode() in body, "the wire gets the code"
        raise RuntimeError(SEND_FAILED)

    monkeypatch.setattr(HTTPConnectionPool, "urlopen", urlopen)


def failure(view, rf, data, content_type):
    """The request and the exc_info of ``view`` failing on ``data``. This frame is the
    first of the traceback: it lets go of ``data`` before the view runs."""
    if content_type == "json":
        request = rf.post("/", json.dumps(data), content_type="application/json")
    else:
        request = rf.post("/", data)
    del data
    request._dont_enforce_csrf_checks = True
    try:
        view.as_view()(request)
    except Exception:
        return request, sys.exc_info()
    raise AssertionError("the view did not fail")


def reports(request, exc_info):
    reporter = ExceptionReporter(request, *exc_info)
    return reporter.get_traceback_html(), reporter.get_traceback_text(), reporter


#: A function as mutmut renames it (``x_request_code__mutmut_orig``,
#: ``xǁXunchenClientǁsubmit__mutmut_3``): `make mutation` runs these tests too.
MUTMUT_NAME = re.compile(r"^x(?:ǁ\w+ǁ|_)(?P<name>.+?)__mutmut_(?:orig|\d+)$")


def _plain(function):
    found = MUTMUT_NAME.match(function)
    return found["name"] if found else function


def frame_values(reporter):
    return [
        (_plain(frame["function"]), name, value)
        for frame in reporter.get_traceback_data()["frames"]
        for name, value in frame.get("vars", [])
    ]


def assert_no_code(html, text, reporter, failed, frames_of):
    assert failed in html and failed in text
    seen = {function for function, _, _ in frame_values(reporter)}
    assert set(frames_of) <= seen, f"the report has these frames' variables: {seen}"
    leaks = [(f, n) for f, n, v in frame_values(reporter) if CODE in v]
    assert leaks == [], f"the code is in the variables {leaks}"
    assert CODE not in html
    assert CODE not in text


CHECK_FRAMES = {"post", "answer", "check_code"}
SEND_FRAMES = {"request_code", "_send", "dispatch", "_attempt", "send", "submit", "_post"}


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_no_code_in_the_report_of_a_failed_check_sent_as_json(failing_check, rf, settings, debug):
    settings.DEBUG = debug
    body = {"mobile": NUMBER, "code": CODE}
    request, exc_info = failure(CheckCodeView, rf, body, "json")
    assert_no_code(*reports(request, exc_info), CHECK_FAILED, CHECK_FRAMES)


def test_no_code_in_the_report_of_a_failed_check_sent_as_a_form(failing_check, rf, settings):
    settings.DEBUG = False
    request, exc_info = failure(CheckCodeView, rf, {"mobile": NUMBER, "code": CODE}, "form")
    assert_no_code(*reports(request, exc_info), CHECK_FAILED, CHECK_FRAMES)


def test_with_debug_on_a_form_s_code_is_only_in_django_s_list_of_its_post(
    failing_check, rf, settings
):
    """With DEBUG on, Django lists the POST parameters as sent (its filter is off then):
    the code the visitor typed is there, and in no frame's variables."""
    settings.DEBUG = True
    request, exc_info = failure(CheckCodeView, rf, {"mobile": NUMBER, "code": CODE}, "form")
    html, _, reporter = reports(request, exc_info)
    assert [(f, n) for f, n, v in frame_values(reporter) if CODE in v] == []
    assert {f for f, _, _ in frame_values(reporter)} >= CHECK_FRAMES
    post = reporter.get_traceback_data()["filtered_POST_items"]
    assert ("code", CODE) in list(post)
    assert html.count(CODE) == 1, "the POST table only"


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("content_type", ["json", "form"])
def test_no_code_in_the_report_of_a_failed_send(failing_send, rf, settings, debug, content_type):
    settings.DEBUG = debug
    request, exc_info = failure(RequestCodeView, rf, {"mobile": NUMBER}, content_type)
    assert_no_code(*reports(request, exc_info), SEND_FAILED, SEND_FRAMES)


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_no_code_in_the_report_of_a_failed_send_with_a_template(failing_send, rf, settings, debug):
    from django_xunchen.models import Template

    Template.objects.create(template_id="CODE-1", name="code", body="验证码@1@，@2@分钟内有效")
    settings.XUNCHEN["VERIFICATION"]["TEMPLATE"] = "CODE-1"
    settings.DEBUG = debug
    request, exc_info = failure(RequestCodeView, rf, {"mobile": NUMBER}, "json")
    assert_no_code(*reports(request, exc_info), SEND_FAILED, SEND_FRAMES)


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_no_code_in_the_report_of_a_form_whose_check_failed(failing_check, settings, debug):
    settings.DEBUG = debug
    form = PhoneCodeForm({"mobile": NUMBER, "code": CODE})
    with pytest.raises(DatabaseError) as caught:
        form.is_valid()
    html, text, reporter = reports(None, (caught.type, caught.value, caught.tb))
    assert_no_code(html, text, reporter, CHECK_FAILED, {"clean", "check_code"})


# ------------------------------------------------------------------ through Django's handler


@pytest.fixture
def html_error_email(monkeypatch, settings):
    """Django's mail_admins handler, with the HTML report (frame locals) attached."""
    import logging

    from django.utils.log import AdminEmailHandler

    settings.ADMINS = [("Ops", "ops@example.com")]
    (handler,) = [
        h for h in logging.getLogger("django").handlers if isinstance(h, AdminEmailHandler)
    ]
    monkeypatch.setattr(handler, "include_html", True)


def test_no_code_in_the_error_email_of_a_failed_check(failing_check, html_error_email):
    client = Client(raise_request_exception=False)
    body = json.dumps({"mobile": NUMBER, "code": CODE})
    answer = client.post(reverse("django_xunchen:check_code"), body, "application/json")
    assert answer.status_code == 500
    (email,) = mail.outbox
    report = "\n".join([email.body] + [content for content, _ in email.alternatives])
    assert CHECK_FAILED in report and "Local Vars" in report
    assert CODE not in report


def test_no_code_in_the_error_email_or_the_debug_page_of_a_failed_send(
    failing_send, html_error_email, settings
):
    client = Client(raise_request_exception=False)
    url = reverse("django_xunchen:request_code")
    assert client.post(url, {"mobile": NUMBER}).status_code == 500
    (email,) = mail.outbox
    report = "\n".join([email.body] + [content for content, _ in email.alternatives])
    assert SEND_FAILED in report and "Local Vars" in report
    assert CODE not in report
    settings.DEBUG = True
    page = client.post(url, {"mobile": "13900139000"}).content.decode()
    assert SEND_FAILED in page and "Local vars" in page.replace("Local Vars", "Local vars")
    assert CODE not in page


# ------------------------------------------------------------------ the send request


@pytest.mark.parametrize("template", [False, True], ids=["text", "template"])
def test_a_sensitive_send_request_masks_its_text_in_repr_and_str(template):
    if template:
        request = build_send_request(
            NUMBER, template_id="T-1", params={1: CODE, 2: "5"}, sensitive=True
        )
    else:
        request = build_send_request(NUMBER, f"您的验证码是{CODE}。", sensitive=True)
    for shown in (repr(request), str(request), f"{request}", f"{request!r}"):
        assert CODE not in shown and "SendRequest(" in shown and NUMBER in shown
    assert CODE in request.content, "the wire gets the text"
    assert request == dataclasses.replace(request, sensitive=False), "same submission"


def test_a_send_request_built_from_a_secret_is_sensitive():
    from django_xunchen.client.secret import Secret

    assert build_send_request(NUMBER, Secret(f"验证码{CODE}")).sensitive
    assert build_send_request(NUMBER, template_id="T-1", params=[Secret(CODE)]).sensitive
    assert not build_send_request(NUMBER, f"订单{CODE}").sensitive
    assert CODE in repr(build_send_request(NUMBER, f"订单{CODE}")), "an ordinary SMS shows"


def test_the_outbox_entry_of_a_code_shows_no_code(fixed_code, xunchen_outbox, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    assert request_code(NUMBER).sent
    (sent,) = xunchen_outbox
    assert sent.request.sensitive and CODE in sent.request.content
    assert CODE not in repr(sent) and CODE not in repr(xunchen_outbox)
    assert CODE not in "\n".join(r.getMessage() for r in caplog.records)
