"""scripts/planted_bugs.py's gate, with pytest's runs made up: a plant whose code moved,
a named test that did not run, or one that passed with the plant in, never counts as
caught; and the planted file is always restored, byte for byte."""

import importlib.util
import os
import re
import signal
import sys
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "scripts/planted_bugs.py").exists())
spec = importlib.util.spec_from_file_location("planted_bugs", ROOT / "scripts/planted_bugs.py")
planted_bugs = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = planted_bugs  # dataclasses look their module up
spec.loader.exec_module(planted_bugs)

ORIGINAL = b"def limit():\n    return min(size, 100)\n\n\ndef other():\n    return 1\n"
OLD_MTIME = 1_600_000_000_000_000_000


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package of one module, mod.py, in place of django_xunchen."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    module = folder / "mod.py"
    module.write_bytes(ORIGINAL)
    os.utime(module, ns=(OLD_MTIME, OLD_MTIME))
    monkeypatch.setattr(planted_bugs, "PACKAGE", folder)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield module
    planted_bugs.record_path().unlink(missing_ok=True)


def use(monkeypatch, *plants):
    monkeypatch.setattr(planted_bugs, "PLANTS", list(plants))


def no_cap(tests=("test_cap",), postgres_only=False, old="min(size, 100)"):
    return planted_bugs.plant(
        "no-cap", "Remove the cap", "mod.py", old, "size", tests, postgres_only=postgres_only
    )


def write_junit(path, *cases):
    """``cases``: (name, outcome) with outcome passed, failed, error, skipped or xfailed."""
    body = []
    for name, outcome in cases:
        inner = {
            "passed": "",
            "failed": '<failure message="assert 1 == 2">trace</failure>',
            "error": '<error message="failed on setup">trace</error>',
            "skipped": '<skipped type="pytest.skip" message="needs PostgreSQL">x</skipped>',
            "xfailed": '<skipped type="pytest.xfail" message="known">x</skipped>',
        }[outcome]
        body.append(f'<testcase classname="tests.test_mod" name="{name}">{inner}</testcase>')
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        + "".join(body)
        + "</testsuite></testsuites>"
    )


class FakePytest:
    """Stands in for run_pytest: writes the report it is given for the unplanted run and
    for the planted one (told apart by the module's content), and notes each call."""

    def __init__(self, module, unplanted, planted, returncodes=(0, 1)):
        self.module, self.unplanted, self.planted = module, unplanted, planted
        self.returncodes = returncodes
        self.calls = []

    def __call__(self, expression, marker, junit, log):
        is_planted = self.module.read_bytes() != ORIGINAL
        self.calls.append((expression, marker, is_planted, self.module.read_bytes()))
        write_junit(junit, *(self.planted if is_planted else self.unplanted))
        return planted_bugs.Run(self.returncodes[is_planted], log=None)


def run(monkeypatch, capsys, fake, *argv):
    monkeypatch.setattr(planted_bugs, "run_pytest", fake)
    status = planted_bugs.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def unchanged(module):
    stat = module.stat()
    return module.read_bytes() == ORIGINAL and stat.st_mtime_ns == OLD_MTIME


# ----------------------------------------------------------------------------- the gate


def test_a_plant_caught_by_every_named_test_passes_and_the_file_is_restored(
    package, monkeypatch, capsys
):
    use(monkeypatch, no_cap(tests=("test_cap", "test_other")))
    fake = FakePytest(
        package,
        unplanted=[
            ("test_cap", "passed"),
            ("test_other[a]", "passed"),
            ("test_other[b]", "passed"),
        ],
        planted=[("test_cap", "failed"), ("test_other[a]", "passed"), ("test_other[b]", "error")],
    )
    status, out = run(monkeypatch, capsys, fake)
    assert status == 0, out
    assert [(e, planted) for e, _, planted, _ in fake.calls] == [
        ("test_cap or test_other", False),
        ("test_cap or test_other", True),
    ]
    assert fake.calls[1][3] == ORIGINAL.replace(b"min(size, 100)", b"size")
    assert re.search(r"^no-cap +test_cap +caught +\d+s$", out, re.M), out
    assert "1 plants: 1 caught" in out
    assert unchanged(package)
    assert not planted_bugs.record_path().exists()


