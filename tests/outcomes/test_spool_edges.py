"""The spool at its edges: values exactly at their limits pass the check of a spooled
outcome; each refusal names exactly what is wrong (the reason a person reads to mend the
file); the writable check's probe is its size exactly; a temporary file is a crash's
leftover only once strictly older than its limit."""

import calendar
import errno
import json
import logging
import os
import resource
import signal
import time
from pathlib import Path

import pytest
import time_machine

from django_xunchen.outcomes import spool
from django_xunchen.outcomes.write import Outcome, parse_spooled

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "ids": [1],
    "status": "sent",
    "msgid": "m-1",
    "error_code": "",
    "error_message": "",
    "blocked_words": [],
    "submitted_at": "2026-11-27T10:00:00+08:00",
    "host": "web-1",
    "pid": 4321,
}


# ------------------------------------------------------------------ the check of a record


def test_values_exactly_at_their_limits_pass_the_check():
    record = {**GOOD, "ids": [1, 2**63 - 1], "msgid": "m" * 64, "error_code": "1" * 16}
    outcome = parse_spooled(record)
    assert (outcome.ids, outcome.msgid, outcome.error_code) == ([1, 2**63 - 1], "m" * 64, "1" * 16)


def test_a_record_missing_fields_and_holding_unknown_ones_names_them_all():
    record = {k: v for k, v in GOOD.items() if k not in ("host", "pid")}
    record.update(request="r-1", zone="Asia/Shanghai")
    with pytest.raises(ValueError) as info:
        parse_spooled(record)
    assert str(info.value) == "missing host, pid; unknown 'request', 'zone'"


@pytest.mark.parametrize(
    ("use_tz", "submitted_at", "message"),
    [
        (True, "2026-11-27T10:00:00", "submitted_at has no UTC offset"),
        (False, "2026-11-27T10:00:00+08:00", "submitted_at has a UTC offset"),
    ],
)
def test_a_submission_time_of_the_wrong_kind_says_which(settings, use_tz, submitted_at, message):
    settings.USE_TZ = use_tz
    with pytest.raises(ValueError) as info:
        parse_spooled({**GOOD, "submitted_at": submitted_at})
    assert str(info.value) == message


# ------------------------------------------------------------------ the reasons given


def plant(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time_ns():020d}-1-bad00000.json"
    path.write_bytes(data)
    return path


def refuse_bare(record):
    raise ValueError


@pytest.mark.parametrize(
    ("data", "parse", "reason"),
    [
        (b"[1, 2]", None, "not a JSON object but list"),
        (b'{"ids": [1], "ids": [2]}', None, "a key occurs twice"),
        (b"[" * 100_000, None, "nested too deep"),
        (json.dumps(GOOD).encode(), refuse_bare, "ValueError"),
    ],
    ids=["a list", "a key twice", "nested", "a refusal without words"],
)
def test_a_bad_file_is_set_aside_with_exactly_its_reason(
    isolated_spool, caplog, data, parse, reason
):
    path = plant(isolated_spool, data)
    with caplog.at_level(logging.ERROR, logger="django_xunchen.spool"):
        got = spool.read(path) if parse is None else spool.load(path, parse)
    assert got is None
    assert spool.bad_files() == [path.with_suffix(".bad")]
    assert [r.getMessage() for r in caplog.records] == [
        f"spool file {path} is bad ({reason}); renamed to {path.stem}.bad"
    ]


def test_an_unreadable_file_is_set_aside_with_the_system_s_reason(
    isolated_spool, caplog, monkeypatch
):
    path = plant(isolated_spool, b"{}")
    real = Path.read_bytes

    def refuse(self):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with caplog.at_level(logging.ERROR, logger="django_xunchen.spool"):
        assert spool.load(path, parse_spooled) is None
    assert [r.getMessage() for r in caplog.records] == [
        f"spool file {path} is bad (cannot be read: Permission denied); renamed to {path.stem}.bad"
    ]


def test_a_spooled_outcome_is_read_back_through_the_same_check(isolated_spool):
    outcome = Outcome([7], "failed", error_code="110", blocked_words=["词"])
    assert spool.load(spool.write(outcome.to_json()), parse_spooled) == outcome


# ------------------------------------------------------------------ the writable check


def test_the_writable_check_writes_its_probe_and_not_a_byte_more(tmp_path):
    """Files may grow to the probe's size: the check passes; a byte less: it fails. (In
    this process, not a child, so that make mutation sees the test run the check.)"""
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # such a write fails instead
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    found = []
    try:
        for limit in (spool.PROBE_BYTES, spool.PROBE_BYTES - 1):
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
            found.append(spool.check_writable(tmp_path))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert found == [None, f"{tmp_path}: File too large"]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ temporary files

NOW = calendar.timegm((2026, 12, 7, 3, 0, 0))


def aged(folder: Path, name: str, seconds: int) -> Path:
    path = folder / name
    path.write_bytes(b"{")
    then = (NOW - seconds) * 10**9
    os.utime(path, ns=(then, then))
    return path


def test_a_temporary_file_is_a_leftover_only_once_strictly_older_than_its_limit(isolated_spool):
    isolated_spool.mkdir()
    live = f".1-{os.getpid()}-ab.json.{os.getpid()}@{spool._host_tag()}.tmp"
    live_writer = aged(isolated_spool, live, int(spool.TMP_MAX_AGE_LIVE_WRITER))
    unknown_writer = aged(isolated_spool, ".0001.json.tmp", int(spool.TMP_MAX_AGE))
    with time_machine.travel(NOW, tick=False):
        assert spool.clean_temporary() == 0
    assert live_writer.exists() and unknown_writer.exists()
    with time_machine.travel(NOW + 0.5, tick=False):
        assert spool.clean_temporary() == 2
    assert list(isolated_spool.iterdir()) == []
