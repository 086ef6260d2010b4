"""What staff read before and during a campaign's send: the estimate (its cost at the
campaign's account's price, that account's balance less what already waits on it, or why
the balance could not be read), the preview (the first five rows as the handset shows
them, with the account's signature or none), and the progress the admin page polls (the
messages by status, done counting neither the queued nor the sending, and how far the
check of the file has come)."""

import io
from decimal import Decimal

import pytest

from django_xunchen import campaigns
from django_xunchen.fake_gateway import FakeGateway
from django_xunchen.fake_gateway.state import Account
from django_xunchen.models import Campaign, Message

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
NUMBERS = ["13800138000", "13900139000", "13700137000", "13600136000", "13500135000"]


def staged(numbers=NUMBERS[:3], **fields):
    values = {"name": "双十二", "kind": "notification", "content": "@1@您好", **fields}
    campaign = Campaign.objects.create(**values)
    body = "".join(f"{n},客户{i}\n" for i, n in enumerate(numbers, 1)).encode()
    return campaigns.stage(campaign, io.BytesIO(body), "a.csv")


def waiting(account, parts, status=S.QUEUED):
    return Message.objects.create(
        mobile="13300133000", content="早先的", account=account, parts=parts, status=status
    )


# ------------------------------------------------------------------------ the estimate


@pytest.fixture
def two_balances(settings):
    """Two gateway logins: ``default`` holds 5000 at 0.1 a part, ``marketing`` 80 at 0.05."""
    with FakeGateway(
        accounts=[
            Account(username="A", balance=Decimal("5000")),
            Account(username="B", password="pw-b", very_code="vc-b", balance=Decimal("80")),
        ],
        seed=5,
    ) as gw:
        settings.XUNCHEN = {
            "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
            "QUIET_HOURS": None,
            "MARKETING_DAILY_CAP": None,
            "TIMEOUT": (2, 2),
            "ACCOUNTS": {
                "default": {**gw.account_settings("A"), "PRICE_PER_PART": "0.1"},
                "marketing": {**gw.account_settings("B"), "PRICE_PER_PART": "0.05"},
            },
        }
        yield gw


def test_the_estimate_is_the_campaign_s_account_s_price_and_balance_less_what_waits_on_it(
    two_balances,
):
    campaign = staged(account="marketing")
    waiting("marketing", 4)  # 0.20 at 0.05 a part: the balance will pay it first
    waiting("marketing", 6, S.SENDING)  # 0.30
    waiting("marketing", 9, S.SENT)  # paid already
    waiting("default", 10)  # another account's
    estimate = campaigns.estimate(campaign)
    assert (estimate.rows, estimate.valid, estimate.problems, estimate.parts) == (3, 3, 0, 3)
    assert estimate.cost == Decimal("0.15")
    assert estimate.balance == Decimal("79.50")
    assert estimate.balance_error == ""
    assert estimate.balance_after == Decimal("79.35")


def test_without_the_balance_the_estimate_asks_nothing_of_the_gateway(two_balances):
    campaign = staged(account="marketing")
    estimate = campaigns.estimate(campaign, with_balance=False)
    assert (estimate.cost, estimate.balance, estimate.balance_after) == (
        Decimal("0.15"),
        None,
        None,
    )
    assert estimate.balance_error == ""


def test_a_balance_the_gateway_refuses_is_shown_as_its_error(two_balances):
    from django_xunchen.api import get_balance

    two_balances.state.accounts["B"].enabled = False
    with pytest.raises(Exception) as refused:
        get_balance(account="marketing")
    campaign = staged(account="marketing")
    estimate = campaigns.estimate(campaign)
    assert estimate.balance is None and estimate.balance_after is None
    assert estimate.balance_error == str(refused.value) != ""
    assert estimate.cost == Decimal("0.15"), "the cost is shown all the same"


# ------------------------------------------------------------------------ the preview


@pytest.fixture
def signatures(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "USERNAME": "N1", "SIGNATURE": "【迅辰】"},
            "marketing": {"BACKEND": LOCMEM, "USERNAME": "M1", "SIGNATURE": "【会员中心】"},
            "plain": {"BACKEND": LOCMEM, "USERNAME": "P1"},
        },
        "USERNAME": "",
        "PASSWORD": "",
        "VERY_CODE": "",
    }


def test_the_preview_shows_the_first_five_rows_with_the_account_s_signature(signatures):
    campaign = staged([*NUMBERS, "13400134000", "13300133000"], account="marketing")
    shown = campaigns.preview(campaign)
    assert [(row.mobile, text) for row, text in shown] == [
        (NUMBERS[i], f"【会员中心】客户{i + 1}您好") for i in range(5)
    ]


def test_the_preview_of_an_account_without_a_signature_is_the_text_alone(signatures):
    campaign = staged(account="plain")
    assert [text for _row, text in campaigns.preview(campaign, count=2)] == [
        "客户1您好",
        "客户2您好",
    ]


# ------------------------------------------------------------------------ the progress


def with_messages(**counts):
    campaign = Campaign.objects.create(
        name="双十二", kind="notification", content="您好", state=Campaign.State.RUNNING
    )
    for status, n in counts.items():
        for _ in range(n):
            Message.objects.create(
                mobile="13800138000", content="您好", campaign=campaign, status=status
            )
    return campaign


def test_progress_counts_the_queued_and_the_sending_as_not_done():
    campaign = with_messages(queued=1, sending=2, sent=3, delivered=1)
    assert campaigns.progress(campaign) == {
        "state": "running",
        "state_label": "running",
        "total": 7,
        "done": 4,
        "percent": 57,
        "counts": {
            "queued": 1,
            "sending": 2,
            "sent": 3,
            "delivered": 1,
            "undelivered": 0,
            "failed": 0,
            "unknown": 0,
            "expired": 0,
            "suppressed": 0,
            "cancelled": 0,
        },
        "check": {"done": 0, "total": 0, "percent": 0, "error": ""},
    }


def test_a_campaign_without_messages_is_at_nought_percent():
    progress = campaigns.progress(with_messages())
    assert (progress["total"], progress["done"], progress["percent"]) == (0, 0, 0)
    assert set(progress["counts"].values()) == {0}


@pytest.mark.parametrize(
    ("checked", "rows", "percent"),
    [(0, 0, 0), (3, 4, 75), (1, 3, 33), (103, 100, 100)],
    ids=["no rows counted", "three of four", "a third", "more rows than counted"],
)
def test_the_check_s_progress_is_the_share_of_the_file_s_rows_checked(checked, rows, percent):
    campaign = Campaign.objects.create(
        name="大名单",
        content="您好",
        state=Campaign.State.CHECKING,
        checked_rows=checked,
        file_rows=rows,
        check_error="",
    )
    assert campaigns.progress(campaign)["check"] == {
        "done": checked,
        "total": rows,
        "percent": percent,
        "error": "",
    }
