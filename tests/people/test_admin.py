"""One person's data from the admin (export and erase actions, each with its own
permission), the message log's export (CSV streamed, XLSX capped), and the trail of
staff actions in the admin log."""

import csv
import io
import zipfile

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from django_xunchen import send_sms
from django_xunchen.admin.views import export
from django_xunchen.models import Erasure, Message, ThrottleEvent
from django_xunchen.people.erase import digest, erasures_of

from ..admin.conftest import _staff

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
CHANGELIST = reverse("admin:django_xunchen_message_changelist")


def act(client, action, pks, **extra):
    data = {"action": action, "_selected_action": pks, "index": 0, **extra}
    return client.post(CHANGELIST, data)


def trail(action):
    return list(
        LogEntry.objects.filter(object_repr__startswith=f"{action}: ").values_list(
            "object_repr", flat=True
        )
    )


def test_export_a_persons_data_from_the_message_list(admin_client, xunchen_outbox):
    (message,) = send_sms(NUMBER, "您的订单已发货")
    answer = act(admin_client, "export_person_data", [message.pk])
    assert answer["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert NUMBER in archive.read("person.json").decode()
    (entry,) = trail("person_export")
    assert NUMBER not in entry and digest(NUMBER)[:16] in entry


def test_erase_asks_first_then_erases_and_is_recorded(admin_client, xunchen_outbox):
    (message,) = send_sms(NUMBER, "您的订单已发货")
    page = act(admin_client, "erase_person_data", [message.pk])
    assert page.status_code == 200 and 'id="erase-summary"' in page.content.decode()
    assert Message.objects.get().mobile == NUMBER, "the question writes nothing"
    act(admin_client, "erase_person_data", [message.pk], post="yes")
    assert Message.objects.get().mobile == ""
    record = erasures_of(NUMBER).get()
    assert record.requested_by.is_superuser
    (entry,) = trail("erase")
    assert f"#{record.pk}" in entry and NUMBER not in entry


def test_each_needs_its_own_permission(client, xunchen_outbox):
    (message,) = send_sms(NUMBER, "您的订单已发货")
    client.force_login(_staff("clerk", "view_message"))
    act(client, "erase_person_data", [message.pk], post="yes")
    act(client, "export_person_data", [message.pk])
    assert Message.objects.get().mobile == NUMBER and not Erasure.objects.exists()
    assert not trail("person_export")


def test_the_message_log_exports_what_the_list_shows(admin_client, xunchen_outbox):
    send_sms(NUMBER, '=HYPERLINK("http://evil")')
    send_sms("13900139000", "您的订单已发货", kind="notification")
    send_sms("13700137000", "会员日", kind="marketing")
    url = reverse("admin:django_xunchen_message_export", args=["csv"])
    answer = admin_client.get(url, {"kind__exact": "notification"})
    body = b"".join(answer.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == export.COLUMNS
    assert sorted(r[2] for r in rows[1:]) == [NUMBER, "13900139000"], "the filter holds"
    assert any(r[6].startswith("'=HYPERLINK") for r in rows[1:]), "never a formula"
    (entry,) = trail("export")
    assert entry.startswith("export: 2 ")
    xlsx = admin_client.get(reverse("admin:django_xunchen_message_export", args=["xlsx"]))
    assert "spreadsheetml" in xlsx["Content-Type"]


def test_xlsx_is_capped(admin_client, xunchen_outbox, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 1)
    send_sms([NUMBER, "13900139000"], "您好")
    answer = admin_client.get(reverse("admin:django_xunchen_message_export", args=["xlsx"]))
    assert answer.status_code == 302 and not trail("export")


def test_the_app_s_actions_leave_their_entries(admin_client, xunchen_outbox):
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin_client.post(
        reverse("admin:django_xunchen_message_send"),
        {"mobiles": NUMBER, "content": "您好", "kind": "notification", "account": "default"},
    )
    (sent,) = Message.objects.all()
    act(admin_client, "resend_selected", [sent.pk], post="yes")
    admin_client.post(
        reverse("admin:django_xunchen_suppression_import"),
        {"file": SimpleUploadedFile("a.csv", b"13900139000\r\n"), "scope": "marketing"},
    )
    event = ThrottleEvent.objects.create(
        mobile=NUMBER, prefix=NUMBER[:7], purpose="login", outcome="sent"
    )
    admin_client.post(
        reverse("admin:django_xunchen_throttleevent_changelist"),
        {"action": "lift_selected", "_selected_action": [event.pk], "index": 0},
    )
    assert [len(trail(a)) for a in ("send", "resend", "import", "lift")] == [1, 1, 1, 1]
    log = admin_client.get(reverse("admin:admin_logentry_changelist"), {"sms_action": "resend"})
    assert log.status_code == 200 and "resend: 1 " in log.content.decode()


def test_campaign_steps_consent_imports_and_list_exports_leave_their_entries(
    admin_client, xunchen_outbox
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from django_xunchen import campaigns
    from django_xunchen.models import Campaign

    campaign = Campaign.objects.create(name="双十二", kind="notification", content="您好")
    campaigns.stage(campaign, io.BytesIO(b"13800138000\r\n13900139000\r\n"), "a.csv")
    for step in ("confirm", "pause", "resume", "cancel"):
        url = reverse("admin:django_xunchen_campaign_step", args=[campaign.pk, step])
        admin_client.post(url)
    assert trail("confirm") == [f"confirm: 2 messages, campaign #{campaign.pk}"]
    assert [len(trail(s)) for s in ("pause", "resume", "cancel")] == [1, 1, 1]
    admin_client.post(
        reverse("admin:django_xunchen_consent_import"),
        {
            "file": SimpleUploadedFile("名单.csv", b"13800138000,2025-01-02\r\n"),
            "scope": "marketing",
            "wording": "同意",
            "note": "登记表",
        },
    )
    assert trail("import") == ["import: 1 consent entry, 名单.csv"]
    from django_xunchen.models import Suppression

    entry = Suppression.objects.create(mobile=NUMBER, source="staff")
    admin_client.post(
        reverse("admin:django_xunchen_suppression_changelist"),
        {"action": "export_csv", "_selected_action": [entry.pk], "index": 0},
    )
    assert trail("export") == ["export: 1 suppressed number, CSV"]
