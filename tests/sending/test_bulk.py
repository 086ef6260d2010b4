"""Large sends are written with COPY on PostgreSQL: the rows must be exactly what the ORM
would have written."""

import datetime as dt

import pytest
from django.utils import timezone

from django_xunchen import send_sms
from django_xunchen.models import Message, Template
from django_xunchen.sending.bulk import COPY_FROM, insert_messages

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]
SKIP = {"id", "created_at", "updated_at", "batch"}


def values(message):
    return {
        f.attname: getattr(message, f.attname)
        for f in Message._meta.concrete_fields
        if f.attname not in SKIP
    }


def test_copy_writes_what_bulk_create_writes():
    template = Template.objects.create(template_id="T-1", name="t", body="@1@ 您好")
    later = timezone.now() + dt.timedelta(days=1)

    def row(number):
        return Message(
            mobile=f"138{number:08d}",
            content="内容 '引号' \\ 反斜杠\\n 换行\n制表\t回车\r \\N 完",
            template=template,
            params={"1": "张三, =x"},
            extcode="12",
            send_at=later,
            expires_at=later + dt.timedelta(hours=1),
            kind="marketing",
            account="default",
            tags=["双十一", "promo"],
            metadata={"campaign": 7, "nested": {"a": [1, None, True, "\t\\"]}},
            masked=False,
            parts=2,
            blocked_words=[],
        )

    copied = [row(i) for i in range(COPY_FROM)]
    insert_messages(copied)
    plain = [row(COPY_FROM + i) for i in range(3)]
    Message.objects.bulk_create(plain)
    stored = {m.pk: m for m in Message.objects.all()}
    assert len(stored) == COPY_FROM + 3
    assert all(r.pk in stored and not r._state.adding for r in copied)
    reference = values(stored[plain[0].pk])
    for original in copied[:: COPY_FROM // 10]:
        got = values(stored[original.pk])
        assert {**got, "mobile": reference["mobile"]} == reference
        assert stored[original.pk].created_at is not None
        assert stored[original.pk].batch == original.batch


def test_a_large_send_goes_through_copy_and_out(xunchen_outbox):
    rows = send_sms([f"139{i:08d}" for i in range(COPY_FROM)], "大批量", tags=["big"])
    assert {r.status for r in rows} == {"sent"}
    assert Message.objects.filter(status="sent", tags__contains=["big"]).count() == COPY_FROM
    assert sum(len(s.mobiles) for s in xunchen_outbox) == COPY_FROM


def test_rows_that_differ_are_written_as_they_are():
    """The columns one send shares are formatted once; what differs is not lost."""
    rows = [
        Message(mobile=f"137{i:08d}", content=f"第{i}条\t{i}", account="default", parts=1)
        for i in range(COPY_FROM)
    ]
    rows[5].status = Message.Status.SUPPRESSED
    rows[5].error_message = "listed\nhere"
    rows[7].tags = ["only-me"]
    rows[9].send_at = None if rows[9].send_at else timezone.now()
    insert_messages(rows)
    stored = {m.pk: m for m in Message.objects.all()}
    for row in rows:
        assert values(stored[row.pk]) == values(row)
    assert stored[rows[5].pk].status == "suppressed"
    assert stored[rows[5].pk].error_message == "listed\nhere"
    assert stored[rows[7].pk].tags == ["only-me"] and stored[rows[8].pk].tags == []
