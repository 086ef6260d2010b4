"""A poll answer cut off at any byte: only the reports completed before the cut are
stored, and none of them is a record cut half-way (a delivered message never ends
``undelivered`` because its ``DELIVRD`` was cut to ``DEL``)."""

import pytest

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import ResponseCutOffError
from django_xunchen.models import Message, PollJournalEntry, Report

pytestmark = pytest.mark.django_db
S = Message.Status


class CutAnswer(locmem.SMSBackend):
    """The gateway's answer, cut off after ``cut`` bytes."""

    cut = 0
    whole = b""

    def fetch_reports(self):
        raw = super().fetch_reports()
        CutAnswer.whole = raw.body
        raise ResponseCutOffError("queryReport: the answer broke off", raw.body[: self.cut])


def test_no_cut_of_an_answer_invents_a_report_or_an_undelivered_message(xunchen_outbox):
    send_sms(["13800138000", "13900139000", "13700137000"], "验证码 1234")
    locmem.deliver_all()
    poll(force=True, inbound=False, backend=f"{__name__}.CutAnswer")  # learns the whole body
    whole = CutAnswer.whole
    assert whole.count(b"</rpt>") == 3
    for cut in range(whole.index(b"<sms>") + 5, len(whole)):
        Report.objects.all().delete()
        PollJournalEntry.objects.all().delete()
        Message.objects.update(status=S.SENT, report_status="", reported_at=None)
        locmem.deliver_all()
        CutAnswer.cut = cut
        poll(force=True, inbound=False, backend=f"{__name__}.CutAnswer")
        completed = whole[:cut].count(b"</rpt>")
        statuses = sorted(Message.objects.values_list("status", flat=True))
        assert Report.objects.count() == completed, f"cut at byte {cut}"
        assert set(Report.objects.values_list("status", flat=True)) <= {"DELIVRD"}
        assert S.UNDELIVERED not in statuses, f"cut at byte {cut}"
        assert statuses.count(S.DELIVERED) == completed
