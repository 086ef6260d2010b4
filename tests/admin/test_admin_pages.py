import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.admin import MessageAdmin
from django_xunchen.backends import locmem
from django_xunchen.exceptions import InsufficientBalanceError
from django_xunchen.models import InboundMessage, Message, Report

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:django_xunchen_message_changelist")
SEND = reverse("admin:django_xunchen_message_send")
BALANCE = reverse("admin:django_xunchen_message_balance")
DASHBOARD = reverse("admin:django_xunchen_message_dashboard")


def _messages(count, template=None):
    Message.objects.bulk_create(
        [
            Message(
                mobile=f"138{i:08d}",
                content=f"内容 {i}",
                template=template,
                status=Message.Status.DELIVERED,
                msgid=f"m{i}",
                reported_at=timezone.now(),
            )
            for i in range(count)
        ]
    )


def test_changelist_shows_the_columns(admin_client, template):
    _messages(3, template)
    page = admin_client.get(CHANGELIST).content.decode()
    for text in ["13800000001", "内容 1", "Verification code", "xunchen-status-delivered", "m1"]:
        assert text in page


def test_changelist_query_count_does_not_grow_with_rows(admin_client, template):
    _messages(5, template)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    _messages(45, template)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(CHANGELIST).status_code == 200
    assert len(many) == len(few)


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("status__exact=delivered", "13800000001"),
        ("q=13800000001", "13800000001"),
        ("q=m2", "13800000002"),
        ("q=内容", "13800000001"),
        (
            "created_at__range__gte_0=2020-01-01&created_at__range__gte_1=00:00:00"
            "&created_at__range__lte_0=2099-01-01&created_at__range__lte_1=00:00:00",
            "13800000001",
        ),
        ("reported_at__range__gte_0=2020-01-01&reported_at__range__gte_1=00:00:00", "13800000001"),
    ],
)
def test_filters_and_search(admin_client, template, query, shown):
    _messages(3, template)
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert shown in response.content.decode()


@pytest.mark.parametrize(
    ("query", "hidden"),
    [
        ("status__exact=failed", "13800000001"),
        ("q=13800000001", "13800000002"),
        ("reported_at__range__gte_0=2099-01-01&reported_at__range__gte_1=00:00:00", "13800000001"),
    ],
)
def test_filters_exclude(admin_client, query, hidden):
    _messages(3)
    assert hidden not in admin_client.get(f"{CHANGELIST}?{query}").content.decode()


def test_search_by_mobile_is_exact(admin_client):
    _messages(12)
    page = admin_client.get(f"{CHANGELIST}?q=13800000001").content.decode()
    assert "13800000001" in page and "13800000011" not in page


def test_detail_shows_reports_replies_and_resends(admin_client, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "SENDER_NUMBER": locmem.SENDER_NUMBER}
    (message,) = send_sms("13800138000", "需要回复", extcode="9")
    locmem.deliver_all()
    locmem.queue_reply("13800138000", "收到了", extcode="9")
    poll(force=True)
    page = admin_client.get(
        reverse("admin:django_xunchen_message_change", args=[message.pk])
    ).content.decode()
    assert "DELIVRD" in page and "收到了" in page and message.msgid in page
    assert 'name="mobile"' not in page, "gateway data is read-only"
    message.refresh_from_db()
    assert str(message.request) in page, "the request it went in, kept if the outcome is lost"
    assert "Requested:" in page


def test_no_page_shows_a_credential(admin_client):
    secret = settings.XUNCHEN["PASSWORD"]
    key = settings.XUNCHEN["VERY_CODE"]
    send_sms("13800138000", "x")
    pages = [
        CHANGELIST,
        SEND,
        BALANCE,
        DASHBOARD,
        reverse("admin:django_xunchen_polljournalentry_changelist"),
    ]
    for url in pages:
        page = admin_client.get(url).content.decode()
        assert secret not in page and key not in page, url


