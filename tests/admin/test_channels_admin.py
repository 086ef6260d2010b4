"""The admin with several accounts: send on an account, balances, filters, dashboard."""

import pytest
from django.urls import reverse

from django_xunchen import send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import AccountDisabledError
from django_xunchen.models import Message, Report, Template

pytestmark = pytest.mark.django_db
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
CHANGELIST = reverse("admin:django_xunchen_message_changelist")
SEND = reverse("admin:django_xunchen_message_send")
BALANCE = reverse("admin:django_xunchen_message_balance")
DASHBOARD = reverse("admin:django_xunchen_message_dashboard")


@pytest.fixture(autouse=True)
def accounts(settings):
    settings.XUNCHEN = {
        "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
        "BACKEND": LOCMEM,
        "ACCOUNTS": {"default": {"USERNAME": "N"}, "codes": {"USERNAME": "C"}},
        "ROUTES": {"verification": "codes"},
    }


def shown(client, query=""):
    page = client.get(CHANGELIST + query)
    assert page.status_code == 200
    return sorted(m.mobile for m in page.context["cl"].result_list)


def test_the_message_list_filters_by_account_kind_and_tag(admin_client):
    send_sms("13800138001", "您的订单已发货", tags=["orders"])
    send_sms("13800138002", "您的验证码为 1", kind="verification", tags=["login", "双十一"])
    assert shown(admin_client, "?account=codes") == ["13800138002"]
    assert shown(admin_client, "?account=default") == ["13800138001"]
    assert shown(admin_client, "?kind__exact=verification") == ["13800138002"]
    assert shown(admin_client, "?kind__exact=notification") == ["13800138001"]
    assert shown(admin_client, "?tag=双十一") == ["13800138002"]
    assert shown(admin_client, "?tag=orders") == ["13800138001"]
    assert shown(admin_client, "?tag=order") == []
    page = admin_client.get(CHANGELIST).content.decode()
    assert "column-mobile_and_account" in page and "?tag=login" in page
    assert '<small class="xunchen-account"' in page, "the account under the number"


def test_the_account_shows_only_with_several_accounts(admin_client, settings):
    send_sms("13800138001", "hi")
    settings.XUNCHEN = {"SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"], "BACKEND": LOCMEM}
    page = admin_client.get(CHANGELIST).content.decode()
    assert "column-mobile_and_account" not in page and "xunchen-account" not in page


def test_the_detail_shows_the_channel(admin_client):
    (row,) = send_sms("13800138000", "您的验证码为 1", kind="verification", metadata={"u": 7})
    page = admin_client.get(reverse("admin:django_xunchen_message_change", args=[row.pk]))
    text = page.content.decode()
    assert "codes" in text and "verification" in text and "&quot;u&quot;: 7" in text


def test_the_send_form_sends_on_the_chosen_account(admin_client, xunchen_outbox):
    Template.objects.create(account="codes", template_id="C-1", name="Code", body="码@1@")
    response = admin_client.post(
        SEND, {"mobiles": "13800138000", "kind": "verification", "content": "码 5"}
    )
    assert response.status_code == 302
    assert [s.account for s in xunchen_outbox] == ["codes"]


@pytest.mark.parametrize(
    ("post", "field", "text"),
    [
        ({"kind": "marketing", "account": "codes"}, "account", "may not send marketing"),
        ({"kind": "sms"}, "kind", "Select a valid choice"),
        ({"account": "nowhere"}, "account", "Select a valid choice"),
    ],
)
def test_the_send_form_names_a_wrong_account_or_kind(admin_client, post, field, text):
    data = {"mobiles": "13800138000", "content": "hi", **post}
    response = admin_client.post(SEND, data)
    assert response.status_code == 200
    assert any(text in e for e in response.context["form"].errors[field])
    assert not Message.objects.exists()


def test_the_send_form_refuses_a_template_of_another_account(admin_client):
    theirs = Template.objects.create(account="codes", template_id="C-1", name="C", body="@1@")
    response = admin_client.post(
        SEND, {"mobiles": "13800138000", "template": theirs.pk, "params": "1=x"}
    )
    assert response.status_code == 200
    assert "belongs to account codes" in response.context["form"].errors["template"][0]
    assert not Message.objects.exists()
    options = response.content.decode()
    assert 'data-account="codes"' in options


def test_the_balance_page_shows_each_account(admin_client):
    page = admin_client.get(BALANCE).content.decode()
    assert page.count("Balance: 1000") == 2
    assert "Account default" in page and "Account codes" in page
    locmem_disabled = AccountDisabledError("102", "getAmount")
    from django_xunchen.backends.locmem import SMSBackend

    original = SMSBackend.get_balance

    def get_balance(self):
        if self.account == "codes":
            raise locmem_disabled
        return original(self)

    SMSBackend.get_balance = get_balance
    try:
        page = admin_client.get(BALANCE).content.decode()
    finally:
        SMSBackend.get_balance = original
    assert page.count("Balance: 1000") == 1
    assert "The balance could not be fetched" in page


def test_the_dashboard_filters_by_account_and_kind(admin_client):
    send_sms(["13800138001", "13800138002"], "您的订单已发货")
    send_sms("13800138003", "您的验证码为 1", kind="verification")
    locmem.deliver_all()

    def total(query=""):
        response = admin_client.get(DASHBOARD + query)
        assert response.status_code == 200
        return response.context["total"]

    assert total() == 3
    assert total("?account=codes") == 1
    assert total("?kind=notification") == 2
    assert total("?account=codes&kind=notification") == 0
    assert total("?account=nowhere") == 3
    page = admin_client.get(DASHBOARD + "?account=codes").content.decode()
    assert "Balance of codes" in page and "Balance of default" not in page


def test_reports_list_the_account(admin_client):
    from django_xunchen import poll

    send_sms("13800138003", "您的验证码为 1", kind="verification")
    locmem.deliver_all()
    poll(force=True)
    assert Report.objects.get().account == "codes"
    page = admin_client.get(reverse("admin:django_xunchen_report_changelist") + "?account=codes")
    assert page.status_code == 200 and len(page.context["cl"].result_list) == 1
