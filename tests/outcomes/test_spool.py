"""The spool folder: where it is (it must be chosen outside DEBUG), that it can really be
written, that a bad file is set aside without stopping the others, and that a crash's
temporary files are cleaned."""

import datetime as dt
import errno
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DataError, connection
from django.urls import reverse
from django.utils import timezone

from django_xunchen import send_queued, send_sms
from django_xunchen.models import Message
from django_xunchen.operations.checks import check_poll_health
from django_xunchen.outcomes import spool
from django_xunchen.outcomes import write as outcomes
from django_xunchen.outcomes.spool import spool_dir as configured_spool_dir
from django_xunchen.outcomes.write import SPOOLED_FIELDS, Outcome, apply_spool, parse_spooled

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ where it is


def test_the_folder_is_the_setting(settings, tmp_path):
    settings.XUNCHEN = {**settings.XUNCHEN, "SPOOL_DIR": str(tmp_path / "here")}
    assert configured_spool_dir() == tmp_path / "here"


def test_only_debug_falls_back_to_the_temporary_folder(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "SPOOL_DIR": ""}
    settings.DEBUG = True
    assert configured_spool_dir() == Path(tempfile.gettempdir()) / "django-xunchen-spool"
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match=r"XUNCHEN\['SPOOL_DIR'\] is not set"):
        configured_spool_dir()


@pytest.fixture
def unset_spool(settings, monkeypatch):
    """DEBUG off and no SPOOL_DIR, without the test suite's stand-in folder."""
    monkeypatch.setattr(spool, "spool_dir", configured_spool_dir)
    settings.DEBUG = False
    settings.XUNCHEN = {k: v for k, v in settings.XUNCHEN.items() if k != "SPOOL_DIR"}


def test_nothing_is_spooled_to_the_temporary_folder_outside_debug(unset_spool):
    with pytest.raises(ImproperlyConfigured):
        spool.write({"ids": [1], "status": "sent"})
    assert spool.pending() == [] and spool.bad_files() == [] and spool.clean_temporary() == 0
    assert spool.check_writable().startswith("XUNCHEN['SPOOL_DIR'] is not set")


@pytest.mark.django_db(transaction=True)
def test_an_outcome_refused_with_no_spool_folder_set_goes_to_a_critical_log(
    gateway, unset_spool, settings, caplog
):
    from .test_write import RefuseOutcome

    settings.XUNCHEN = {**settings.XUNCHEN, "OUTCOME_RETRY_SECONDS": 0.1}
    fallback = Path(tempfile.gettempdir()) / "django-xunchen-spool"
    before = set(fallback.iterdir()) if fallback.is_dir() else set()
    with connection.execute_wrapper(RefuseOutcome(times=10_000)):
        send_sms("13800138000", "x")
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and gateway.submissions[0].msgid in critical[0]
    assert "SPOOL_DIR" in critical[0]
    assert (set(fallback.iterdir()) if fallback.is_dir() else set()) == before


# ------------------------------------------------------------------ the writable check


def test_check_writable_creates_missing_parents_and_leaves_nothing(tmp_path):
    folder = tmp_path / "a" / "b" / "spool"
    assert spool.check_writable(folder) is None
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_check_writable_says_why_not(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    problem = spool.check_writable(blocker / "spool")
    assert problem == f"{blocker / 'spool'}: Not a directory"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_check_writable_probes_the_folder_itself():
    """A folder that exists but takes no files, even from root (as in a read-only
    volume): the probe must be written there, not anywhere else."""
    assert spool.check_writable(Path("/proc")).startswith("/proc: ")


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_fails_the_writable_check_and_leaves_nothing(tmp_path, monkeypatch, where):
    """The disk is full when the bytes are written, or (delayed allocation) only when
    they are flushed."""
    written = []
    real_write = os.write

    def counting_write(fd, data):
        written.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(spool.os, "write", counting_write)
    assert spool.check_writable(tmp_path) is None
    assert sum(written) >= 4096, "the probe writes real bytes"
    monkeypatch.setattr(spool.os, where, no_space)
    assert spool.check_writable(tmp_path) == f"{tmp_path}: No space left on device"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_FSIZE and SIGXFSZ")
def test_a_file_size_limit_fails_the_writable_check(tmp_path):
    """A real refusal from the kernel: a process whose files may not grow past 1 KiB."""
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))\n"
        "from django_xunchen.outcomes import spool\n"
        "print(spool.check_writable(Path(sys.argv[1])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == f"{tmp_path}: File too large"
    assert list(tmp_path.iterdir()) == []


