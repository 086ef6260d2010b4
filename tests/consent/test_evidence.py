"""Evidence on request: the import of existing consents (a grant per row, its file and
row as evidence, all or nothing), and one number's evidence document from the admin and
from ``manage.py sms_consent_evidence``."""

import datetime as dt
import io
import json

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from django_xunchen import send_sms
from django_xunchen.consent import grant_consent, has_consent
from django_xunchen.consent.imports import import_consents
from django_xunchen.models import Consent, Message
from django_xunchen.uploads import UploadError

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
WORDING = "我同意接收某某书店的优惠短信。"


def csv(text):
    return io.BytesIO(text.encode("gbk"))


def test_an_imported_grant_carries_its_file_and_row(admin_user):
    done = import_consents(
        csv("手机号码,同意时间\r\n13800138000,2025-03-01 10:30\r\n+86 139 0013 9000,\r\n"),
        "会员名单.csv",
        wording=WORDING,
        note="2025 门店登记表",
        staff=admin_user,
        agreed_at=timezone.make_aware(dt.datetime(2024, 6, 1)),
    )
    assert done.granted == 2
    first, second = Consent.objects.order_by("file_row")
    assert (first.mobile, first.file_name, first.file_row) == (NUMBER, "会员名单.csv", 2)
    assert timezone.localtime(first.at).isoformat() == "2025-03-01T10:30:00+08:00"
    assert (second.mobile, second.file_row, second.source) == ("13900139000", 3, "import")
    assert timezone.localtime(second.at).date() == dt.date(2024, 6, 1), "the file's date"
    assert (second.wording, second.note, second.staff_name) == (
        WORDING,
        "2025 门店登记表",
        admin_user.get_username(),
    )
    assert has_consent(NUMBER) and has_consent("13900139000")


def test_an_xlsx_file_with_dates_as_excel_stores_them():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["手机号码", "同意时间"])
    sheet.append([13800138000, dt.datetime(2025, 3, 1, 10, 30)])
    sheet.append(["139-0013-9000", dt.date(2024, 12, 31)])
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    assert import_consents(data, "名单.xlsx", wording=WORDING).granted == 2
    times = [timezone.localtime(e.at).isoformat() for e in Consent.objects.order_by("file_row")]
    assert times == ["2025-03-01T10:30:00+08:00", "2024-12-31T00:00:00+08:00"]


@pytest.mark.parametrize(
    "text",
    [
        "13800138000,2025-01-01\r\n12345,2025-01-01\r\n",
        "13800138000,not a date\r\n",
        "13800138000,2999-01-01\r\n",
        '13800138000,2025-01-01\r\n=HYPERLINK("http://x"),2025-01-01\r\n',
        "13800138000\r\n",  # no date, and none for the file: "now" would undo withdrawals
    ],
)
def test_a_file_with_a_bad_row_imports_nothing(text):
    with pytest.raises(UploadError, match="Nothing was imported"):
        import_consents(csv(text), "a.csv", wording=WORDING)
    assert not Consent.objects.exists()


def test_the_import_page(admin_client):
    url = reverse("admin:django_xunchen_consent_import")
    upload = SimpleUploadedFile("名单.csv", b"13800138000,2025-01-02\r\n")
    answer = admin_client.post(
        url, {"file": upload, "scope": "marketing", "wording": WORDING, "note": "登记表"}
    )
    assert answer.status_code == 302
    assert Consent.objects.get().file_name == "名单.csv"
    bad = SimpleUploadedFile("x.csv", b"12345\r\n")
    page = admin_client.post(url, {"file": bad, "scope": "marketing", "wording": "w", "note": "n"})
    assert page.status_code == 200 and "Nothing was imported" in page.content.decode()


def _history(xunchen_outbox):
    send_sms(NUMBER, "双十二五折", kind="marketing")  # before any grant
    grant_consent(NUMBER, source="form", wording=WORDING, note="注册页")
    send_sms(NUMBER, "新书上架", kind="marketing")
    send_sms(NUMBER, "您的订单已发货")  # not marketing: not in the document


