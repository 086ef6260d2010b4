"""One person's data: the export holds every row that mentions the number; the erasure
leaves it in clear only in its refusal, keeps past days' figures, and keeps a keyed
record of itself."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_xunchen import campaigns, poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.consent import grant_consent
from django_xunchen.models import Campaign, Consent, Message, PollJournalEntry, Suppression
from django_xunchen.operations import rollup
from django_xunchen.people.erase import erase_person, erasures_of
from django_xunchen.people.export import export_person
from django_xunchen.people.holdings import app_models, binary_columns, text_columns
from django_xunchen.verification.codes import request_code

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
OTHER = "13900139000"
QUIET = "13700137000"  # never refused anything


def scan(number):
    """Every (table, id) whose columns hold ``number``, read row by row: a check that
    does not trust the code it checks."""
    found = set()
    for model in app_models():
        columns = text_columns(model) + binary_columns(model)
        for row in model._default_manager.all():
            for column in columns:
                value = getattr(row, column.attname)
                if isinstance(value, (bytes, memoryview)):
                    text = bytes(value).decode("latin-1")
                else:
                    text = (
                        json.dumps(value, ensure_ascii=False)
                        if not isinstance(value, str)
                        else value
                    )
                if number in (text or ""):
                    found.add((model._meta.model_name, row.pk))
    return found


def history(number, *, refuses):
    """Everything a number can leave behind: sends of every kind, a report, a reply, a
    code, a consent, a campaign row, and a mention in another number's text."""
    grant_consent(number, source="form", wording="我同意")
    send_sms(number, "您的订单已发货")
    send_sms(number, "会员日五折", kind="marketing")
    request_code(number)
    campaign = Campaign.objects.create(name="双十二", kind="notification", content="@1@您好")
    campaigns.stage(campaign, io.BytesIO(f"手机号码,姓名\r\n{number},张三\r\n".encode()), "a.csv")
    send_sms(OTHER, f"请回电 {number}")
    locmem.deliver_all()
    locmem.queue_reply(number, "退订" if refuses else "谢谢")
    poll(force=True)
    Message.objects.update(created_at=timezone.now() - dt.timedelta(days=3))


def test_the_export_holds_every_row_that_mentions_the_number(xunchen_outbox, tmp_path):
    history(NUMBER, refuses=True)
    data = export_person("+86 138 0013 8000")
    keys = {m._meta.model_name: m._meta.pk.attname for m in app_models()}
    exported = {(table, row[keys[table]]) for table, rows in data.tables.items() for row in rows}
    assert exported == scan(NUMBER)
    tables = set(data.tables)
    assert {"message", "report", "inboundmessage", "verificationcode", "throttleevent"} <= tables
    assert {"suppression", "consent", "campaignrecipient", "polljournalentry"} <= tables
    (code,) = data.tables["verificationcode"]
    assert "nonce" not in code and "code_hash" not in code, "nothing that proves the code"
    out = io.StringIO()
    call_command("sms_person", "export", NUMBER, stdout=out)
    assert json.loads(out.getvalue())["mobile"] == NUMBER
    target = tmp_path / "person.zip"
    call_command("sms_person", "export", NUMBER, "--format", "zip", "--output", str(target))
    with zipfile.ZipFile(target) as archive:
        assert {"person.json", "message.csv"} <= set(archive.namelist())
        assert NUMBER in archive.read("message.csv").decode("utf-8-sig")


def test_after_the_erasure_only_the_refusal_holds_the_number(xunchen_outbox):
    history(NUMBER, refuses=True)
    history(QUIET, refuses=False)
    rollup.rebuild()
    before = rollup.figures(rollup.today() - dt.timedelta(days=5), rollup.today())
    others = scan(OTHER)

    out = io.StringIO()
    call_command("sms_person", "erase", NUMBER, stdout=out)
    assert "erasure" in out.getvalue() and NUMBER not in out.getvalue()
    left = scan(NUMBER)
    kept = {("suppression", s.pk) for s in Suppression.objects.filter(mobile=NUMBER)}
    kept |= {("consent", c.pk) for c in Consent.objects.filter(mobile=NUMBER, granted=False)}
    assert kept and left == kept, "the refusal stays, nothing else"
    assert Suppression.objects.filter(mobile=NUMBER).exists()

    erase_person(QUIET)
    assert scan(QUIET) == set(), "a number that never refused is nowhere"
    assert scan(OTHER) == others, "another number's rows stay"
    assert Message.objects.filter(mobile=OTHER).exists()

    rollup.rebuild()  # a recount of every day finds the same figures
    assert rollup.figures(rollup.today() - dt.timedelta(days=5), rollup.today()) == before
    assert erasures_of(NUMBER).count() == 1 and erasures_of(QUIET).count() == 1
    assert not erasures_of(OTHER).exists()
    record = erasures_of(NUMBER).get()
    assert NUMBER not in json.dumps(record.counts) and record.requested_by_name


def test_an_answer_not_ingested_is_ingested_first_or_the_erasure_waits(xunchen_outbox):
    history(NUMBER, refuses=False)
    body = f"{NUMBER},106905994140010,,谢谢,2026-12-01 10:00:00".encode()
    PollJournalEntry.objects.create(
        operation="queryMo",
        body=body,
        fetched_at=timezone.now(),
        state=PollJournalEntry.State.SET_ASIDE,
        attempts=3,
    )
    before = scan(NUMBER)
    result = erase_person(NUMBER)
    assert not result.done and "not ingested" in result.waiting
    assert scan(NUMBER) == before and not erasures_of(NUMBER).exists(), "nothing erased"
    with pytest.raises(SystemExit) as exit_:
        call_command("sms_person", "erase", NUMBER)
    assert exit_.value.code == 3