def test_a_write_on_a_full_disk_raises_and_leaves_no_temporary_file(isolated_spool, monkeypatch):
    monkeypatch.setattr(spool.os, "write", no_space)
    with pytest.raises(OSError, match="No space left"):
        spool.write({"ids": [1], "status": "sent"})
    assert list(isolated_spool.iterdir()) == []


# ------------------------------------------------------------------ reading and writing


def test_a_written_record_is_read_back_whole(isolated_spool):
    outcome = Outcome([3, 4], "sent", msgid="m-1", error_message="好", submitted_at=timezone.now())
    path = spool.write(outcome.to_json())
    assert path.parent == isolated_spool and path.suffix == ".json"
    assert not list(isolated_spool.glob(".*.tmp")), "no temporary file is left"
    assert '"error_message": "好"' in path.read_text(encoding="utf-8"), "readable by people"
    record = spool.read(path)
    assert parse_spooled(record) == outcome
    assert parse_spooled(record).submitted_at == outcome.submitted_at
    assert record["host"] and record["pid"]
    assert spool.pending() == [path]


@pytest.mark.parametrize("status", sorted(outcomes.FROM_STATUSES))
def test_every_outcome_the_app_spools_passes_the_check(isolated_spool, status):
    outcome = Outcome([1, 2**40], status, msgid="m", error_code="110", blocked_words=["词"])
    assert spool.load(spool.write(outcome.to_json()), parse_spooled) == outcome


def test_a_naive_submission_time_is_read_back_with_use_tz_off(isolated_spool, settings):
    settings.USE_TZ = False
    outcome = Outcome([1], "sent", msgid="m", submitted_at=timezone.now())
    assert timezone.is_naive(outcome.submitted_at)
    assert spool.load(spool.write(outcome.to_json()), parse_spooled) == outcome


def test_every_field_of_an_outcome_is_checked():
    """A field added to Outcome needs its check, or every spooled outcome is set aside."""
    assert set(SPOOLED_FIELDS) == set(Outcome.__dataclass_fields__) | {"host", "pid"}


def test_writing_creates_the_configured_folder_with_its_parents(settings, tmp_path):
    folder = tmp_path / "a" / "b" / "spool"
    settings.XUNCHEN = {**settings.XUNCHEN, "SPOOL_DIR": str(folder)}
    path = spool.write({"ids": [1], "status": "sent"})
    assert path.parent == folder and spool.read(path)["ids"] == [1]


def test_reading_or_removing_a_file_another_process_took_is_fine(isolated_spool):
    isolated_spool.mkdir()
    gone = isolated_spool / "gone.json"
    assert spool.read(gone) is None
    assert spool.set_aside(gone, "why") is None
    spool.remove(gone)
    assert spool.pending() == [] and spool.bad_files() == []


def test_files_are_applied_oldest_first(isolated_spool, db):
    message = Message.objects.create(mobile="13800138000", content="x", status="sending")
    spool.write(Outcome([message.pk], "sent", msgid="first").to_json())
    spool.write(Outcome([message.pk], "failed", error_code="110").to_json())
    assert [json.loads(p.read_text())["status"] for p in spool.pending()] == ["sent", "failed"]
    assert apply_spool() == 2
    message.refresh_from_db()
    assert (message.status, message.msgid) == ("sent", "first"), "a sent row is never failed"


# ------------------------------------------------------------------ bad files

