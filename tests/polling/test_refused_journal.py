"""A fetched answer the database will not take goes to disk first: the gateway never
sends those reports or replies again."""

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import (
    InboundMessage,
    Message,
    PollJournalEntry,
    PollLock,
    Report,
    Suppression,
)
from django_xunchen.polling import fetch, journal
from django_xunchen.polling import spool as poll_spool
from django_xunchen.polling.result import PollResult

pytestmark = pytest.mark.django_db(transaction=True)
TABLE = PollJournalEntry._meta.db_table


class JournalRefused:
    """The journal insert refused: ``down`` as a database that is down or locked
    (an OperationalError), ``values`` as one that is up but refuses this row."""

    def __init__(self, monkeypatch, how="down"):
        self.monkeypatch, self.how = monkeypatch, how

    def __enter__(self):
        if self.how == "down" and connection.vendor != "postgresql":
            real = fetch._journal

            def locked(*args, **kwargs):
                raise OperationalError("database is locked")

            self.monkeypatch.setattr(fetch, "_journal", locked)
            self.restore = lambda: self.monkeypatch.setattr(fetch, "_journal", real)
            return self
        code = " USING ERRCODE = '57P03'" if self.how == "down" else ""  # cannot_connect_now
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "CREATE FUNCTION xunchen_refuse() RETURNS trigger AS $$ BEGIN "
                    f"RAISE EXCEPTION 'the journal refuses'{code}; END $$ LANGUAGE plpgsql"
                )
                cursor.execute(
                    f"CREATE TRIGGER xunchen_refuse BEFORE INSERT ON {TABLE} "
                    "FOR EACH ROW EXECUTE FUNCTION xunchen_refuse()"
                )
            else:
                cursor.execute(
                    f"CREATE TRIGGER xunchen_refuse BEFORE INSERT ON {TABLE} "
                    "BEGIN SELECT RAISE(ABORT, 'the journal refuses'); END"
                )
        self.restore = self._drop
        return self

    @staticmethod
    def _drop():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER xunchen_refuse ON {TABLE}")
                cursor.execute("DROP FUNCTION xunchen_refuse()")
            else:
                cursor.execute("DROP TRIGGER xunchen_refuse")

    def __exit__(self, *exc_info):
        self.restore()


@pytest.fixture
def two_hundred_reports_and_twenty_replies(xunchen_outbox):
    mobiles = [f"139{n:08d}" for n in range(200)]
    send_sms(mobiles, "您的订单已发货")
    assert locmem.deliver_all() == 200
    for n in range(20):
        locmem.queue_reply(mobiles[n], "退订" if n % 2 else f"好的 {n}")
    return mobiles


def test_answers_the_journal_refused_are_stored_by_the_next_poll(
    two_hundred_reports_and_twenty_replies, monkeypatch
):
    with JournalRefused(monkeypatch, "down"):
        with pytest.raises(CommandError, match=r"is kept in .*poll.*answer"):
            call_command("poll_sms", "--force")
        assert Report.objects.count() == 0
        assert PollLock.objects.count() == 0, "the lock is released when the database allows"
        kept = list(poll_spool.folder().iterdir())
        assert [p.suffix for p in kept] == [".answer"]
        with pytest.raises(CommandError, match="1 poll answer the database refused waits"):
            call_command("poll_sms", "--check")
        with pytest.raises(CommandError, match="an answer kept on disk"):
            call_command("poll_sms", "--force")  # still refused: nothing new is fetched
        assert kept == list(poll_spool.folder().iterdir())
    result = poll(force=True)
    assert result.ok, result.summary()
    assert result.answers_from_disk == 1
    assert Report.objects.count() == 200
    assert Message.objects.filter(status=Message.Status.DELIVERED).count() == 200
    assert InboundMessage.objects.count() == 20
    opted_out = set(Suppression.objects.values_list("mobile", flat=True))
    assert opted_out == set(two_hundred_reports_and_twenty_replies[1:20:2])
    assert not list(poll_spool.folder().iterdir())
    assert PollLock.objects.count() == 0


def test_an_answer_kept_on_disk_and_already_journaled_is_not_journaled_twice(
    two_hundred_reports_and_twenty_replies, monkeypatch
):
    with JournalRefused(monkeypatch):
        poll(force=True, inbound=False)
    (path,) = poll_spool.folder().iterdir()
    (answer,) = poll_spool.waiting(["default"])
    PollJournalEntry.objects.create(
        account="default",
        operation=answer.operation,
        body=answer.body,
        fetched_at=answer.fetched_at,
        complete=True,
    )
    result = poll(force=True, inbound=False)
    assert not path.exists()
    assert PollJournalEntry.objects.filter(fetched_at=answer.fetched_at).count() == 1
    assert Report.objects.count() == 200 and result.reports == 200


