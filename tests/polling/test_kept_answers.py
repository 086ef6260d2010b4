"""Answers an earlier poll kept on disk (the database refused them) are journaled by the
next poll, each once, before anything new is fetched."""

import datetime as dt
import logging

import pytest
from django.db import DatabaseError
from django.utils import timezone

from django_xunchen import poll
from django_xunchen.fake_gateway.responses import reports_text
from django_xunchen.fake_gateway.state import ReportRecord
from django_xunchen.models import PollJournalEntry
from django_xunchen.polling import fetch
from django_xunchen.polling import spool as poll_spool

pytestmark = pytest.mark.django_db(transaction=True)
REPORTS = "queryReport"


def kept(mobile, fetched_at, account="default"):
    """An answer of one report, kept on disk as a poll the database refused leaves it."""
    body = reports_text(
        [ReportRecord(mobile, f"m-{mobile}", "DELIVRD", "2026-12-01 10:00:00", "", 0)]
    )
    return poll_spool.keep(account, REPORTS, body.encode(), fetched_at, True)


def journaled(fetched_at, account="default", operation=REPORTS):
    return PollJournalEntry.objects.filter(
        account=account, operation=operation, fetched_at=fetched_at
    ).count()


def test_an_answer_is_journaled_unless_its_account_operation_and_moment_all_were(
    xunchen_outbox,
):
    at = timezone.now().replace(microsecond=500)
    done = PollJournalEntry.State.DONE
    for account, operation, moment in [
        ("codes", REPORTS, at),
        ("default", "queryMo", at),
        ("default", REPORTS, at + dt.timedelta(microseconds=1)),
    ]:
        PollJournalEntry.objects.create(
            account=account, operation=operation, fetched_at=moment, body=b"<sms/>", state=done
        )
    path = kept("13800138000", at)
    result = poll(force=True, inbound=False)
    assert result.ok, result.errors
    assert journaled(at) == 1
    assert (result.answers_from_disk, result.reports) == (1, 1)
    assert not path.exists()


def test_every_answer_kept_is_journaled_and_counted(xunchen_outbox):
    at = timezone.now()
    paths = [kept(f"1380013800{n}", at + dt.timedelta(seconds=n)) for n in range(3)]
    result = poll(force=True, inbound=False)
    assert result.ok, result.errors
    assert (result.answers_from_disk, result.reports) == (3, 3)
    assert not any(p.exists() for p in paths)


def test_an_answer_the_database_refuses_is_set_aside_and_the_next_is_journaled(
    xunchen_outbox, monkeypatch, caplog
):
    at = timezone.now()
    refused, accepted = kept("13800138000", at), kept("13900139000", at + dt.timedelta(seconds=1))
    real = fetch._journal

    def journal(account, operation, body, fetched_at, complete):
        if b"13800138000" in body:
            raise DatabaseError("value too long for type character varying(16)")
        return real(account, operation, body, fetched_at, complete)

    monkeypatch.setattr(fetch, "_journal", journal)
    with caplog.at_level(logging.ERROR):
        result = poll(force=True, inbound=False)
    assert result.errors == [
        "an answer kept on disk was refused by the database and set aside: value too long "
        "for type character varying(16)"
    ]
    assert (result.answers_from_disk, result.reports) == (1, 1)
    assert journaled(at) == 0 and journaled(at + dt.timedelta(seconds=1)) == 1
    assert not refused.exists() and refused.with_suffix(".bad").exists()
    assert not accepted.exists()
    assert (
        "(the database refused it: DatabaseError: value too long for type character "
        "varying(16))" in caplog.text
    )