def test_send_form_normal_message(admin_client, xunchen_outbox):
    response = admin_client.post(
        SEND, {"mobiles": "13800138000\n139 0000 0000", "content": "后台发送"}
    )
    assert response.status_code == 302
    batch = Message.objects.first().batch
    assert response["Location"] == f"{CHANGELIST}?batch={batch}"
    assert xunchen_outbox[0].mobiles == ("13800138000", "13900000000")
    listing = admin_client.get(response["Location"]).content.decode()
    assert "13900000000" in listing


def test_send_form_template_message(admin_client, template, xunchen_outbox):
    response = admin_client.post(
        SEND, {"mobiles": "13800138000", "template": template.pk, "params": "1=张三\n2=9876"}
    )
    assert response.status_code == 302
    assert Message.objects.get().content == "尊敬的张三,您的验证码为9876，请及时输入。"


def test_send_form_names_every_bad_number(admin_client):
    response = admin_client.post(SEND, {"mobiles": "13800138000, 12345\nabc", "content": "x"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "12345" in page and "abc" in page and "Not a mainland China mobile number" in page
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"mobiles": "13800138000"}, "content", "Write the content"),
        ({"mobiles": "13800138000", "content": "x" * 301}, "content", "301 characters"),
        ({"mobiles": "13800138000", "content": "x", "extcode": "12a"}, "extcode", "1 to 4"),
        ({"mobiles": "13800138000", "content": "x", "params": "oops"}, "params", "N=value"),
    ],
)
def test_send_form_validation(admin_client, data, field, text):
    response = admin_client.post(SEND, data)
    assert response.status_code == 200
    assert text in response.context["form"].errors[field][0]
    assert Message.objects.count() == 0


def test_send_form_template_params_checked(admin_client, template):
    response = admin_client.post(
        SEND, {"mobiles": "13800138000", "template": template.pk, "params": "1=张三"}
    )
    assert "missing @2@" in response.context["form"].errors["params"][0]


def test_send_form_reports_a_gateway_refusal(admin_client):
    locmem.fail_next(InsufficientBalanceError("108", "send"))
    response = admin_client.post(SEND, {"mobiles": "13800138000", "content": "x"}, follow=True)
    assert Message.objects.get().status == "failed"
    assert "108" in response.content.decode()


def test_post_without_csrf_token_is_refused(db, django_user_model):
    user = django_user_model.objects.create_superuser("root", password="pw")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post(SEND, {"mobiles": "13800138000", "content": "x"}).status_code == 403
    assert Message.objects.count() == 0


def test_resend_action_confirms_then_resends(admin_client, xunchen_outbox):
    locmem.fail_next(InsufficientBalanceError("108", "send"))
    failed = send_sms(["13800138000", "13900000000"], "再试一次", fail_silently=True)
    queued = Message.objects.create(mobile="13700000000", content="waiting")
    ids = [str(m.pk) for m in failed] + [str(queued.pk)]
    data = {"action": "resend_selected", "_selected_action": ids}
    confirm = admin_client.post(CHANGELIST, data)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert re.search(r"2 messages will be sent again, to 2 number", page)
    assert "1 selected message will be skipped" in page
    assert Message.objects.count() == 3
    done = admin_client.post(CHANGELIST, {**data, "post": "yes"}, follow=True)
    assert "Resent 2 messages. 1 skipped" in done.content.decode()
    resent = Message.objects.filter(resent_from__isnull=False)
    assert resent.count() == 2 and set(resent.values_list("status", flat=True)) == {"sent"}


def test_balance_page(admin_client):
    page = admin_client.get(BALANCE).content.decode()
    assert "Balance: 1000" in page and "10000 messages" in page


def test_check_balance_action_redirects(admin_client):
    send_sms("13800138000", "x")
    response = admin_client.post(
        CHANGELIST, {"action": "check_balance", "_selected_action": [Message.objects.get().pk]}
    )
    assert response.status_code == 302 and response["Location"] == BALANCE


