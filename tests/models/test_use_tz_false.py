import datetime as dt

import pytest
from django.test import override_settings

from django_xunchen import poll, send_sms
from django_xunchen.models import InboundMessage, Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_and_poll_with_use_tz_false(gateway):
    with override_settings(USE_TZ=False, TIME_ZONE="Asia/Shanghai"):
        at = dt.datetime.now() + dt.timedelta(hours=1)  # naive local time
        send_sms("13800138000", "naive", send_at=at, extcode="3")
        assert gateway.submissions[0].sendtime == at.strftime("%Y%m%d%H%M%S")
        gateway.deliver_now()
        gateway.state.reports[gateway.account.username][0].due = 0
        gateway.inject_reply("13800138000", "ok", "3")
        result = poll()
        assert result.ok, result.errors
        stored = Message.objects.get()
        assert stored.status == "delivered"
        assert stored.reported_at.tzinfo is None
        assert InboundMessage.objects.get().received_at.tzinfo is None


def test_send_time_in_another_zone_is_converted_to_china_time(gateway):
    at = dt.datetime(2099, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    send_sms("13800138000", "utc", send_at=at)
    assert gateway.submissions[0].sendtime == "20990101080000"


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_report_overdue_with_use_tz_false(gateway, zone):
    from zoneinfo import ZoneInfo

    from django_xunchen.models import gateway_day_start

    with override_settings(USE_TZ=False, TIME_ZONE=zone):
        old, today = send_sms(["13800138000", "13900000000"], "naive")
        start = gateway_day_start().astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        Message.objects.filter(pk=old.pk).update(submitted_at=start - dt.timedelta(minutes=1))
        Message.objects.filter(pk=today.pk).update(submitted_at=start + dt.timedelta(minutes=1))
        assert list(Message.objects.report_overdue()) == [Message.objects.get(pk=old.pk)]
        assert Message.objects.get(pk=old.pk).is_report_overdue
        assert not Message.objects.get(pk=today.pk).is_report_overdue
