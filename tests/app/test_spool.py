"""The spool folder: where it is, that it can be written, and what a bad file does."""

import json
import tempfile
from pathlib import Path

import pytest

from django_xunchen import spool
from django_xunchen.outcomes import Outcome, apply_spool
from django_xunchen.spool import spool_dir as configured_spool_dir

pytestmark = pytest.mark.django_db


def test_the_folder_is_the_setting_or_one_in_the_temporary_folder(settings, tmp_path):
    settings.XUNCHEN = {**settings.XUNCHEN, "SPOOL_DIR": ""}
    assert configured_spool_dir() == Path(tempfile.gettempdir()) / "django-xunchen-spool"
    settings.XUNCHEN = {**settings.XUNCHEN, "SPOOL_DIR": str(tmp_path / "here")}
    assert configured_spool_dir() == tmp_path / "here"


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


def test_a_written_record_is_read_back_whole(isolated_spool):
    from django.utils import timezone

    outcome = Outcome([3, 4], "sent", msgid="m-1", error_message="好", submitted_at=timezone.now())
    path = spool.write(outcome.to_json())
    assert path.parent == isolated_spool and path.suffix == ".json"
    assert not list(isolated_spool.glob(".*.tmp")), "no temporary file is left"
    assert '"error_message": "好"' in path.read_text(encoding="utf-8"), "readable by people"
    record = spool.read(path)
    assert Outcome.from_json(record) == outcome
    assert Outcome.from_json(record).submitted_at == outcome.submitted_at
    assert record["host"] and record["pid"]
    assert spool.pending() == [path]


@pytest.mark.parametrize("text", ["[1, 2]", '{"status": "sent"}', '{"ids": 3}', "{bad", '"x"'])
def test_a_file_that_is_not_an_outcome_is_set_aside_not_fatal(isolated_spool, text, caplog):
    isolated_spool.mkdir()
    (isolated_spool / "1.json").write_text(text)
    with caplog.at_level("ERROR", logger="django_xunchen.spool"):
        assert spool.read(isolated_spool / "1.json") is None
    assert (isolated_spool / "1.bad").read_text() == text
    assert apply_spool() == 0
    (logged,) = caplog.messages
    assert logged.startswith(f"spool file {isolated_spool / '1.json'} is unreadable (")
    assert logged.endswith("); renamed to 1.bad")
    if text.startswith(("[", '"', '{"')):
        assert "(not a spooled outcome)" in logged


def test_writing_creates_the_configured_folder_with_its_parents(settings, tmp_path):
    folder = tmp_path / "a" / "b" / "spool"
    settings.XUNCHEN = {**settings.XUNCHEN, "SPOOL_DIR": str(folder)}
    path = spool.write({"ids": [1], "status": "sent"})
    assert path.parent == folder and spool.read(path)["ids"] == [1]


def test_reading_or_removing_a_file_another_process_took_is_fine(isolated_spool):
    isolated_spool.mkdir()
    gone = isolated_spool / "gone.json"
    assert spool.read(gone) is None
    spool.remove(gone)
    assert spool.pending() == []


def test_files_are_applied_oldest_first(isolated_spool, db):
    from django_xunchen.models import Message

    message = Message.objects.create(mobile="13800138000", content="x", status="sending")
    spool.write(Outcome([message.pk], "sent", msgid="first").to_json())
    spool.write(Outcome([message.pk], "failed", error_code="110").to_json())
    assert [json.loads(p.read_text())["status"] for p in spool.pending()] == ["sent", "failed"]
    assert apply_spool() == 2
    message.refresh_from_db()
    assert (message.status, message.msgid) == ("sent", "first"), "a sent row is never failed"
