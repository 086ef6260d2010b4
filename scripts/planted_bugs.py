"""`make planted`: the bugs planted by hand in earlier rounds are still caught.

A test guards a promise only if breaking the promise makes it fail. Each plant below is
a bug that once was (or could be) written: a change to the package's code, and the tests
that must fail while it is in. For each plant this script:

1. finds each text to replace in its file; it must occur exactly once, else the plant is
   NOT PLANTED (the code moved or changed: a plant never passes by not being planted);
2. runs the plant's tests unplanted, by function name (``pytest tests -k "a or b"``); they
   must run and pass, else FAILS UNPLANTED (or NOT RUN);
3. writes the change, runs the same selection, and restores the file byte for byte in a
   ``finally`` (also on Ctrl-C and SIGTERM), checking the restore with a hash;
4. reads pytest's JUnit XML: every named test must have run and failed (a parametrized
   test: at least one of its cases). A named test that did not run at all is NOT RUN,
   never caught; one that passed is NOT CAUGHT.

It prints a table (plant, tests, result, time) and exits 0 only if every plant was
caught. Plants whose tests are PostgreSQL-only run when DATABASE_URL points to
PostgreSQL; otherwise they are NOT RUN, with the reason, which fails the run unless
``--allow-not-run``.

    python scripts/planted_bugs.py                 # every plant
    python scripts/planted_bugs.py --only NAME     # one plant (its name or number)
    python scripts/planted_bugs.py --list          # what each plant changes, and its tests
    DATABASE_URL=$(scripts/start-postgres.sh) python scripts/planted_bugs.py

While a plant is in, the package's file holds the bug: run nothing else against this
working tree meanwhile. A run killed with SIGKILL leaves a record in the temporary
folder, and the next run restores the file first.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The package the plants go into; the tests of this script point it at a copy.
PACKAGE = ROOT / "django_xunchen"

CAUGHT = "caught"
NOT_CAUGHT = "NOT CAUGHT"
NOT_PLANTED = "NOT PLANTED"
NOT_RUN = "NOT RUN"
FAILS_UNPLANTED = "FAILS UNPLANTED"

#: Seconds one pytest run may take before it is stopped (and its plant is NOT RUN).
TIMEOUT = 900.0
NEEDS_POSTGRES = "its tests are PostgreSQL-only: set DATABASE_URL to a PostgreSQL database"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once) by ``new`` in ``file``, a path
    inside the package."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Plant:
    name: str
    description: str
    edits: tuple[Edit, ...]
    #: Test function names, each of which must run and fail; ``name[id]`` names one case.
    tests: tuple[str, ...]
    postgres_only: bool = False


def plant(
    name: str,
    description: str,
    file: str,
    old: str,
    new: str,
    tests: Sequence[str],
    postgres_only: bool = False,
) -> Plant:
    return Plant(name, description, (Edit(file, old, new),), tuple(tests), postgres_only)


PLANTS: list[Plant] = [
    plant(
        "claim-send-record-in-one-transaction",
        "Claim, send and record a chunk in one transaction",
        "dispatch/submit.py",
        "            error = _submit(chunk, backends, outcome, down, wire_text)\n",
        "            from django.db import transaction\n\n"
        "            with transaction.atomic():\n"
        "                error = _submit(chunk, backends, outcome, down, wire_text)\n",
        ["test_the_claim_is_committed_before_the_request_leaves"],
        postgres_only=True,
    ),
    plant(
        "poll-in-one-transaction",
        "Journal, parse and ingest a poll in one transaction",
        "polling/run.py",
        "                fetched = _fetch_and_journal(operation, group, result)\n"
        "                if fetched is not None:\n"
        '                    _ingest(fetched, group, result, conf["JOURNAL_MAX_ATTEMPTS"])\n',
        "                from django.db import transaction\n\n"
        "                with transaction.atomic():\n"
        "                    fetched = _fetch_and_journal(operation, group, result)\n"
        "                    if fetched is not None:\n"
        '                        _ingest(fetched, group, result, conf["JOURNAL_MAX_ATTEMPTS"])\n',
        [
            "test_a_poll_killed_after_its_fetch_loses_no_report",
            "test_the_journal_entry_is_committed_before_it_is_parsed",
        ],
        postgres_only=True,
    ),
    plant(
        "client-logs-form-body",
        "Log the form body (password and key) at DEBUG in the client",
        "client/http.py",
        '        logger.debug("POST %s method=%s", self.url, method)\n',
        '        logger.debug("POST %s method=%s %s", self.url, method, body.decode("ascii"))\n',
        ["test_secrets_never_reach_debug_logs_or_reprs"],
    ),
    plant(
        "cut-answer-not-sent",
        'Treat an answer broken off mid-body as "not sent"',
        "client/http.py",
        "        raise ResponseCutOffError(\n"
        '            f"{operation}: the answer broke off after {raw.tell()} of {declared} bytes",\n'
        '            b"".join(chunks),\n'
        "        )\n",
        "        raise NotSentError(\n"
        '            f"{operation}: the answer broke off after {raw.tell()} of {declared} bytes"\n'
        "        )\n",
        ["test_an_answer_cut_mid_body_is_outcome_unknown_never_not_sent"],
    ),
    plant(
        "no-cap-of-100",
        "Remove the cap of 100 numbers per request",
        "dispatch/submit.py",
        'batch_size = max(1, min(int(xunchen_settings()["BATCH_SIZE"]), 100))',
        'batch_size = max(1, int(xunchen_settings()["BATCH_SIZE"]))',
        ["test_batch_size_is_honoured_and_never_above_100"],
    ),
    plant(
        "batch-size-ignored",
        "Ignore BATCH_SIZE",
        "dispatch/submit.py",
        'batch_size = max(1, min(int(xunchen_settings()["BATCH_SIZE"]), 100))',
        "batch_size = 100",
        ["test_batch_size_is_honoured_and_never_above_100"],
    ),
    plant(
        "lock-refresh-does-nothing",
        "The poll lock's refresh() does nothing",
        "polling/locks.py",
        "        renewed = PollLock.objects.filter(name=self.name, owner=self.owner).update(\n"
        "            expires_at=timezone.now() + self.timeout\n"
        "        )\n"
        "        if not renewed:\n"
        "            self.held = False\n"
        "            raise LockLost(self.name, self.owner)\n",
        "        return\n",
        [
            "test_refresh_raises_once_the_lock_was_taken_over",
            "test_refresh_pushes_the_expiry_forward",
            "test_a_poll_that_lost_its_lock_stops_before_its_next_fetch",
        ],
    ),
    plant(
        "release-deletes-other-owners-lock",
        "release() deletes another owner's lock",
        "polling/locks.py",
        "PollLock.objects.filter(name=self.name, owner=self.owner).delete()",
        "PollLock.objects.filter(name=self.name).delete()",
        ["test_a_stale_owner_releasing_never_deletes_the_new_owners_lock"],
    ),
    plant(
        "resend-action-wrong-permission",
        "The resend action checks the wrong permission",
        "admin/messages.py",
        'permissions=["resend"]',
        'permissions=["send"]',
        ["test_each_custom_permission_opens_exactly_its_own_door"],
    ),
    plant(
        "balance-page-wrong-permission",
        "The balance page checks the wrong permission",
        "admin/views/balance.py",
        'model_admin.require(request, "check_balance")',
        'model_admin.require(request, "dashboard")',
        ["test_each_custom_permission_opens_exactly_its_own_door"],
    ),
    Plant(
        "campaign-ignores-quiet-hours",
        "Quiet hours ignored on the campaign path: at confirm, at resume and at the submit "
        "of its rows (any one alone is held back by the others, and fails the admission walks)",
        (
            Edit(
                "campaigns/lifecycle.py",
                "    hold = admission.hold(campaign.kind, campaign.account, hold or timezone.now())"
                " or hold\n",
                "",
            ),
            Edit(
                "campaigns/lifecycle.py",
                "        hold = admission.hold(campaign.kind, campaign.account, hold or now)"
                " or hold\n",
                "",
            ),
            Edit(
                "sending/admission.py",
                "    until = hold(kind, account, out)\n",
                "    until = None if first.campaign_id else hold(kind, account, out)\n",
            ),
        ),
        ("test_a_marketing_campaign_confirmed_at_22_sends_nothing_until_8",),
    ),
    plant(
        "opt-out-narrows-suppression",
        "A marketing opt-out by reply narrows a number already suppressed for everything",
        "policy/suppression.py",
        "widened = not created and scope == Suppression.Scope.ALL and entry.scope != scope",
        "widened = not created and entry.scope != scope",
        ["test_a_marketing_opt_out_by_reply_never_narrows_a_suppression_for_everything"],
    ),
    plant(
        "send-goes-on-after-unknown",
        "A send goes on submitting requests after a request's outcome turned unknown",
        "dispatch/submit.py",
        "                if isinstance(error, OutcomeUnknownError):\n"
        "                    return outcome\n",
        "                if isinstance(error, OutcomeUnknownError):\n                    pass\n",
        ["test_after_an_unknown_outcome_the_send_stops_and_the_rest_stays_queued"],
    ),
    plant(
        "refused-answer-not-kept-on-disk",
        "A fetched answer the database refuses is not kept on disk",
        "polling/fetch.py",
        "        except DatabaseError as exc:\n"
        "            _keep_on_disk(group.name, operation, body, now, complete, exc)\n"
        "            raise\n",
        "        except DatabaseError:\n            raise\n",
        [
            "test_answers_the_journal_refused_are_stored_by_the_next_poll",
            "test_an_answer_kept_on_disk_and_already_journaled_is_not_journaled_twice",
            "test_when_the_disk_refuses_too_the_whole_answer_is_logged_critical_and_can_be_imported",
        ],
    ),
    plant(
        "salvage-keeps-cut-record",
        "The salvage of a cut answer keeps the records the stream reported as ended after "
        "the break",
        "client/parsing.py",
        "        scan.records, dropped = _whole_records(\n"
        "            text, operation, tag, convert, len(scan.records), body\n"
        "        )\n",
        "        dropped = 0\n",
        ["test_every_cut_of_a_sample_gives_exactly_the_records_completed_before_it"],
    ),
    plant(
        "submit-ignores-learned-words",
        "Admission at submit: the learned blocked words' rule removed",
        "sending/admission.py",
        "    found = blocked_words(first.content, kind, account, words)\n",
        "    found = []\n",
        ["test_each_rule_holds_when_the_row_is_submitted"],
    ),
    plant(
        "write-ignores-suppression",
        "Admission at write (screen): the suppression rule removed",
        "sending/admission.py",
        "            entry = listed.get(row.mobile)\n",
        "            entry = None\n",
        ["test_each_rule_holds_when_the_row_is_written"],
    ),
    plant(
        "import-page-permission-error",
        "The suppression import page raises PermissionError (a 500), not PermissionDenied",
        "admin/policy.py",
        "            raise PermissionDenied\n        form = ImportForm(",
        "            raise PermissionError\n        form = ImportForm(",
        ["test_staff_who_may_only_look_get_403_on_the_import_page"],
    ),
    # Not test_twenty_concurrent_code_requests_for_a_number_never_seen_send_once: it passes
    # with this plant in, as the other requests already wait on the first one's uncommitted
    # insert of the new buckets (ON CONFLICT DO NOTHING waits for it on PostgreSQL).
    plant(
        "throttle-buckets-without-row-lock",
        "The code throttles read their buckets without a row lock",
        "verification/throttles.py",
        "ThrottleBucket.objects.select_for_update().filter(key__in=keys)",
        "ThrottleBucket.objects.filter(key__in=keys)",
        ["test_twenty_concurrent_code_requests_for_one_number_send_once"],
        postgres_only=True,
    ),
]


# ----------------------------------------------------------------------------- results


@dataclass
class Outcome:
    plant: Plant
    result: str
    seconds: float = 0.0
    detail: str = ""
    #: A NOT RUN that --allow-not-run may excuse: the plant needs PostgreSQL.
    excusable: bool = False


@dataclass(frozen=True)
class Case:
    """One test case of a JUnit XML report."""

    name: str
    classname: str
    outcome: str  # passed, failed, error, skipped, xfailed
    message: str = ""


@dataclass(frozen=True)
class Run:
    returncode: int | None
    timed_out: bool = False
    log: Path | None = None


def read_junit(path: Path) -> list[Case] | None:
    """The cases of a JUnit XML report pytest wrote, or ``None`` when there is none."""
    try:
        tree = ET.parse(path)  # noqa: S314 (written just now by our own pytest run)
    except (OSError, ET.ParseError):
        return None
    cases = []
    for element in tree.iter("testcase"):
        outcome, message = "passed", ""
        for child in element:
            kind = child.tag
            text = child.get("message") or ""
            if kind in ("failure", "error"):
                outcome, message = ("failed" if kind == "failure" else "error"), text
                break
            if kind == "skipped":
                xfail = child.get("type") == "pytest.xfail"
                outcome, message = ("xfailed" if xfail else "skipped"), text
        cases.append(Case(element.get("name", ""), element.get("classname", ""), outcome, message))
    return cases


def cases_of(cases: Sequence[Case], test: str) -> list[Case]:
    """The cases of ``test``: all its parameters, or the one ``name[id]`` names."""
    if "[" in test:
        return [c for c in cases if c.name == test]
    return [c for c in cases if c.name == test or c.name.startswith(test + "[")]


def _ran(cases: Sequence[Case]) -> list[Case]:
    return [c for c in cases if c.outcome != "skipped"]


def _failed(cases: Sequence[Case]) -> list[Case]:
    return [c for c in cases if c.outcome in ("failed", "error")]


def _not_run_reason(test: str, found: Sequence[Case], run: Run) -> str:
    if run.timed_out:
        return f"{test}: the run was stopped after {TIMEOUT:g} s"
    if found:
        return f"{test}: skipped: {found[0].message}"
    return f"{test}: not collected or deselected (renamed? marked postgres_only or browser?)"


def judge_unplanted(plant: Plant, run: Run, cases: list[Case] | None) -> tuple[str, str] | None:
    """``None`` when the selection ran every named test and passed, else (result, why)."""
    if run.timed_out:
        return NOT_RUN, f"the unplanted run was stopped after {TIMEOUT:g} s"
    failed = _failed(cases or [])
    if failed:
        names = ", ".join(f"{c.name} ({c.outcome})" for c in failed[:5])
        first = " ".join(failed[0].message.split())[:300]
        return FAILS_UNPLANTED, f"failing without the plant: {names}; the first: {first}"
    if run.returncode not in (0, 5) or cases is None:
        return FAILS_UNPLANTED, f"pytest exited {run.returncode} without the plant{_tail(run)}"
    for test in plant.tests:
        found = cases_of(cases, test)
        if not _ran(found):
            return NOT_RUN, "unplanted: " + _not_run_reason(test, found, run)
    return None


def judge_planted(plant: Plant, run: Run, cases: list[Case] | None) -> tuple[str, str]:
    """Caught only if every named test ran and failed (one case of it at least)."""
    not_run, passed, caught = [], [], []
    for test in plant.tests:
        found = cases_of(cases or [], test)
        ran = _ran(found)
        if not ran:
            not_run.append(_not_run_reason(test, found, run))
        elif not _failed(ran):
            passed.append(f"{test}: passed with the plant in ({len(ran)} case(s))")
        else:
            caught.append(f"{test}: {len(_failed(ran))} of {len(ran)} case(s) failed")
    if not_run:
        tail = _tail(run) if cases is None else ""
        return NOT_RUN, "; ".join(not_run) + tail
    if passed:
        return NOT_CAUGHT, "; ".join(passed)
    return CAUGHT, "; ".join(caught)


def _tail(run: Run, lines: int = 12) -> str:
    if run.log is None:
        return ""
    try:
        text = run.log.read_text(errors="replace").rstrip().splitlines()[-lines:]
    except OSError:
        return ""
    return "\n" + "\n".join("      " + line for line in text)


# ----------------------------------------------------------------------------- pytest


def on_postgresql() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    return url.split(":", 1)[0].lower() in POSTGRES_SCHEMES if ":" in url else False


def selection(plant: Plant) -> str:
    """The ``-k`` expression: each test's function name (a case id cannot go in it)."""
    names = dict.fromkeys(test.split("[", 1)[0] for test in plant.tests)
    return " or ".join(names)