def test_a_text_that_is_not_there_is_not_planted_and_fails_the_run(package, monkeypatch, capsys):
    use(monkeypatch, no_cap(old="min(size, 50)"))
    fake = FakePytest(package, [], [])
    status, out = run(monkeypatch, capsys, fake)
    assert status == 1
    assert fake.calls == [], "nothing is run for a plant that is not in"
    assert "NOT PLANTED" in out
    assert "the text to replace is there 0 times, not once: 'min(size, 50)'" in out
    assert unchanged(package)


def test_a_text_found_twice_is_not_planted(package, monkeypatch, capsys):
    use(monkeypatch, no_cap(old="    return "))
    status, out = run(monkeypatch, capsys, FakePytest(package, [], []))
    assert status == 1
    assert "there 2 times, not once" in out and "NOT PLANTED" in out


def test_one_edit_of_several_not_there_plants_none_of_them(package, monkeypatch, capsys):
    plant = planted_bugs.Plant(
        "two",
        "Two edits",
        (
            planted_bugs.Edit("mod.py", "min(size, 100)", "size"),
            planted_bugs.Edit("mod.py", "min(size, 100)", "size"),  # gone after the first
        ),
        ("test_cap",),
    )
    use(monkeypatch, plant)
    status, out = run(monkeypatch, capsys, FakePytest(package, [], []))
    assert status == 1 and "NOT PLANTED" in out
    assert unchanged(package)


def test_a_named_test_that_did_not_run_with_the_plant_is_not_run_never_caught(
    package, monkeypatch, capsys
):
    use(monkeypatch, no_cap(tests=("test_cap", "test_gone")))
    fake = FakePytest(
        package,
        unplanted=[("test_cap", "passed"), ("test_gone", "passed")],
        planted=[("test_cap", "failed")],
    )
    status, out = run(monkeypatch, capsys, fake)
    assert status == 1
    assert "!! no-cap: NOT RUN: test_gone: not collected or deselected" in out
    assert unchanged(package)


def test_a_named_test_skipped_with_the_plant_is_not_run(package, monkeypatch, capsys):
    use(monkeypatch, no_cap())
    fake = FakePytest(package, [("test_cap", "passed")], [("test_cap", "skipped")])
    status, out = run(monkeypatch, capsys, fake, "--allow-not-run")
    assert status == 1, "--allow-not-run excuses a missing PostgreSQL, nothing else"
    assert "NOT RUN: test_cap: skipped: needs PostgreSQL" in out


def test_a_named_test_that_passed_with_the_plant_in_is_not_caught(package, monkeypatch, capsys):
    use(monkeypatch, no_cap(tests=("test_cap", "test_other")))
    fake = FakePytest(
        package,
        unplanted=[("test_cap", "passed"), ("test_other", "passed")],
        planted=[("test_cap", "failed"), ("test_other", "passed"), ("test_more", "failed")],
    )
    status, out = run(monkeypatch, capsys, fake)
    assert status == 1
    assert "!! no-cap: NOT CAUGHT: test_other: passed with the plant in (1 case(s))" in out
    assert unchanged(package)


def test_an_expected_failure_with_the_plant_in_is_not_caught(package, monkeypatch, capsys):
    use(monkeypatch, no_cap())
    fake = FakePytest(package, [("test_cap", "passed")], [("test_cap", "xfailed")])
    status, out = run(monkeypatch, capsys, fake)
    assert status == 1 and "NOT CAUGHT" in out