NOW = "2026-11-27T10:00:00+08:00"
GOOD = {
    "ids": [1],
    "status": "sent",
    "msgid": "m-1",
    "error_code": "",
    "error_message": "",
    "blocked_words": [],
    "submitted_at": NOW,
    "host": "web-1",
    "pid": 4321,
}


def changed(**fields):
    return json.dumps({**GOOD, **fields}, ensure_ascii=False).encode()


def without(name):
    return json.dumps({k: v for k, v in GOOD.items() if k != name}).encode()


#: Each kind of bad file: its bytes, and a part of the reason the log must give.
BAD = {
    "not UTF-8": (changed(msgid="m-é").replace("é".encode(), b"\xe9"), "not UTF-8: byte 0xe9"),
    "UTF-16": (json.dumps(GOOD).encode("utf-16"), "not UTF-8"),
    "not JSON": (b"{not json", "not JSON: "),
    "cut short": (json.dumps(GOOD).encode()[:40], "not JSON: "),
    "empty": (b"", "not JSON: "),
    "a list": (b"[1, 2]", "not a JSON object but list"),
    "a string": (b'"x"', "not a JSON object but str"),
    "a key twice": (json.dumps(GOOD).encode()[:-1] + b', "pid": 1}', "a key occurs twice"),
    "no ids": (without("ids"), "missing ids"),
    "no status": (without("status"), "missing status"),
    "no host": (without("host"), "missing host"),
    "an extra field": (changed(request="r-1"), "unknown 'request'"),
    "unknown status": (changed(status="delivered"), "unknown status 'delivered'"),
    "status null": (changed(status=None), "unknown status None"),
    "ids as strings": (changed(ids=["1"]), "ids holds '1', not a positive integer"),
    "ids a number": (changed(ids=1), "ids is not a list of message ids: 1"),
    "ids empty": (changed(ids=[]), "ids is not a list of message ids: []"),
    "an id true": (changed(ids=[True]), "ids holds True, not a positive"),
    "an id too big": (changed(ids=[2**63]), "ids holds 9223372036854775808, not"),
    "an id fractional": (changed(ids=[1.5]), "ids holds 1.5, not"),
    "msgid a number": (changed(msgid=123), "msgid is not a string but int"),
    "msgid too long": (changed(msgid="m" * 65), "msgid is longer than 64 characters"),
    "a NUL": (changed(error_message="a\x00b"), "error_message holds a NUL character"),
    "error_code too long": (changed(error_code="1" * 17), "error_code is longer than 16"),
    "blocked_words a string": (changed(blocked_words="x"), "blocked_words is not a list"),
    "a blocked word a number": (changed(blocked_words=[1]), "blocked_words is not a string"),
    "not a date": (changed(submitted_at="yesterday"), "submitted_at is not a date and time"),
    "no such day": (changed(submitted_at="2026-02-30T10:00:00+08:00"), "day is out of range"),
    "a date as a number": (changed(submitted_at=1764208800), "submitted_at is not a string"),
    "a date without offset": (changed(submitted_at="2026-11-27T10:00:00"), "no UTC offset"),
    "pid a string": (changed(pid="4321"), "pid holds '4321', not a positive integer"),
}


def plant(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def good_file(message: Message, msgid: str) -> Path:
    outcome = Outcome([message.pk], "sent", msgid=msgid, submitted_at=timezone.now())
    return spool.write(outcome.to_json())


def run_send_queued():
    assert send_queued()["spooled"] == 2


def run_poll_sms():
    call_command("poll_sms", "--force")


def run_send_sms():
    send_sms("13900000000", "y")


RUNNERS = {"send_queued": run_send_queued, "poll_sms": run_poll_sms, "send_sms": run_send_sms}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("kind", BAD)
def test_a_bad_file_is_set_aside_and_the_files_behind_it_are_applied(
    isolated_spool, caplog, kind, runner
):
    data, reason = BAD[kind]
    first, second = (
        Message.objects.create(mobile=f"1380013800{i}", content="x", status="sending")
        for i in range(2)
    )
    before = good_file(first, "m-before")
    bad = plant(isolated_spool, f"{time.time_ns():020d}-1-bad00000.json", data)
    after = good_file(second, "m-after")
    assert spool.pending() == [before, bad, after]
    with caplog.at_level(logging.ERROR, logger="django_xunchen.spool"):
        RUNNERS[runner]()
    assert dict(
        Message.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "msgid")
    ) == {
        first.pk: "m-before",
        second.pk: "m-after",
    }
    assert spool.pending() == []
    assert spool.bad_files() == [bad.with_suffix(".bad")]
    assert bad.with_suffix(".bad").read_bytes() == data, "kept as it was, for a person to read"
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "django_xunchen.spool"]
    assert logged.startswith(f"spool file {bad} is bad (")
    assert logged.endswith(f"); renamed to {bad.stem}.bad")
    assert reason in logged