def markers() -> str:
    return "not browser" if on_postgresql() else "not browser and not postgres_only"


def run_pytest(expression: str, marker: str, junit: Path, log: Path) -> Run:
    """The selected tests in a process group of their own (stopped as a whole on a
    timeout or a signal); no bytecode is written, so a plant leaves no cached trace."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-q",
        "-k",
        expression,
        "-m",
        marker,
        f"--junitxml={junit}",
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and test names)
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    return Run(process.wait(timeout=0.2), log=log)
                check_stop()
                if time.monotonic() > deadline:
                    _stop(process)
                    return Run(None, timed_out=True, log=log)
        except BaseException:
            _stop(process)
            raise


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the run's process group, SIGKILL to whatever is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


# ----------------------------------------------------------------------------- planting


class Stopped(BaseException):
    """SIGINT or SIGTERM: the plant is taken out, then the run stops."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class RestoreFailed(Exception):
    """A planted file is not byte for byte what it was."""


#: The signals received: the run stops at the next safe point (never inside a write or
#: a restore), after the plant is taken out.
_stop_requested: list[int] = []


def _on_signal(signum: int, frame: object) -> None:
    _stop_requested.append(signum)


def check_stop() -> None:
    if _stop_requested:
        raise Stopped(_stop_requested[0])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_path() -> Path:
    """Where the originals wait while a plant is in: the next run restores them if this
    one was killed (SIGKILL) before it could."""
    key = hashlib.sha256(str(PACKAGE.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"django-xunchen-planted-{key}.json"


def missing_texts(plant: Plant) -> list[str]:
    """Why the plant cannot go in: each text that is not in its file exactly once
    (counted in the file as the plant's earlier edits leave it)."""
    problems = []
    contents: dict[str, str] = {}
    for edit in plant.edits:
        path = PACKAGE / edit.file
        if edit.file not in contents:
            try:
                contents[edit.file] = path.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"django_xunchen/{edit.file}: {exc}")
                continue
        count = contents[edit.file].count(edit.old)
        if count != 1:
            first = edit.old.strip().splitlines()[0] if edit.old.strip() else edit.old
            problems.append(
                f"django_xunchen/{edit.file}: the text to replace is there {count} times, "
                f"not once: {first!r}"
            )
        else:
            contents[edit.file] = contents[edit.file].replace(edit.old, edit.new, 1)
    return problems


@contextlib.contextmanager
def planted(plant: Plant) -> Iterator[None]:
    """The plant's edits are in the package inside the block; every file it touched is
    restored byte for byte (and its modification time) on the way out, whatever
    happened, and checked against the original's hash."""
    originals: dict[Path, tuple[bytes, int, int]] = {}
    planted_text: dict[Path, bytes] = {}
    try:
        for edit in plant.edits:
            path = PACKAGE / edit.file
            if path not in originals:
                stat = path.stat()
                originals[path] = (path.read_bytes(), stat.st_atime_ns, stat.st_mtime_ns)
            text = (planted_text.get(path) or originals[path][0]).decode("utf-8")
            planted_text[path] = text.replace(edit.old, edit.new, 1).encode("utf-8")
        _write_record(originals, planted_text)
        for path, data in planted_text.items():
            path.write_bytes(data)
        yield
    finally:
        restore(originals, planted_text)


def restore(originals: dict[Path, tuple[bytes, int, int]], planted_text: dict[Path, bytes]) -> None:
    problems = []
    for path, (data, atime, mtime) in originals.items():
        try:
            current = path.read_bytes()
        except OSError:
            current = None
        if current is not None and current not in (data, planted_text.get(path)):
            copy = Path(tempfile.mkstemp(prefix=f"{path.name}.changed-while-planted-")[1])
            copy.write_bytes(current)
            print(
                f"!! {path} was changed by someone else while the plant was in; that "
                f"version (plant included) is saved in {copy}",
                file=sys.stderr,
            )
        try:
            path.write_bytes(data)
            os.utime(path, ns=(atime, mtime))
            ok = _sha256(path.read_bytes()) == _sha256(data)
        except OSError as exc:
            problems.append(f"{path}: {exc}")
            continue
        if not ok:
            problems.append(f"{path}: its hash differs from the original's after the restore")
    if problems:
        raise RestoreFailed("; ".join(problems))
    with contextlib.suppress(FileNotFoundError):
        record_path().unlink()


def _write_record(
    originals: dict[Path, tuple[bytes, int, int]], planted_text: dict[Path, bytes]
) -> None:
    entries = [
        {
            "path": str(path),
            "original": base64.b64encode(data).decode("ascii"),
            "atime_ns": atime,
            "mtime_ns": mtime,
            "planted_sha256": _sha256(planted_text[path]),
        }
        for path, (data, atime, mtime) in originals.items()
    ]
    record = record_path()
    temporary = record.with_suffix(".tmp")
    temporary.write_text(json.dumps(entries))
    temporary.replace(record)


def restore_leftovers() -> list[str]:
    """Restore the files a killed run left planted; what was done, one line each."""
    record = record_path()
    try:
        entries = json.loads(record.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        return [f"could not read {record} ({exc}); check the package with git diff"]
    done = []
    for entry in entries:
        path = Path(entry["path"])
        original = base64.b64decode(entry["original"])
        try:
            current = path.read_bytes()
        except OSError:
            current = b""
        if _sha256(current) == entry["planted_sha256"]:
            path.write_bytes(original)
            os.utime(path, ns=(entry["atime_ns"], entry["mtime_ns"]))
            done.append(f"restored {path}, left planted by a run that was killed")
        elif current != original:
            done.append(f"{path} changed since a killed run planted it; left as it is")
    record.unlink()
    return done


# ----------------------------------------------------------------------------- the gate


def check(plant: Plant, workdir: Path, postgres: bool) -> Outcome:
    started = time.monotonic()

    def outcome(result: str, detail: str, excusable: bool = False) -> Outcome:
        return Outcome(plant, result, time.monotonic() - started, detail, excusable)

    problems = missing_texts(plant)
    if problems:
        return outcome(NOT_PLANTED, "; ".join(problems))
    if plant.postgres_only and not postgres:
        return outcome(NOT_RUN, NEEDS_POSTGRES, excusable=True)
    expression, marker = selection(plant), markers()
    junit, log = workdir / f"{plant.name}-unplanted.xml", workdir / f"{plant.name}-unplanted.log"
    run = run_pytest(expression, marker, junit, log)
    verdict = judge_unplanted(plant, run, read_junit(junit))
    if verdict is not None:
        return outcome(*verdict)
    junit, log = workdir / f"{plant.name}-planted.xml", workdir / f"{plant.name}-planted.log"
    with planted(plant):
        run = run_pytest(expression, marker, junit, log)
    return outcome(*judge_planted(plant, run, read_junit(junit)))


def table(outcomes: Sequence[Outcome]) -> str:
    plant_width = max([len("plant")] + [len(o.plant.name) for o in outcomes])
    tests_width = max([len("tests")] + [len(t) for o in outcomes for t in o.plant.tests])
    result_width = max(len(r) for r in (CAUGHT, NOT_CAUGHT, NOT_PLANTED, NOT_RUN, FAILS_UNPLANTED))
    header = f"{'plant':<{plant_width}}  {'tests':<{tests_width}}  {'result':<{result_width}}  time"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        for i, test in enumerate(o.plant.tests):
            if i == 0:
                lines.append(
                    f"{o.plant.name:<{plant_width}}  {test:<{tests_width}}  "
                    f"{o.result:<{result_width}}  {o.seconds:>3.0f}s"
                )
            else:
                lines.append(f"{'':<{plant_width}}  {test}")
    return "\n".join(lines)


def describe(plants: Sequence[Plant]) -> str:
    lines = []
    for number, p in enumerate(plants, 1):
        where = ", ".join(dict.fromkeys(f"django_xunchen/{e.file}" for e in p.edits))
        flag = " (PostgreSQL-only)" if p.postgres_only else ""
        lines.append(f"{number:>2}. {p.name}{flag}: {p.description}")
        lines.append(f"    in {where}")
        lines.extend(f"    must fail: {t}" for t in p.tests)
    return "\n".join(lines)


def choose(plants: Sequence[Plant], wanted: Sequence[str]) -> list[Plant]:
    chosen = []
    for name in wanted:
        found = [p for number, p in enumerate(plants, 1) if name in (p.name, str(number))]
        if not found:
            raise SystemExit(f"no plant named {name!r}; see --list")
        chosen.extend(p for p in found if p not in chosen)
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the plants and exit")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run this plant only (name or number)"
    )
    parser.add_argument(
        "--allow-not-run",
        action="store_true",
        help="plants that need PostgreSQL, run without it, do not fail the run",
    )
    args = parser.parse_args(argv)
    plants = choose(PLANTS, args.only) if args.only else list(PLANTS)
    if args.list:
        print(describe(plants))
        return 0
    _stop_requested.clear()
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    outcomes: list[Outcome] = []
    try:
        for line in restore_leftovers():
            print(f"!! {line}", flush=True)
        postgres = on_postgresql()
        database = "PostgreSQL" if postgres else "SQLite (DATABASE_URL is not PostgreSQL)"
        print(f"{len(plants)} planted bugs, on {database}", flush=True)
        with tempfile.TemporaryDirectory(prefix="planted-bugs-") as workdir:
            for number, p in enumerate(plants, 1):
                check_stop()
                print(f"[{number}/{len(plants)}] {p.name} ...", end=" ", flush=True)
                result = check(p, Path(workdir), postgres)
                outcomes.append(result)
                print(f"{result.result} ({result.seconds:.0f}s): {result.detail}", flush=True)
    except Stopped as stop:
        print(f"\nstopped by {stop}; every planted file is restored", file=sys.stderr)
        return 128 + stop.signum
    except RestoreFailed as exc:
        print(f"\n!! A PLANTED FILE WAS NOT RESTORED: {exc}", file=sys.stderr)
        print("!! check the package with git diff before anything else", file=sys.stderr)
        return 2
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    total = time.monotonic() - started
    print()
    print(table(outcomes))
    print()
    failing = [o for o in outcomes if o.result != CAUGHT]
    for o in failing:
        print(f"!! {o.plant.name}: {o.result}: {o.detail}")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    summary = ", ".join(f"{n} {result}" for result, n in counts.items())
    print(f"{len(outcomes)} plants: {summary}; total {total:.0f}s")
    blocking = [o for o in failing if not (args.allow_not_run and o.excusable)]
    if failing and not blocking:
        print("(--allow-not-run: the plants that need PostgreSQL do not fail this run)")
    return 1 if blocking else 0


if __name__ == "__main__":
    sys.exit(main())