def test_a_selection_that_fails_unplanted_is_never_planted(package, monkeypatch, capsys):
    use(monkeypatch, no_cap())
    fake = FakePytest(
        package, unplanted=[("test_cap", "passed"), ("test_cap_too", "failed")], planted=[]
    )
    status, out = run(monkeypatch, capsys, fake)
    assert status == 1
    assert [planted for _, _, planted, _ in fake.calls] == [False]
    assert "!! no-cap: FAILS UNPLANTED: failing without the plant: test_cap_too (failed)" in out


def test_a_failed_unplanted_run_without_a_report_fails_unplanted(package, monkeypatch, capsys):
    use(monkeypatch, no_cap())

    def broken(expression, marker, junit, log):
        return planted_bugs.Run(4, log=None)  # a usage error: no report written

    status, out = run(monkeypatch, capsys, broken)
    assert status == 1 and "FAILS UNPLANTED: pytest exited 4 without the plant" in out


def test_a_named_test_missing_unplanted_is_not_run(package, monkeypatch, capsys):
    use(monkeypatch, no_cap())
    fake = FakePytest(package, [], [], returncodes=(5, 5))
    status, out = run(monkeypatch, capsys, fake)
    assert status == 1
    assert "NOT RUN: unplanted: test_cap: not collected or deselected" in out
    assert [planted for _, _, planted, _ in fake.calls] == [False]


def test_plants_that_need_postgresql_are_not_run_on_sqlite(package, monkeypatch, capsys):
    use(monkeypatch, no_cap(postgres_only=True))
    fake = FakePytest(package, [], [])
    status, out = run(monkeypatch, capsys, fake)
    assert status == 1 and fake.calls == []
    assert "NOT RUN: its tests are PostgreSQL-only" in out
    status, out = run(monkeypatch, capsys, fake, "--allow-not-run")
    assert status == 0 and "(--allow-not-run" in out


def test_on_postgresql_the_postgres_only_tests_are_selected(package, monkeypatch, capsys):
    use(monkeypatch, no_cap(postgres_only=True))
    fake = FakePytest(package, [("test_cap", "passed")], [("test_cap", "failed")])
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/x")
    status, out = run(monkeypatch, capsys, fake)
    assert status == 0, out
    assert {marker for _, marker, _, _ in fake.calls} == {"not browser"}
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.sqlite3")
    assert planted_bugs.markers() == "not browser and not postgres_only"


# ----------------------------------------------------------------------------- restoring


def test_an_exception_during_the_planted_run_leaves_the_file_identical(
    package, monkeypatch, capsys
):
    use(monkeypatch, no_cap())
    fake = FakePytest(package, [("test_cap", "passed")], [])

    def crash(expression, marker, junit, log):
        result = fake(expression, marker, junit, log)
        if package.read_bytes() != ORIGINAL:
            raise RuntimeError("the runner broke")
        return result

    monkeypatch.setattr(planted_bugs, "run_pytest", crash)
    with pytest.raises(RuntimeError, match="the runner broke"):
        planted_bugs.main([])
    assert [planted for _, _, planted, _ in fake.calls] == [False, True]
    assert unchanged(package)
    assert not planted_bugs.record_path().exists()


def test_sigterm_during_the_planted_run_restores_the_file_and_stops(package, monkeypatch, capsys):
    use(monkeypatch, no_cap(), no_cap())
    fake = FakePytest(package, [("test_cap", "passed")], [("test_cap", "failed")])
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def terminated(expression, marker, junit, log):
        result = fake(expression, marker, junit, log)
        if package.read_bytes() != ORIGINAL:
            assert signal.getsignal(signal.SIGTERM) is planted_bugs._on_signal
            os.kill(os.getpid(), signal.SIGTERM)
            planted_bugs.check_stop()  # what run_pytest does while it waits
        return result

    status, out = run(monkeypatch, capsys, terminated)
    assert status == 128 + signal.SIGTERM
    assert "stopped by SIGTERM; every planted file is restored" in out
    assert len(fake.calls) == 2, "the second plant never started"
    assert unchanged(package)
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_run_killed_while_planted_is_restored_by_the_next_run(package, monkeypatch, capsys):
    plant = no_cap()
    use(monkeypatch, plant)
    original_restore = planted_bugs.restore
    monkeypatch.setattr(planted_bugs, "restore", lambda *args: None)  # as if SIGKILLed
    with planted_bugs.planted(plant):
        pass
    assert package.read_bytes() != ORIGINAL and planted_bugs.record_path().exists()
    monkeypatch.setattr(planted_bugs, "restore", original_restore)
    fake = FakePytest(package, [("test_cap", "passed")], [("test_cap", "failed")])
    status, out = run(monkeypatch, capsys, fake)
    assert "restored" in out and "left planted by a run that was killed" in out
    assert status == 0
    assert fake.calls[0][2] is False, "the unplanted run saw the original"
    assert unchanged(package)


