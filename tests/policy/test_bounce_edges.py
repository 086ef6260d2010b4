"""The edges of bounces (django_xunchen.policy.suppression.apply_bounces): a threshold of
1 counts, 0 turns them off without a read, only the last ``BOUNCE_THRESHOLD`` reports
count, and a number already on the list is left as it is. Reports are written as the
ingest stores them, then the rule is applied to their numbers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen.models import Report, Suppression
from django_xunchen.policy.suppression import apply_bounces, suppress

pytestmark = pytest.mark.django_db
NUMBER = "13800138000"


@pytest.fixture
def threshold(settings):
    def set_to(value, scope="marketing"):
        settings.XUNCHEN = {
            **settings.XUNCHEN,
            "BOUNCE_THRESHOLD": value,
            "BOUNCE_SCOPE": scope,
        }

    return set_to


def reports(*statuses, mobile=NUMBER):
    """Reports for ``mobile``, oldest first."""
    for n, status in enumerate(statuses):
        Report.objects.create(
            mobile=mobile, msgid=f"m-{mobile}-{n}", status=status, delivered=status == "DELIVRD"
        )


def suppressed():
    return list(Suppression.objects.values_list("mobile", "scope", "source", "cause"))


def test_a_threshold_of_one_suppresses_after_one_undelivered_report(threshold):
    threshold(1)
    reports("MA:0006")
    apply_bounces([NUMBER])
    assert suppressed() == [(NUMBER, "marketing", "bounce", "1 reports in a row: MA:0006")]


@pytest.mark.parametrize("off", [0, None])
def test_a_threshold_of_zero_turns_bounces_off_and_reads_nothing(threshold, off):
    threshold(off)
    reports("MA:0006", "MA:0006", "MA:0006")
    with CaptureQueriesContext(connection) as queries:
        apply_bounces([NUMBER])
    assert suppressed() == []
    assert queries.captured_queries == []


def test_only_the_last_reports_count_the_newest_included(threshold):
    """Three undelivered reports, then a delivered one: the last three are not all
    undelivered."""
    threshold(3)
    reports("MA:0006", "MA:0006", "MA:0006", "DELIVRD")
    reports("UNDELIV", "DELIVRD", "MA:0006", "MA:0006", mobile="13900139000")
    apply_bounces([NUMBER, "13900139000"])
    assert suppressed() == []


def test_more_reports_than_the_threshold_all_undelivered_alike_suppress(threshold):
    threshold(2)
    reports("MA:0006", "MA:0006", "MA:0006", "MA:0006")
    apply_bounces([NUMBER])
    assert suppressed() == [(NUMBER, "marketing", "bounce", "2 reports in a row: MA:0006")]


def test_a_number_already_on_the_list_is_left_as_it_is(threshold):
    """Suppressed for marketing by its reply, it bounces with BOUNCE_SCOPE "all": the
    entry keeps its scope, source and cause."""
    threshold(3, scope="all")
    suppress(NUMBER, source=Suppression.Source.REPLY, cause="TD")
    reports("MA:0006", "MA:0006", "MA:0006")
    apply_bounces([NUMBER])
    assert suppressed() == [(NUMBER, "marketing", "reply", "TD")]


def test_bounces_suppress_with_the_scope_set(threshold):
    threshold(2, scope="all")
    reports("UNDELIV", "UNDELIV")
    apply_bounces([NUMBER])
    assert suppressed() == [(NUMBER, "all", "bounce", "2 reports in a row: UNDELIV")]