def test_the_document_lists_the_grant_its_evidence_and_the_marketing_after_it(xunchen_outbox):
    _history(xunchen_outbox)
    out = io.StringIO()
    call_command("sms_consent_evidence", "+86 138 0013 8000", "--format", "json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["mobile"] == NUMBER
    (grant,) = document["consent"]
    assert (grant["granted"], grant["source"], grant["wording"], grant["note"]) == (
        True,
        "form",
        WORDING,
        "注册页",
    )
    assert document["current"]["marketing"]["granted"] is True
    before, after = document["marketing_messages"]
    assert before["content"].startswith("双十二五折") and after["content"].startswith("新书上架")
    assert after["status"] == "sent"
    assert grant["at"] < document["marketing_messages"][1]["created_at"]
    assert document["suppression"] is None


def test_the_html_document_from_the_command_in_chinese(xunchen_outbox, tmp_path):
    _history(xunchen_outbox)
    target = tmp_path / "evidence.html"
    call_command("sms_consent_evidence", NUMBER, "--output", str(target), "--language", "zh-hans")
    page = target.read_text(encoding="utf-8")
    assert "同意记录" in page and WORDING in page and "新书上架" in page


def test_a_bad_number_is_a_command_error():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("sms_consent_evidence", "12345")


def test_the_admin_page_needs_its_own_permission(client, xunchen_outbox):
    _history(xunchen_outbox)
    url = reverse("admin:django_xunchen_consent_evidence", args=[NUMBER])
    staff = User.objects.create_user("clerk", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_consent"))
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_consent_evidence"))
    client.force_login(User.objects.get(pk=staff.pk))
    page = client.get(url).content.decode()
    assert WORDING in page and 'id="consent-history"' in page and "新书上架" in page
    data = json.loads(client.get(url, {"format": "json"}).content)
    assert data["mobile"] == NUMBER and len(data["marketing_messages"]) == 2
    found = client.get(reverse("admin:django_xunchen_consent_find"), {"mobile": "+86 13800138000"})
    assert found.status_code == 302 and found["Location"] == url
    assert (
        client.get(reverse("admin:django_xunchen_consent_evidence", args=["x"])).status_code == 404
    )


def test_the_ledger_in_the_admin_is_read_only_and_staff_record_as_staff(admin_client, admin_user):
    answer = admin_client.post(
        reverse("admin:django_xunchen_consent_add"),
        {
            "mobile": "138 0013 8000",
            "scope": "marketing",
            "granted": "on",
            "at_0": "2026-12-01",
            "at_1": "10:00:00",
            "wording": "电话中口头同意",
            "note": "客服电话录音 #42",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    entry = Consent.objects.get()
    assert entry.ip is None and entry.user_agent == "", "staff's own address is no evidence"
    assert (entry.source, entry.staff_name, entry.mobile) == (
        "staff",
        admin_user.get_username(),
        NUMBER,
    )
    change = reverse("admin:django_xunchen_consent_change", args=[entry.pk])
    page = admin_client.get(change).content.decode()
    assert 'name="wording"' not in page, "shown, never changed"
    delete = reverse("admin:django_xunchen_consent_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Consent.objects.count() == 1
    assert Message.objects.count() == 0


def test_an_undated_row_never_undoes_a_later_withdrawal():
    from django_xunchen.consent import withdraw_consent

    withdraw_consent(NUMBER)
    long_ago = timezone.now() - dt.timedelta(days=400)
    import_consents(csv("13800138000\r\n"), "old.csv", agreed_at=long_ago)
    assert not has_consent(NUMBER)


def test_without_time_zones_the_import_reads_the_dates(settings):
    settings.USE_TZ = False
    import_consents(csv("13800138000,2025-03-01 10:30\r\n"), "a.csv")
    assert Consent.objects.get().at == dt.datetime(2025, 3, 1, 10, 30)
