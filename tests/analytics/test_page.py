"""The analytics page: what it shows, what it refuses, what it never does."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import override

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Campaign, Message
from django_xunchen.operations import rollup

pytestmark = pytest.mark.django_db
URL = "/admin/django_xunchen/message/analytics/"


def at(days_ago, hour=10):
    moment = timezone.localtime() - dt.timedelta(days=days_ago)
    return time_machine.travel(moment.replace(hour=hour, minute=0, second=30), tick=False)


@pytest.fixture
def traffic(xunchen_outbox):
    """Four days ago: three China Mobile numbers in Beijing and Jiangsu, two delivered;
    two China Unicom numbers, one refused by the operator (MA:0006) and one with a code
    the page must not run (=cmd); one China Telecom number still waiting. Today: a
    marketing message."""
    with at(4):
        sent = send_sms(
            ["13800138000", "13800138001", "13912345678", "18612345678", "18612345679"],
            "您的订单已发货",
        )
        sent += send_sms("18912345678", "通知")
    with at(4, 11):
        locmem.queue_report("13800138000", sent[0].msgid)
        locmem.queue_report("13800138001", sent[0].msgid)
        locmem.queue_report("13912345678", sent[0].msgid, "EXPIRED")
        locmem.queue_report("18612345678", sent[0].msgid, "MA:0006")
        locmem.queue_report("18612345679", sent[0].msgid, "=cmd|' /C calc'!A0")
        poll(force=True)
    send_sms("13800138002", "营销 回T退订", kind="marketing")
    rollup.maintain()
    return sent


def test_it_shows_delivery_by_carrier_and_province_failure_codes_latency_and_spend(
    admin_client, traffic
):
    page = admin_client.get(URL)
    assert page.status_code == 200
    found = page.context["found"]
    assert found.total.messages == 7
    carriers = {row.key: (row.messages, row.delivered, row.settled) for row in found.carriers}
    assert carriers == {"mobile": (4, 2, 3), "unicom": (2, 0, 2), "telecom": (1, 0, 0)}
    provinces = {row.key: row.messages for row in found.provinces}
    assert provinces == {"BJ": 5, "JS": 2}
    codes = {f["code"]: f["meaning"] for f in found.failures}
    assert codes["MA:0006"] == "", "a carrier's own code, shown raw"
    assert "unreachable" in codes["EXPIRED"]
    assert found.total.percentile(0.5) == 3600, "reports an hour later (to the second)"
    assert str(found.total.cost) == "0.7", "seven billed parts at 0.1"
    content = page.content.decode()
    for text in ("China Mobile", "Beijing", "Jiangsu", "MA:0006", "<svg", "by allocation"):
        assert text in content
    assert "=cmd|&#x27; /C calc&#x27;!A0" in content, "shown raw, escaped"


def test_the_sites_own_table_of_codes_is_read(admin_client, traffic, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "FAILURE_CODES": {"MA:0006": "关机或欠费"}}
    found = admin_client.get(URL).context["found"]
    assert {f["code"]: f["meaning"] for f in found.failures}["MA:0006"] == "关机或欠费"


def test_filters_narrow_every_table(admin_client, traffic):
    found = admin_client.get(URL, {"kind": "marketing"}).context["found"]
    assert found.total.messages == 1
    assert [row.key for row in found.carriers] == ["mobile"]
    assert found.failures == []
    campaign = Campaign.objects.create(name="双十一", content="x")
    Message.objects.filter(mobile="18912345678").update(campaign=campaign)
    rollup.touched(Message.objects.filter(mobile="18912345678"))
    rollup.maintain()
    found = admin_client.get(URL, {"campaign": campaign.pk}).context["found"]
    assert found.total.messages == 1 and [r.label for r in found.by_campaign] == ["双十一"]
    week_ago = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    found = admin_client.get(URL, {"start": week_ago, "end": week_ago}).context["found"]
    assert found.total.messages == 0


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-13-01"},
        {"start": "yesterday"},
        {"start": "2026-05-02", "end": "2026-05-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"template": "-1"},
        {"campaign": "x' OR 1=1"},
        {"account": "nobody"},
        {"kind": "<script>"},
    ],
)
def test_bad_filters_get_a_clear_error_and_no_figures(admin_client, query):
    page = admin_client.get(URL, query)
    assert page.status_code == 200
    assert page.context["found"] is None
    assert b"errornote" in page.content


def test_reading_the_page_writes_nothing(admin_client, traffic):
    Message.objects.filter(mobile="13800138000").update(status=Message.Status.FAILED)
    rollup.touched(Message.objects.filter(mobile="13800138000"))  # a day left stale
    with CaptureQueriesContext(connection) as queries:
        found = admin_client.get(URL).context["found"]
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert [w for w in writes if "django_session" not in w] == []
    assert found.total.counts["failed"] == 1, "the stale day counted live"


def test_the_csv_export_is_safe_in_a_spreadsheet(admin_client, traffic):
    response = admin_client.get(URL, {"export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@") and not c.startswith("'")]
    assert rows[2][:2] == ["Carrier (by allocation)", "China Mobile"]


def test_the_page_in_chinese(admin_client, traffic):
    with override("zh-hans"):
        page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans")
    content = page.content.decode()
    for text in ("中国移动", "北京", "按运营商", "报告延迟"):
        assert text in content, text


def test_staff_without_the_dashboard_permission_are_refused(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403
