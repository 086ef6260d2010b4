"""From claimed rows to requests: which rows share a request, one backend opened per
dispatch, the account's signature index, a masked row never sent from the database,
one request at a time on SQLite, and how long a claimed row may stay ``sending``."""

import datetime as dt

import pytest

from django_xunchen import send_queued, send_sms
from django_xunchen.backends.locmem import SMSBackend as LocmemBackend
from django_xunchen.dispatch.claim import stale_after
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
N, M = "13800138000", "13800138001"


def test_a_row_may_stay_sending_for_the_longest_deadline_of_any_account(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "REQUEST_DEADLINE": 10,
        "OUTCOME_RETRY_SECONDS": 5,
        "ACCOUNTS": {"default": {}, "slow": {"REQUEST_DEADLINE": 100}},
    }
    assert stale_after() == dt.timedelta(seconds=105 + 60)
    settings.XUNCHEN = {**settings.XUNCHEN, "REQUEST_DEADLINE": None, "ACCOUNTS": {}}
    assert stale_after() == dt.timedelta(seconds=5 + 60)
    settings.XUNCHEN = {**settings.XUNCHEN, "SWEEP_MARGIN": 2.5}
    assert stale_after() == dt.timedelta(seconds=5 + 2.5)


def test_a_dispatch_opens_each_backend_once_and_closes_it(settings):
    from django_xunchen.backends import locmem

    calls = []

    class Recording(locmem.SMSBackend):
        def open(self):
            calls.append("open")

        def close(self):
            calls.append("close")

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": f"{__name__}.Recording"}
    globals()["Recording"] = Recording
    try:
        assert len(send_sms([f"1380000{i:04d}" for i in range(250)], "三个请求")) == 250
    finally:
        del globals()["Recording"]
    assert calls == ["open", "close"]


def test_template_messages_whose_stored_texts_differ_still_go_in_one_request(
    settings, xunchen_outbox
):
    """The gateway renders a template from its id and params: a text stored before the
    template's wording was edited does not split the request."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    template = Template.objects.create(template_id="T-1", name="t", body="订单@1@已发货")
    for mobile, text in [(N, "订单42已发货"), ("13900139000", "您的订单42已发货")]:
        Message.objects.create(mobile=mobile, content=text, template=template, params={"1": "42"})
    assert send_queued()["sent"] == 2
    assert [sorted(s.request.mobiles) for s in xunchen_outbox] == [[N, "13900139000"]]


def test_a_masked_row_is_never_sent_from_the_database(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    Message.objects.create(mobile=N, content="验证码 ●●●●●●", kind="verification", masked=True)
    send_queued()
    row = Message.objects.get()
    assert (row.status, row.error_message) == (
        S.FAILED,
        "the stored text has a verification code masked out; it is never sent from the database",
    )
    assert not xunchen_outbox


def test_the_account_s_signature_index_goes_with_each_request(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "SIGN_INDEX": 2}
    send_sms(N, "您好")
    assert xunchen_outbox[0].request.sign_index == 2


def test_template_rows_group_by_their_params_whatever_order_the_keys_were_stored_in(
    settings, xunchen_outbox
):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    template = Template.objects.create(template_id="T-2", name="t", body="@1@的订单@2@已发货")
    for mobile, params in [(N, {"1": "李", "2": "42"}), (M, {"2": "42", "1": "李"})]:
        Message.objects.create(
            mobile=mobile, content="李的订单42已发货", template=template, params=params
        )
    assert send_queued()["sent"] == 2
    assert [sorted(s.request.mobiles) for s in xunchen_outbox] == [[N, M]]


def test_requests_go_one_at_a_time_on_sqlite_and_inside_a_transaction(settings):
    """SQLite has a single writer, and other connections would not see a transaction's
    rows: elsewhere CONCURRENCY requests go at once, never more than there are."""
    from django.db import connection, transaction

    from django_xunchen.dispatch.submit import _concurrency

    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 3}
    chunk = [Message(mobile=N)]
    parallel = connection.vendor != "sqlite"
    assert _concurrency([chunk]) == 1
    assert _concurrency([chunk] * 2) == (2 if parallel else 1)
    assert _concurrency([chunk] * 5) == (3 if parallel else 1)
    with transaction.atomic():
        assert _concurrency([chunk] * 5) == 1


def test_a_wire_text_is_masked_in_the_request_s_repr_even_as_a_plain_string():
    """A code reaches the request as a Secret, masked in any repr; a wire text that is
    a plain string is masked too (a second guard), and an ordinary text is shown."""
    from django_xunchen.backends import get_backend
    from django_xunchen.dispatch.submit import WireText, _request_for

    backend = get_backend(LOCMEM)
    code = Message(pk=1, mobile=N, content="您的验证码是******", kind="verification", masked=True)
    request = _request_for([code], [N], backend, {1: WireText(content="您的验证码是123456")})
    assert request.content == "您的验证码是123456" and "123456" not in repr(request)
    notice = Message(pk=2, mobile=N, content="您的订单已发货")
    assert "您的订单已发货" in repr(_request_for([notice], [N], backend, {}))


in_flight: list = []


class ClaimSpy(LocmemBackend):
    """Reads the rows while their request is in flight."""

    def send(self, request):
        in_flight.extend(Message.objects.values_list("status", "updated_at", "requested_at"))
        return super().send(request)


def test_the_claim_is_a_change_of_the_row_at_its_time():
    import time_machine
    from django.utils import timezone

    written = timezone.now().replace(microsecond=0)
    with time_machine.travel(written, tick=False):
        Message.objects.create(mobile=N, content="您的订单已发货")
    claimed = written + dt.timedelta(minutes=5)
    in_flight.clear()
    with time_machine.travel(claimed, tick=False):
        assert send_queued(backend=f"{__name__}.ClaimSpy")["sent"] == 1
    assert in_flight == [(S.SENDING, claimed, claimed)]