def test_a_file_the_database_refuses_is_set_aside_too(isolated_spool, caplog):
    first, second = (
        Message.objects.create(mobile=f"1380013800{i}", content="x", status="sending")
        for i in range(2)
    )
    refused = good_file(first, "m-1")
    good_file(second, "m-2")
    calls = []

    def refuse_the_first(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("UPDATE") and "xunchen_message" in sql:
            calls.append(sql)
            if len(calls) == 1:
                raise DataError("value too long for type character varying(64)")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_the_first):
        assert apply_spool() == 1
    assert spool.bad_files() == [refused.with_suffix(".bad")]
    assert "the database refused it: DataError: value too long" in caplog.text
    assert Message.objects.get(pk=second.pk).msgid == "m-2"


def test_an_unreadable_file_is_set_aside(isolated_spool, monkeypatch):
    bad = plant(isolated_spool, "1.json", b"{}")
    real = Path.read_bytes

    def refuse(path):
        if path == bad:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert spool.read(bad) is None
    assert spool.bad_files() == [isolated_spool / "1.bad"]


def test_a_file_that_cannot_be_renamed_is_logged_and_the_run_goes_on(
    isolated_spool, monkeypatch, caplog
):
    message = Message.objects.create(mobile="13800138000", content="x", status="sending")
    plant(isolated_spool, "0.json", b"{bad")
    good_file(message, "m-1")
    real_replace = os.replace

    def refuse(src, dst):
        if str(dst).endswith(".bad"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(spool.os, "replace", refuse)
    assert apply_spool() == 1
    assert "could not be renamed to 0.bad: Permission denied" in caplog.text
    assert Message.objects.get().msgid == "m-1"


def test_bad_files_are_counted_by_subfolder_or_all(isolated_spool):
    plant(isolated_spool, "a.bad", b"")
    plant(isolated_spool / "poll", "b.bad", b"")
    plant(isolated_spool / "poll", "c.json", b"")
    assert spool.bad_files() == [isolated_spool / "a.bad", isolated_spool / "poll" / "b.bad"]
    assert spool.bad_files("poll") == [isolated_spool / "poll" / "b.bad"]
    assert spool.bad_files("elsewhere") == []


def test_poll_sms_check_fails_while_a_bad_file_is_there(settings, isolated_spool):
    from django_xunchen import poll

    assert poll(force=True).ok
    call_command("poll_sms", "--check")
    plant(isolated_spool, "1.json", b"{bad")
    apply_spool()
    with pytest.raises(CommandError, match="1 spool file could not be read or applied"):
        call_command("poll_sms", "--check")
    plant(isolated_spool / "poll", "2.bad", b"")
    with pytest.raises(CommandError, match="2 spool files could not be read or applied"):
        call_command("poll_sms", "--check")
    ids = [m.id for m in check_poll_health(databases=["default"])]
    assert ids == ["django_xunchen.W006"]
    for path in spool.bad_files():
        path.unlink()
    call_command("poll_sms", "--check")


def test_the_admin_banner_counts_the_bad_files(isolated_spool, admin_client):
    from django_xunchen import poll

    poll(force=True)
    changelist = reverse("admin:django_xunchen_message_changelist")
    assert "SMS needs attention" not in admin_client.get(changelist).content.decode()
    plant(isolated_spool, "1.bad", b"")
    page = admin_client.get(changelist).content.decode()
    assert "SMS needs attention" in page
    assert "1 spool file on this host could not be read or applied" in page


def test_the_admin_banner_says_when_no_spool_folder_is_set(unset_spool, admin_client):
    from django_xunchen import poll

    poll(force=True)
    page = admin_client.get(reverse("admin:django_xunchen_message_changelist")).content
    assert "SPOOL_DIR&#x27;] is not set" in page.decode()


# ------------------------------------------------------------------ temporary files


def tmp_name(pid: int, host: str | None = None) -> str:
    host = host or spool._host_tag()
    return f".{time.time_ns():020d}-{pid}-abcdef01.json.{pid}@{host}.tmp"


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def age(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_leftover_temporary_files_are_cleaned_but_not_a_live_writer_s(isolated_spool, caplog):
    mine = plant(isolated_spool, tmp_name(os.getpid()), b"{")  # a write under way
    mine_old = age(plant(isolated_spool, tmp_name(os.getpid()) + "x.tmp", b"{"), 30)
    dead = plant(isolated_spool, tmp_name(dead_pid()), b"{")  # young, but its writer is gone
    elsewhere = plant(isolated_spool, tmp_name(os.getpid(), "other-host"), b"{")
    elsewhere_old = age(plant(isolated_spool, tmp_name(1, "other-host"), b"{"), 61)
    unknown_old = age(plant(isolated_spool, ".0001.json.tmp", b""), 61)
    unknown = plant(isolated_spool, ".0002.json.tmp", b"")
    reused = age(plant(isolated_spool, tmp_name(os.getppid()), b"{"), 3601)
    not_ours = plant(isolated_spool, "notes.tmp", b"")
    assert spool.clean_temporary() == 4
    assert sorted(p.name for p in isolated_spool.iterdir()) == sorted(
        p.name for p in (mine, mine_old, elsewhere, unknown, not_ours)
    )
    assert not any(p.exists() for p in (dead, elsewhere_old, unknown_old, reused))
    assert f"removed a temporary spool file left by a crash: {dead}" in caplog.text


def test_applying_the_spool_cleans_first(isolated_spool):
    dead = plant(isolated_spool, tmp_name(dead_pid()), b"{")
    send_queued()
    assert not dead.exists()


def test_a_poll_subfolder_is_cleaned_on_its_own(isolated_spool):
    dead = plant(isolated_spool / "poll", tmp_name(dead_pid()), b"{")
    assert spool.clean_temporary() == 0 and dead.exists()
    assert spool.clean_temporary("poll") == 1 and not dead.exists()


def test_a_concurrent_write_is_not_disturbed_by_a_cleaner(isolated_spool, monkeypatch):
    """Another process cleans while this one is between writing and renaming."""
    real_replace = os.replace
    cleaned = []

    def clean_then_replace(src, dst):
        cleaned.append(spool.clean_temporary())
        return real_replace(src, dst)

    monkeypatch.setattr(spool.os, "replace", clean_then_replace)
    path = spool.write({"ids": [1], "status": "sent"})
    assert cleaned == [0] and spool.read(path)["ids"] == [1]


def test_host_tags_are_safe_in_a_file_name(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "a/b@c d.example")
    assert spool._host_tag() == "a_b_c_d.example"


def test_a_bad_date_message_keeps_the_date(isolated_spool):
    """The reason names what is wrong, so a person can mend the file."""
    with pytest.raises(ValueError, match="'yesterday'"):
        parse_spooled({**GOOD, "submitted_at": "yesterday"})
    assert parse_spooled(GOOD).submitted_at == dt.datetime(2026, 11, 27, 2, tzinfo=dt.timezone.utc)


def test_the_example_project_chooses_its_spool_folder(tmp_path):
    """With DEBUG off and nothing in the environment, the example project passes the
    check: its settings choose a folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XUNCHEN_", "DJANGO_"))}
    env.update(DJANGO_DEBUG="0", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout
