"""The sending policy in the admin: the suppression list, learned words, spend."""

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_xunchen import send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import BlockedWord, Message, Suppression, Template

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_xunchen_suppression_changelist")
IMPORT = reverse("admin:django_xunchen_suppression_import")


@pytest.fixture
def signals():
    from django_xunchen import signals as module

    got = []

    def out(sender, **kwargs):
        got.append(("out", kwargs["mobile"]))

    def back(sender, **kwargs):
        got.append(("in", kwargs["mobile"]))

    module.opted_out.connect(out)
    module.opted_in.connect(back)
    yield got
    module.opted_out.disconnect(out)
    module.opted_in.disconnect(back)


def test_staff_add_search_and_remove_a_number(
    admin_client, signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:django_xunchen_suppression_add"),
            {"mobile": "+86 138-0013-8000", "scope": "all", "cause": "asked by phone"},
        )
    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert (entry.mobile, entry.scope, entry.source) == ("13800138000", "all", "staff")
    page = admin_client.get(CHANGELIST + "?q=13800138000")
    assert len(page.context["cl"].result_list) == 1
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:django_xunchen_suppression_delete", args=[entry.pk]), {"post": "yes"}
        )
    assert not Suppression.objects.exists()
    assert signals == [("out", "13800138000"), ("in", "13800138000")]


def test_a_bad_number_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:django_xunchen_suppression_add"), {"mobile": "123", "scope": "marketing"}
    )
    assert response.status_code == 200 and not Suppression.objects.exists()


@pytest.mark.parametrize("fmt", ["csv-utf8", "csv-gbk", "xlsx"])
def test_import(admin_client, fmt):
    rows = [
        ["手机号"],
        ["13800138000"],
        ["+86 139 0000 0000"],
        ["1.3700137000E+10"],
        ["1.37E+10"],
        ["not"],
    ]
    if fmt == "xlsx":
        data = tablib.Dataset(*rows[1:], headers=rows[0])
        data.append([13600136000])
        upload = SimpleUploadedFile("numbers.xlsx", data.export("xlsx"))
    else:
        text = "\n".join(r[0] for r in rows) + "\n13600136000.0\n"
        encoding = "gbk" if fmt == "csv-gbk" else "utf-8-sig"
        upload = SimpleUploadedFile("numbers.csv", text.encode(encoding))
    response = admin_client.post(IMPORT, {"file": upload, "scope": "marketing"}, follow=True)
    text = response.content.decode()
    assert "4 numbers added" in text and "not" in text and "1.37E+10" in text
    assert set(Suppression.objects.values_list("mobile", "source")) == {
        ("13800138000", "import"),
        ("13900000000", "import"),
        ("13700137000", "import"),
        ("13600136000", "import"),
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export(admin_client, fmt):
    Suppression.objects.create(mobile="13800138000", source="reply", cause="退订")
    response = admin_client.post(
        CHANGELIST,
        {
            "action": f"export_{fmt}",
            "_selected_action": list(Suppression.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 200
    assert f'.{fmt}"' in response["Content-Disposition"]
    data = tablib.Dataset().load(
        response.content if fmt == "xlsx" else response.content.decode("utf-8-sig"), format=fmt
    )
    assert data.headers == ["mobile", "scope", "source", "cause", "since"]
    assert list(data[0][:4]) == ["13800138000", "marketing", "reply", "退订"]


def test_learned_words_are_listed_disabled_and_imported(admin_client):
    BlockedWord.objects.create(word="发票")
    changelist = reverse("admin:django_xunchen_blockedword_changelist")
    assert "发票" in admin_client.get(changelist).content.decode()
    admin_client.post(
        changelist,
        {"action": "disable", "_selected_action": [BlockedWord.objects.get().pk]},
    )
    assert not BlockedWord.objects.get().is_active
    admin_client.post(
        reverse("admin:django_xunchen_blockedword_import"),
        {"account": "default", "words": "代开\n发票\n\n  刷单 "},
    )
    assert sorted(BlockedWord.objects.values_list("word", flat=True)) == ["代开", "刷单", "发票"]


def test_the_template_list_flags_a_missing_footer(admin_client):
    Template.objects.create(template_id="M-1", name="promo", body="@1@折")
    Template.objects.create(template_id="M-2", name="promo ok", body="@1@折，回T退订")
    page = admin_client.get(reverse("admin:django_xunchen_template_changelist")).content.decode()
    assert page.count('alt="False"') == 1 and page.count('alt="True"') >= 2


def test_the_dashboard_shows_spend_per_account(admin_client, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "SIGNATURE": "【签名】"}
    send_sms(["13800138000", "13900139000"], "字" * 70)
    response = admin_client.get(reverse("admin:django_xunchen_message_dashboard"))
    (today,) = response.context["spend"]
    assert str(today["total"]) == "0.4", "2 numbers × 2 parts × 0.1"
    assert response.context["spend_accounts"] == ["default"]


def test_a_suppressed_message_shows_in_the_list(admin_client):
    Suppression.objects.create(mobile="13800138000", source="staff")
    send_sms("13800138000", "新品", kind="marketing", fail_silently=True)
    page = admin_client.get(
        reverse("admin:django_xunchen_message_changelist") + "?status__exact=suppressed"
    )
    assert len(page.context["cl"].result_list) == 1
    assert "xunchen-status-suppressed" in page.content.decode()
    locmem.reset()
    assert Message.objects.get().status == "suppressed"