def test_dashboard(admin_client):
    send_sms(["13800138000", "13900000000", "13700000000"], "x")
    sent = list(locmem.outbox)
    locmem.queue_report("13800138000", sent[0].msgid)
    locmem.queue_report("13900000000", sent[0].msgid, "MA:0006")
    poll(force=True)
    response = admin_client.get(DASHBOARD)
    page = response.content.decode()
    assert response.context["totals"]["delivered"] == 1
    assert response.context["totals"]["undelivered"] == 1
    assert response.context["totals"]["sent"] == 1
    assert response.context["delivery_rate"] == 0.5
    assert "<svg" in page and ">50%</p>" in page and "1 delivered of 2 with an outcome" in page
    assert len(response.context["days"]) == 30
    assert "Balance" in page
    assert '<p id="total">3 messages</p>' in page


def test_delivery_rate_counts_failed_and_unknown_against_delivery(admin_client):
    """1 failed of 110 is not 100%; waiting (sent) and never tried (suppressed) are out."""
    statuses = ["delivered"] * 100 + ["failed", "unknown"] + ["sent"] * 5 + ["suppressed"] * 3
    Message.objects.bulk_create(
        [Message(mobile=f"138{i:08d}", content="x", status=s) for i, s in enumerate(statuses)]
    )
    response = admin_client.get(DASHBOARD)
    assert response.context["delivery_rate"] == 100 / 102
    page = response.content.decode()
    assert ">98%</p>" in page and "100 delivered of 102 with an outcome" in page
    assert "110 messages" in page
    assert page.count('class="rate-point"') == 1, "one day with a rate is still drawn"


def test_template_admin_preview_and_count(admin_client, template):
    send_sms("13800138000", template=template, params=["a", "b"])
    url = reverse("admin:django_xunchen_template_change", args=[template.pk])
    page = admin_client.get(url).content.decode()
    assert "@1@, @2@" in page
    assert "尊敬的⟨value 1⟩,您的验证码为⟨value 2⟩" in page
    listing = admin_client.get(reverse("admin:django_xunchen_template_changelist")).content
    assert b"template__id__exact" in listing


def test_report_and_reply_admins_are_read_only_with_orphan_filter(admin_client):
    (message,) = send_sms("13800138000", "x")
    locmem.queue_report("13800138000", message.msgid)
    locmem.queue_report("13900000000", "no-such-msgid")
    locmem.queue_reply("13600000000", "who?")
    poll(force=True)
    reports = reverse("admin:django_xunchen_report_changelist")
    orphans = admin_client.get(f"{reports}?matched=no").content.decode()
    assert "no-such-msgid" in orphans and message.msgid not in orphans
    matched = admin_client.get(f"{reports}?matched=yes").content.decode()
    assert message.msgid in matched
    assert admin_client.get(reverse("admin:django_xunchen_report_add")).status_code == 403
    report = Report.objects.get(msgid=message.msgid)
    detail = admin_client.get(reverse("admin:django_xunchen_report_change", args=[report.pk]))
    assert (
        reverse("admin:django_xunchen_message_change", args=[message.pk]) in detail.content.decode()
    )
    inbound = reverse("admin:django_xunchen_inboundmessage_changelist")
    assert (
        "who?"
        in admin_client.get(
            f"{inbound}?received_at__range__gte_0=2020-01-01&received_at__range__gte_1=00:00:00"
        ).content.decode()
    )
    assert InboundMessage.objects.count() == 1


def test_journal_admin_shows_raw_response(admin_client):
    send_sms("13800138000", "x")
    locmem.deliver_all()
    poll(force=True)
    from django_xunchen.models import PollJournalEntry

    entry = PollJournalEntry.objects.filter(records=1).get()
    page = admin_client.get(
        reverse("admin:django_xunchen_polljournalentry_change", args=[entry.pk])
    ).content.decode()
    assert "&lt;rpt&gt;" in page and "13800138000" in page


def test_adding_a_message_is_sending_one_and_the_index_leads_there(admin_client, django_user_model):
    response = admin_client.get(reverse("admin:django_xunchen_message_add"))
    assert response.status_code == 302 and response["Location"] == SEND
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin:django_xunchen_message_add")}"' in index
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_message"))
    client = Client()
    client.force_login(viewer)
    assert client.get(reverse("admin:django_xunchen_message_add")).status_code == 403
    assert 'message/add/"' not in client.get(reverse("admin:index")).content.decode()


