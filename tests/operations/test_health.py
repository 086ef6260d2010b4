"""Is polling healthy? The poll_sms check fails until a poll succeeds and once the
last one is too old, the admin shows a banner while polling looks stopped, and a
sent message whose gateway day ended without a report is flagged."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.models import (
    Message,
    PollState,
    gateway_day_start,
)

pytestmark = pytest.mark.django_db(transaction=True)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


def test_poll_sms_check_fails_until_a_poll_succeeds_and_when_it_is_too_old(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "POLL_MAX_AGE": 600}
    with pytest.raises(CommandError, match="ever been fetched"):
        call_command("poll_sms", "--check")
    assert poll(force=True).ok
    call_command("poll_sms", "--check")
    PollState.objects.update(last_success_at=timezone.now() - dt.timedelta(minutes=11))
    with pytest.raises(CommandError, match="11 minutes ago"):
        call_command("poll_sms", "--check")


def test_a_failed_fetch_does_not_count_as_healthy(gateway):
    assert poll().ok
    before = PollState.objects.get(operation="queryReport").last_success_at
    gateway.account.very_code = "changed"
    assert not poll(force=True).ok
    state = PollState.objects.get(operation="queryReport")
    assert state.last_success_at == before
    assert "105" in state.last_error


def test_the_admin_shows_a_banner_while_polling_looks_stopped(settings, admin_client):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    changelist = reverse("admin:django_xunchen_message_changelist")
    assert "SMS needs attention" in admin_client.get(changelist).content.decode()
    poll(force=True)
    assert "SMS needs attention" not in admin_client.get(changelist).content.decode()


def test_a_sent_message_whose_gateway_day_ended_is_flagged(admin_client, xunchen_outbox):
    old, today = send_sms(["13800138000", "13900000000"], "x", backend=LOCMEM)
    start = gateway_day_start()
    Message.objects.filter(pk=old.pk).update(submitted_at=start - dt.timedelta(minutes=5))
    Message.objects.filter(pk=today.pk).update(submitted_at=start + dt.timedelta(minutes=1))
    assert list(Message.objects.report_overdue()) == [Message.objects.get(pk=old.pk)]
    assert Message.objects.get(pk=old.pk).is_report_overdue
    assert not Message.objects.get(pk=today.pk).is_report_overdue

    changelist = reverse("admin:django_xunchen_message_changelist")
    page = admin_client.get(changelist + "?report=overdue")
    shown = list(page.context["cl"].result_list)
    assert shown == [Message.objects.get(pk=old.pk)]
    assert "xunchen-overdue" in page.content.decode()
    dashboard = admin_client.get(reverse("admin:django_xunchen_message_dashboard"))
    assert dashboard.context["report_overdue"] == 1


def test_a_scheduled_message_counts_from_its_send_time(xunchen_outbox):
    send_sms("13800138000", "x", backend=LOCMEM)
    start = gateway_day_start()
    Message.objects.update(
        submitted_at=start - dt.timedelta(hours=5), send_at=start + dt.timedelta(hours=1)
    )
    assert not Message.objects.report_overdue().exists()


def test_a_message_whose_send_time_passed_in_the_queue_counts_from_its_submission(
    xunchen_outbox,
):
    """Scheduled for yesterday but held (quiet hours, a stopped worker) and submitted
    today: it went out today, so its report may still come."""
    late, old = send_sms(["13800138000", "13900000000"], "x", backend=LOCMEM)
    start = gateway_day_start()
    Message.objects.filter(pk=late.pk).update(
        send_at=start - dt.timedelta(hours=2), submitted_at=start + dt.timedelta(hours=1)
    )
    Message.objects.filter(pk=old.pk).update(
        send_at=start - dt.timedelta(hours=2), submitted_at=start - dt.timedelta(hours=3)
    )
    assert list(Message.objects.report_overdue()) == [Message.objects.get(pk=old.pk)]
    assert not Message.objects.get(pk=late.pk).is_report_overdue
    assert Message.objects.get(pk=old.pk).is_report_overdue