def test_when_the_disk_refuses_too_the_whole_answer_is_logged_critical_and_can_be_imported(
    two_hundred_reports_and_twenty_replies, monkeypatch, caplog, tmp_path
):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(poll_spool, "keep", full)
    with JournalRefused(monkeypatch), pytest.raises(OperationalError):
        poll(force=True, inbound=False)
    (record,) = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert "No space left on device" in record.getMessage()
    assert "139" + "00000199" in record.getMessage(), "the answer's records are in the log"
    (tmp_path / "answer.xml").write_text(record.getMessage().splitlines()[-1])
    call_command(
        "poll_sms", "--import-answer", str(tmp_path / "answer.xml"), "--operation", "queryReport"
    )
    assert Report.objects.count() == 200
    assert Message.objects.filter(status=Message.Status.DELIVERED).count() == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--import-answer", "missing.xml", "--operation", "queryMo"], "No such file"),
        (["--import-answer", "empty.xml", "--operation", "queryMo"], "the answer is empty"),
        (["--import-answer", "empty.xml"], "needs --operation"),
        (["--import-answer", "literal.txt", "--operation", "queryMo"], "but is not one"),
        (
            ["--import-answer", "empty.xml", "--operation", "queryMo", "--account", "nope"],
            "no SMS account 'nope'",
        ),
    ],
)
def test_import_answer_refuses_what_it_cannot_journal(args, message, tmp_path, monkeypatch):
    (tmp_path / "empty.xml").write_bytes(b"  ")
    (tmp_path / "literal.txt").write_bytes(b"b'<sms>' + b'</sms>'")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match=message):
        call_command("poll_sms", *args)
    assert PollJournalEntry.objects.count() == 0


@pytest.mark.parametrize(
    "content",
    [
        b"not a header\n<sms/>",
        b'{"account": "default"}\n<sms/>',
        b"\xff\xfe\n<sms/>",
        b'{"account": "default", "operation": "queryReport", "fetched_at": '
        b'"2026-12-06T10:00:00+00:00", "complete": true, "length": 99, "host": "h", '
        b'"pid": 1}\n<sms/>',
        b'{"account": "default", "operation": "queryNothing", "fetched_at": '
        b'"2026-12-06T10:00:00+00:00", "complete": true, "length": 6, "host": "h", '
        b'"pid": 1}\n<sms/>',
        b'{"account": "default", "operation": "queryMo", "fetched_at": '
        b'"2026-12-06 10:00", "complete": true, "length": 6, "host": "h", '
        b'"pid": 1}\n<sms/>',
    ],
)
def test_a_bad_kept_answer_is_set_aside_and_the_good_one_behind_it_journaled(
    two_hundred_reports_and_twenty_replies, content, monkeypatch
):
    with JournalRefused(monkeypatch):
        poll(force=True, inbound=False)
    folder = poll_spool.folder()
    (folder / "00000000000000000000-1-bad.answer").write_bytes(content)
    result = poll(force=True, inbound=False)
    assert Report.objects.count() == 200, result.summary()
    assert [p.name for p in folder.iterdir()] == ["00000000000000000000-1-bad.bad"]
    assert poll_spool.counts() == (0, 1)


def test_an_answer_the_database_refuses_for_itself_is_set_aside_and_polling_goes_on(
    two_hundred_reports_and_twenty_replies, monkeypatch
):
    """Up, but refusing this one answer (its size, its values): it is set aside for staff
    rather than stop every later poll."""
    with JournalRefused(monkeypatch, "values"):
        poll(force=True, inbound=False)
        assert len(list(poll_spool.folder().iterdir())) == 1
        result = poll(force=True)
    assert any("set aside" in e for e in result.errors), result.summary()
    # The answer fetched next was refused too, and kept: the first no longer stands in
    # its way.
    assert sorted(p.suffix for p in poll_spool.folder().iterdir()) == [".answer", ".bad"]
    result = poll(force=True)
    assert result.ok and result.answers_from_disk == 1, result.summary()
    assert InboundMessage.objects.count() == 20, "polling went on"
    assert [p.suffix for p in poll_spool.folder().iterdir()] == [".bad"]


def test_an_answer_kept_with_use_tz_off_is_journaled(
    two_hundred_reports_and_twenty_replies, monkeypatch, settings
):
    settings.USE_TZ = False
    with JournalRefused(monkeypatch):
        poll(force=True, inbound=False)
    result = poll(force=True, inbound=False)
    assert result.ok, result.summary()
    assert result.answers_from_disk == 1 and Report.objects.count() == 200


def test_a_kept_answer_set_aside_can_be_imported_once(
    two_hundred_reports_and_twenty_replies, monkeypatch
):
    with JournalRefused(monkeypatch, "values"):
        poll(force=True, inbound=False)
        poll(force=True, inbound=False)
    (bad,) = poll_spool.folder().glob("*.bad")
    call_command("poll_sms", "--import-answer", str(bad), "--operation", "queryReport")
    assert Report.objects.count() == 200
    with pytest.raises(CommandError, match="journaled already"):
        call_command("poll_sms", "--import-answer", str(bad), "--operation", "queryReport")
    assert Report.objects.count() == 200


@pytest.mark.postgres_only
def test_a_large_answer_refused_by_the_binary_insert_goes_to_disk_too(monkeypatch):
    """Answers from 1 MiB go to PostgreSQL through psycopg's own cursor: its errors are
    Django's, so the answer is kept on disk like any other."""
    body = b"<sms>" + b"<!-- padding -->" * (journal.BINARY_JOURNAL_FROM // 16 + 1) + b"</sms>"
    with JournalRefused(monkeypatch, "down"), pytest.raises(fetch.AnswerKept):
        fetch._fetch_and_journal(
            "queryReport",
            type("Group", (), {"name": "default", "backend": Fetching(body)})(),
            PollResult(),
        )
    (answer,) = poll_spool.waiting(["default"])
    assert answer.body == body


class Fetching:
    def __init__(self, body):
        self.body = body

    def fetch_reports(self):
        from django_xunchen.client.types import RawResponse

        return RawResponse("queryReport", self.body)