def test_a_restore_that_does_not_match_the_original_hash_is_an_error(package, monkeypatch):
    def utime_then_a_stray_write(path, ns):
        Path(path).write_bytes(b"something else")

    with pytest.raises(planted_bugs.RestoreFailed, match=r"mod\.py: its hash differs"):
        with planted_bugs.planted(no_cap()):
            monkeypatch.setattr(planted_bugs.os, "utime", utime_then_a_stray_write)


# ----------------------------------------------------------------------------- reading


def test_the_junit_report_is_read_case_by_case(tmp_path):
    report = tmp_path / "r.xml"
    write_junit(
        report,
        ("test_a", "passed"),
        ("test_b[1]", "failed"),
        ("test_b[2]", "passed"),
        ("test_c", "error"),
        ("test_d", "skipped"),
        ("test_e", "xfailed"),
        ("test_b_more", "failed"),
    )
    cases = planted_bugs.read_junit(report)
    assert [(c.name, c.outcome) for c in cases] == [
        ("test_a", "passed"),
        ("test_b[1]", "failed"),
        ("test_b[2]", "passed"),
        ("test_c", "error"),
        ("test_d", "skipped"),
        ("test_e", "xfailed"),
        ("test_b_more", "failed"),
    ]
    assert [c.name for c in planted_bugs.cases_of(cases, "test_b")] == ["test_b[1]", "test_b[2]"]
    assert [c.name for c in planted_bugs.cases_of(cases, "test_b[2]")] == ["test_b[2]"]
    assert planted_bugs.read_junit(tmp_path / "missing.xml") is None
    (tmp_path / "cut.xml").write_text("<testsuites><testsuite><testcase name=")
    assert planted_bugs.read_junit(tmp_path / "cut.xml") is None


def test_a_planted_run_stopped_at_its_timeout_is_not_run():
    plant = planted_bugs.plant("p", "d", "mod.py", "a", "b", ["test_a"])
    result, detail = planted_bugs.judge_planted(plant, planted_bugs.Run(None, timed_out=True), [])
    assert result == planted_bugs.NOT_RUN and "stopped after" in detail


def test_the_selection_names_each_function_once():
    plant = planted_bugs.plant("p", "d", "mod.py", "a", "b", ["test_a[1]", "test_a[2]", "test_b"])
    assert planted_bugs.selection(plant) == "test_a or test_b"


# ----------------------------------------------------------------------------- the list


# mutmut's copies of the modules repeat each function (its trampolines): the texts are
# the package's, not the copies'.
@pytest.mark.main_step_only
@pytest.mark.parametrize("plant", planted_bugs.PLANTS, ids=lambda p: p.name)
def test_every_plant_goes_into_the_package_as_it_is(plant):
    """A plant whose code moved would be NOT PLANTED: this test says so before a run."""
    assert planted_bugs.missing_texts(plant) == []


@pytest.mark.parametrize("plant", planted_bugs.PLANTS, ids=lambda p: p.name)
def test_every_test_a_plant_names_exists(plant):
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    for test in plant.tests:
        name = test.split("[", 1)[0]
        assert re.search(rf"^def {name}\(", sources, re.M), name


def test_the_plant_names_are_unique():
    names = [p.name for p in planted_bugs.PLANTS]
    assert len(names) == len(set(names))