def test_check_balance_action_needs_no_selection(admin_client):
    send_sms("13800138000", "x")
    response = admin_client.post(CHANGELIST, {"action": "check_balance", "index": "0"})
    assert response.status_code == 302 and response["Location"] == BALANCE


def test_chinese_labels(admin_client):
    admin_client.cookies["django_language"] = "zh-hans"
    page = admin_client.get(CHANGELIST, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "发送短信" in page and "查询余额" in page


def test_dashboard_rate_without_reports(admin_client):
    Message.objects.create(
        mobile="13800138000",
        content="x",
        status="sent",
        created_at=timezone.now() - dt.timedelta(days=1),
    )
    response = admin_client.get(DASHBOARD)
    assert response.context["delivery_rate"] is None


def test_search_by_a_mobile_number_uses_only_the_mobile_column(admin_client):
    _messages(3)
    Message.objects.create(mobile="13900000000", content="call 13800000001 back")
    with CaptureQueriesContext(connection) as ctx:
        page = admin_client.get(f"{CHANGELIST}?q=+86 138-0000-0001").content.decode()
    assert "13800000001" in page and "call 13800000001 back" not in page
    sql = " ".join(q["sql"] for q in ctx.captured_queries if "django_xunchen_message" in q["sql"])
    assert "LIKE" not in sql.upper(), "no content scan for a phone number"


def test_search_by_msgid_and_by_words(admin_client):
    _messages(3)
    assert "13800000002" in admin_client.get(f"{CHANGELIST}?q=m2").content.decode()
    page = admin_client.get(f"{CHANGELIST}?q=内容 1").content.decode()
    assert "13800000001" in page and "13800000002" not in page


def test_send_form_scheduled_message(admin_client, xunchen_outbox):
    later = timezone.localtime() + dt.timedelta(days=1)
    response = admin_client.post(
        SEND,
        {
            "mobiles": "13800138000",
            "content": "明天见",
            "send_at_0": later.strftime("%Y-%m-%d"),
            "send_at_1": later.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    sent = xunchen_outbox[0].request
    assert sent.send_at is not None
    assert abs((sent.send_at - later).total_seconds()) < 1
    past = timezone.localtime() - dt.timedelta(days=1)
    response = admin_client.post(
        SEND,
        {
            "mobiles": "13800138000",
            "content": "昨天",
            "send_at_0": past.strftime("%Y-%m-%d"),
            "send_at_1": past.strftime("%H:%M:%S"),
        },
    )
    assert "not in the future" in response.context["form"].errors["send_at"][0]


@pytest.mark.postgres_only
def test_unfiltered_list_on_a_large_postgres_table_shows_the_estimate(admin_client, monkeypatch):
    from django_xunchen.admin import pagination

    _messages(30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_xunchen_message")
    monkeypatch.setattr(pagination, "ESTIMATE_ABOVE", 10)
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == 30
    assert "about 30 messages" in response.content.decode()
    # A count over the messages (the paginator's, or any other); the health banner's
    # count of journal entries beside the oldest queued message is not one.
    counts_messages = re.compile(
        r'COUNT\(\*\)[^,]*?FROM \(?(SELECT [^,]*? )?"django_xunchen_message"'
    )
    assert not any(counts_messages.search(q["sql"]) for q in ctx.captured_queries)
    filtered = admin_client.get(f"{CHANGELIST}?status__exact=queued")
    assert filtered.context["cl"].result_count == 0, "a filtered list is counted"


@pytest.mark.parametrize(("rows", "shown"), [(7, "more than 6 messages"), (6, "6 messages")])
def test_a_big_filtered_list_counts_no_further_than_the_cap(admin_client, monkeypatch, rows, shown):
    from django_xunchen.admin.pagination import LargeTablePaginator

    monkeypatch.setattr(LargeTablePaginator, "cap", 6)
    monkeypatch.setattr(MessageAdmin, "list_per_page", 2)
    _messages(rows)
    Message.objects.create(mobile="13900000000", content="x", status=Message.Status.FAILED)
    with CaptureQueriesContext(connection) as ctx:
        page = admin_client.get(f"{CHANGELIST}?status__exact=delivered").content.decode()
    assert shown in page
    assert "13900000000" not in page
    counts = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT COUNT(*) FROM (SELECT "django_xunchen_message"')
    ]
    assert len(counts) == 1 and "LIMIT 7" in counts[0], "one count, stopped at the cap"


def _created(day: str, mobile: str) -> None:
    at = timezone.make_aware(dt.datetime.fromisoformat(day))
    Message.objects.create(mobile=mobile, content="x", status=Message.Status.SENT)
    Message.objects.filter(mobile=mobile).update(created_at=at)


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        # dates alone: the whole first day, the whole last day
        (
            "created_at__range__gte_0=2026-03-02&created_at__range__gte_1="
            "&created_at__range__lte_0=2026-03-03&created_at__range__lte_1=",
            ["13800000002", "13800000003"],
            ["13800000001", "13800000004"],
        ),
        ("created_at__range__lte_0=2026-03-02", ["13800000001", "13800000002"], ["13800000003"]),
        # a time still narrows
        (
            "created_at__range__gte_0=2026-03-02&created_at__range__gte_1=12:00",
            ["13800000003", "13800000004"],
            ["13800000002"],
        ),
    ],
)
def test_date_filters_work_with_dates_alone(admin_client, query, shown, hidden):
    _created("2026-03-01T23:59:00", "13800000001")
    _created("2026-03-02T00:00:00", "13800000002")
    _created("2026-03-03T23:59:59", "13800000003")
    _created("2026-03-04T00:00:01", "13800000004")
    page = admin_client.get(f"{CHANGELIST}?{query}").content.decode()
    assert "Enter a valid" not in page
    for mobile in shown:
        assert mobile in page
    for mobile in hidden:
        assert mobile not in page


def test_date_filters_offer_quick_ranges(admin_client):
    now = timezone.localtime()
    _created((now - dt.timedelta(days=10)).replace(tzinfo=None).isoformat(), "13800000010")
    _created(now.replace(tzinfo=None).isoformat(), "13800000000")
    page = admin_client.get(CHANGELIST).content.decode()
    today = now.date().isoformat()
    week = (now.date() - dt.timedelta(days=6)).isoformat()
    link = f"created_at__range__gte_0={week}&amp;created_at__range__lte_0={today}"
    assert link in page and "Last 7 days" in page and "Last 30 days" in page
    week_page = admin_client.get(f"{CHANGELIST}?{link.replace('&amp;', '&')}").content.decode()
    assert "13800000000" in week_page and "13800000010" not in week_page
    assert '<li class="selected"><a href="?created_at__range__gte_0=' + week in week_page


def test_send_form_shows_every_error_at_once(admin_client, xunchen_outbox):
    response = admin_client.post(
        SEND,
        {
            "mobiles": "12345",
            "content": "",
            "extcode": "ab",
            "send_at_0": "2020-01-01",
            "send_at_1": "08:00",
        },
    )
    errors = response.context["form"].errors
    assert set(errors) >= {"mobiles", "content", "extcode", "send_at"}, errors
    assert "12345" in str(errors["mobiles"])
    assert not xunchen_outbox and not Message.objects.exists()


def test_send_form_says_which_numbers_were_given_twice(admin_client, xunchen_outbox):
    response = admin_client.post(
        SEND,
        {"mobiles": "13800138000\n+86 138 0013 8000\n13900000000, 13900000000", "content": "x"},
        follow=True,
    )
    assert len(xunchen_outbox[0].mobiles) == 2
    notes = [str(m) for m in response.context["messages"]]
    assert any(
        "2 numbers were given more than once" in n and "13800138000, 13900000000" in n
        for n in notes
    ), notes


def test_the_dashboard_counts_overdue_messages_no_further_than_its_cap(admin_client, monkeypatch):
    from django_xunchen.admin import dashboard

    monkeypatch.setattr(dashboard, "OVERDUE_CAP", 2)
    old = timezone.now() - dt.timedelta(days=3)
    for i in range(3):
        Message.objects.create(
            mobile=f"1380000000{i}", content="x", status="sent", submitted_at=old
        )
    page = admin_client.get(DASHBOARD).content.decode()
    assert '?report=overdue">more than 2</a>' in page
