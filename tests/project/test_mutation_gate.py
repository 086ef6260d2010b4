"""scripts/mutation.py's score and gate, on made-up mutmut results: a run that tested
nothing, or whose tests failed unmutated, can never pass."""

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from mutmut.mutation.file_mutation import mutate_file_contents
from mutmut.utils.format_utils import get_mutant_name

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("mutation_gate", ROOT / "scripts" / "mutation.py")
mutation = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mutation  # dataclasses look their module up
spec.loader.exec_module(mutation)

EQUIVALENT = next(iter(mutation.EQUIVALENT))  # a real name: the list is the script's own
UNMEASURED = next(k for k in mutation.UNMEASURED if not k.endswith("__"))


def codes(killed=0, survived=0, not_run=0, prefix="django_xunchen.sending.x_f__mutmut_"):
    results = {}
    for code, count in ((1, killed), (0, survived), (None, not_run)):
        for _ in range(count):
            results[f"{prefix}{len(results) + 1}"] = code
    return results


def test_nothing_run_fails_with_a_zero_score():
    # A fresh clone whose stats step failed: 0 killed, 4,235 not run.
    t = mutation.tally(codes(not_run=4235))
    assert t.counts["no result"] == 4235
    assert t.score == 0.0
    problems = mutation.gate({"django_xunchen/sending.py": t})
    assert any("4235 mutants in scope have no result" in p for p in problems)
    assert any("under the goal" in p for p in problems)


def test_mutants_without_a_result_count_against_the_score():
    t = mutation.tally(codes(killed=90, not_run=10))
    assert t.score == 90.0
    problems = mutation.gate({"m.py": t})
    assert problems == [
        "10 mutants in scope have no result for the current code (a stopped run, or "
        "functions changed since): run make mutation to finish"
    ]


def test_a_failed_mutmut_run_fails_whatever_the_results_say():
    t = mutation.tally(codes(killed=100))
    assert mutation.gate({"m.py": t}) == []
    (problem,) = mutation.gate({"m.py": t}, run_status=1)
    assert "mutmut run failed (exit status 1)" in problem
    assert "fails unmutated" in problem


def test_every_mutant_killed_or_equivalent_passes():
    results = codes(killed=9)
    results[EQUIVALENT] = 0  # survived, but listed as equivalent with its reason
    t = mutation.tally(results, confirmed={EQUIVALENT})
    assert (t.counts["killed"], t.counts["equivalent"], t.score) == (9, 1, 100.0)
    assert mutation.gate({"m.py": t}) == []


def test_a_claim_not_confirmed_on_the_current_function_is_a_survivor():
    t = mutation.tally({EQUIVALENT: 0, UNMEASURED: 0})
    assert (t.counts["equivalent"], t.counts["unmeasured"], t.counts["survived"]) == (0, 0, 2)
    assert t.survivors == [(EQUIVALENT, mutation.UNCONFIRMED), (UNMEASURED, mutation.UNCONFIRMED)]


def test_an_equivalent_mutant_without_a_result_is_not_counted_as_equivalent():
    # Once its function changed, the same number may name another change.
    t = mutation.tally({EQUIVALENT: None})
    assert t.counts["no result"] == 1
    assert t.counts["equivalent"] == 0


def test_unmeasured_survivors_count_against_the_score():
    results = codes(killed=85)
    results.update({f"{UNMEASURED}x{n}": 0 for n in range(15)})
    results[UNMEASURED] = 0
    t = mutation.tally(results, confirmed={UNMEASURED})
    assert t.counts["unmeasured"] == 1
    assert t.counts["survived"] == 15
    assert t.score == pytest.approx(100 * 85 / 101)
    assert any("under the goal" in p for p in mutation.gate({"m.py": t}))


def test_survivors_and_untested_mutants_are_named():
    results = {"a.x_f__mutmut_1": 0, "a.x_f__mutmut_2": 33, "a.x_f__mutmut_3": 36}
    t = mutation.tally(results)
    assert t.survivors == [
        ("a.x_f__mutmut_1", "survived"),
        ("a.x_f__mutmut_2", "no test reaches it"),
    ]
    assert t.counts["killed"] == 1  # 36 is a timeout


def test_each_module_must_reach_the_goal_not_only_the_whole():
    good = mutation.tally(codes(killed=1000))
    weak = mutation.tally(codes(killed=8, survived=2))
    problems = mutation.gate({"good.py": good, "weak.py": weak})
    assert problems == ["weak.py: score 80.0% is under the goal of 90%"]


def test_a_module_without_results_fails():
    problems = mutation.gate({"a.py": mutation.tally(codes(killed=5)), "b.py": None})
    assert any("no result for the current code of b.py" in p for p in problems)


def test_an_empty_scope_fails():
    assert mutation.gate({}) == ["no mutant in scope at all: check [tool.mutmut] only_mutate"]


def record_of(module: str, source: str, code: int) -> dict:
    """mutmut's record of ``source`` with every mutant's result ``code``."""
    mutated = mutate_file_contents(module, source)
    return {
        "exit_code_by_key": {get_mutant_name(Path(module), n): code for n in mutated.mutant_names},
        "hash_by_function_name": dict(mutated.hash_by_function_name),
    }


@pytest.fixture
def scope(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    monkeypatch.setattr(mutation, "KEPT", tmp_path / "kept")
    monkeypatch.setattr(mutation, "modules", lambda: ["pkg/a.py", "pkg/b.py", "pkg/c.py"])
    (tmp_path / "pkg").mkdir()
    return tmp_path


def test_a_result_stands_only_for_the_function_it_was_recorded_for(scope):
    f = "def f(x):\n    return x + 1\n"
    g = "def g(x):\n    return x - 1\n"
    for name in "abc":
        (scope / "pkg" / f"{name}.py").write_text(f)
    (scope / "mutants" / "pkg").mkdir(parents=True)
    (scope / "kept" / "pkg").mkdir(parents=True)
    (scope / "mutants" / "pkg" / "a.py.meta").write_text(json.dumps(record_of("pkg/a.py", f, 1)))
    # b's record is the one kept in the repository: a new machine has no mutants/
    (scope / "kept" / "pkg" / "b.py.meta").write_text(json.dumps(record_of("pkg/b.py", f, 1)))
    (scope / "pkg" / "a.py").write_text(f + g)  # a function added since the run
    (scope / "pkg" / "b.py").write_text(f.replace("1", "2"))  # f changed since the run
    found = mutation.results()
    assert found["pkg/c.py"] is None, "never run"
    a, b = found["pkg/a.py"], found["pkg/b.py"]
    assert {k: v for k, v in a.items() if ".x_f__" in k} and all(
        v == 1 for k, v in a.items() if ".x_f__" in k
    ), "an unchanged function keeps its results"
    assert [v for k, v in a.items() if ".x_g__" in k] and all(
        v is None for k, v in a.items() if ".x_g__" in k
    ), "a new function's mutants have none"
    assert b and all(v is None for v in b.values()), "a changed function's have none"
    tallies = {m: None if c is None else mutation.tally(c) for m, c in found.items()}
    assert any("have no result for the current code" in p for p in mutation.gate(tallies))


def test_a_run_starts_from_both_places_results_and_keeps_them_together(scope):
    f = "def f(x):\n    return x + 1\n"
    (scope / "pkg" / "a.py").write_text(f)
    local = record_of("pkg/a.py", f, None)
    first, second, *_ = local["exit_code_by_key"]
    local["exit_code_by_key"][first] = 0  # this machine ran one mutant
    local["durations_by_key"] = {first: 1.5}
    kept = record_of("pkg/a.py", f, 1)  # another machine ran them all
    (scope / "mutants" / "pkg").mkdir(parents=True)
    (scope / "mutants" / "pkg" / "a.py").write_text("# mutated copy\n")
    (scope / "mutants" / "pkg" / "a.py.meta").write_text(json.dumps(local))
    (scope / "kept" / "pkg").mkdir(parents=True)
    (scope / "kept" / "pkg" / "a.py.meta").write_text(json.dumps(kept))
    assert mutation.restore() == 1
    merged = json.loads((scope / "mutants" / "pkg" / "a.py.meta").read_text())
    assert merged["exit_code_by_key"][first] == 0, "this machine's own result first"
    assert merged["exit_code_by_key"][second] == 1, "the kept one where it has none"
    assert not (scope / "mutants" / "pkg" / "a.py").exists(), "made again, merged by hash"
    assert mutation.restore() == 0
    assert mutation.keep() == 1, "a's record takes this machine's"
    again = json.loads((scope / "kept" / "pkg" / "a.py.meta").read_text())
    assert again["exit_code_by_key"] == merged["exit_code_by_key"]
    assert again["durations_by_key"] == {}, "no machine's timings in the repository"
    (scope / "mutants" / "pkg" / "a.py.meta").write_text('{"exit_code_by_key": {"cut')
    assert mutation.keep() == 0, "a record cut short (a run killed mid-write) is left out"
    assert json.loads((scope / "kept" / "pkg" / "a.py.meta").read_text()) == again


def test_fresh_stats_runs_the_survivors_again(scope):
    f = "def f(x):\n    return x + 1 if x > 0 else x - 1\n"
    (scope / "pkg" / "a.py").write_text(f)
    record = record_of("pkg/a.py", f, 1)
    first, second, third, *_ = record["exit_code_by_key"]
    record["exit_code_by_key"].update({first: 0, second: 33})
    (scope / "mutants" / "pkg").mkdir(parents=True)
    (scope / "mutants" / "pkg" / "a.py.meta").write_text(json.dumps(record))
    assert mutation.forget_survivors() == 2
    codes = json.loads((scope / "mutants" / "pkg" / "a.py.meta").read_text())["exit_code_by_key"]
    assert (codes[first], codes[second], codes[third]) == (None, None, 1)


def test_survivors_runs_only_the_mutants_no_test_killed(scope, monkeypatch):
    f = "def f(x):\n    return x + 1 if x > 0 else x - 1\n"
    (scope / "pkg" / "a.py").write_text(f)
    (scope / "pkg" / "b.py").write_text(f)
    records = {m: record_of(f"pkg/{m}.py", f, 1) for m in "ab"}
    first, second, third, fourth, *_ = records["a"]["exit_code_by_key"]
    records["a"]["exit_code_by_key"].update({first: 0, second: 33, third: None, fourth: 0})
    (other,) = [k for k in records["b"]["exit_code_by_key"] if k.endswith("_1")]
    records["b"]["exit_code_by_key"][other] = 0
    (scope / "mutants" / "pkg").mkdir(parents=True)
    for m, record in records.items():
        (scope / "mutants" / "pkg" / f"{m}.py.meta").write_text(json.dumps(record))
    monkeypatch.setitem(mutation.EQUIVALENT, fourth, "claimed: it would survive again")
    commands = []
    monkeypatch.setattr(
        mutation.subprocess,
        "run",
        lambda command, **kwargs: (
            commands.append(command) or subprocess.CompletedProcess(command, 0)
        ),
    )
    assert mutation.run_mutmut([], survivors=[]) == 0
    assert mutation.run_mutmut([], survivors=["pkg/a"]) == 0
    everywhere, in_a = (c[c.index("run") + 1 :] for c in commands)
    assert everywhere == sorted([first, second, other])
    assert in_a == sorted([first, second])


def test_functions_are_named_as_mutmut_names_them():
    source = textwrap.dedent(
        """\
        import x

        def top(a):
            return a

        class Lock:
            limit = 3

            @property
            def held(self):
                return True

            def release(self):
                def inner():
                    pass
                return inner
        """
    )
    assert mutation.functions(source) == [
        ("x_top", 3, 4),
        ("x\u01c1Lock\u01c1held", 9, 11),
        ("x\u01c1Lock\u01c1release", 13, 16),
    ]
    assert mutation.dotted("django_xunchen/client/http.py") == "django_xunchen.client.http"
    assert mutation.dotted("django_xunchen/client/__init__.py") == "django_xunchen.client"


def test_changed_lines_come_from_the_new_side_of_the_diff():
    diff = textwrap.dedent(
        """\
        diff --git a/pkg/a.py b/pkg/a.py
        --- a/pkg/a.py
        +++ b/pkg/a.py
        @@ -4 +4 @@ def top(a):
        -    return a
        +    return a + 1
        @@ -20,2 +19,0 @@ class Lock:
        -    x
        -    y
        diff --git a/pkg/gone.py b/pkg/gone.py
        --- a/pkg/gone.py
        +++ /dev/null
        @@ -1,3 +0,0 @@
        -gone
        diff --git a/pkg/new.py b/pkg/new.py
        --- /dev/null
        +++ b/pkg/new.py
        @@ -0,0 +1,3 @@
        +def f():
        +    pass
        +
        """
    )
    assert mutation.changed_lines(diff) == {"pkg/a.py": [(4, 4), (19, 19)], "pkg/new.py": [(1, 3)]}


def test_only_the_functions_a_change_touches_are_selected():
    funcs = [("x_top", 3, 4), ("x\u01c1Lock\u01c1held", 9, 11), ("x_last", 13, 16)]
    assert mutation.touched(funcs, [(4, 4)]) == {"x_top"}
    assert mutation.touched(funcs, [(5, 8)]) == set()  # between functions
    assert mutation.touched(funcs, [(1, 20)]) == {"x_top", "x\u01c1Lock\u01c1held", "x_last"}
    assert mutation.touched(funcs, [(11, 13)]) == {"x\u01c1Lock\u01c1held", "x_last"}


def test_the_since_mode_reports_the_changed_functions_alone(monkeypatch, capsys):
    monkeypatch.setattr(mutation, "changed_since", lambda ref: {"pkg/a.py": {"x_f"}})
    monkeypatch.setattr(mutation, "modules", lambda: ["pkg/a.py", "pkg/b.py"])
    monkeypatch.setattr(
        mutation,
        "results",
        lambda: {
            "pkg/a.py": {
                "pkg.a.x_f__mutmut_1": 1,
                "pkg.a.x_f__mutmut_2": 0,
                "pkg.a.x_g__mutmut_1": 0,
            },
            "pkg/b.py": {"pkg.b.x_h__mutmut_1": None},
        },
    )
    assert mutation.since("main", run=False) == 1
    out = capsys.readouterr().out
    assert "pkg/a.py::f" in out
    assert "50.0%" in out
    assert "x_g" not in out and "pkg.b" not in out  # other functions stay out of it
    assert "score 50.0% is under the goal" in out
    assert "over all" not in out  # never the whole score


def test_the_since_mode_reads_the_results_once_after_its_run(monkeypatch, capsys):
    """Reading every module's results takes about a minute on the whole scope."""
    monkeypatch.setattr(mutation, "changed_since", lambda ref: {"pkg/a.py": {"x_f"}})
    reads = []
    monkeypatch.setattr(mutation, "run_mutmut", lambda names: reads.append("run") or 0)
    monkeypatch.setattr(mutation, "UNMEASURED", {})  # nothing for PostgreSQL to judge
    monkeypatch.setattr(mutation, "postgres_results", lambda: {})
    monkeypatch.setattr(mutation, "confirmed_claims", lambda: set())
    found = {"pkg/a.py": {"pkg.a.x_f__mutmut_1": 1, "pkg.a.x_f__mutmut_2": 0}}
    monkeypatch.setattr(mutation, "results", lambda: reads.append("results") or found)
    assert mutation.since("main", run=True) == 1
    assert reads == ["run", "results"], "the PostgreSQL pass is given what was read"
    assert "50.0%" in capsys.readouterr().out


def test_the_since_mode_with_nothing_changed_passes(monkeypatch, capsys):
    monkeypatch.setattr(mutation, "changed_since", lambda ref: {})
    assert mutation.since("main", run=False) == 0
    assert "nothing to run" in capsys.readouterr().out


def test_claims_hold_only_for_the_version_of_their_function_they_were_checked_on(
    scope, monkeypatch
):
    monkeypatch.setattr(
        mutation, "EQUIVALENT", {"pkg.a.x_f__mutmut_2": "why", "pkg.b.x_g__mutmut_1": "why"}
    )
    f = "def f(x):\n    return x + 1\n"
    (scope / "pkg" / "a.py").write_text(f)
    (scope / "kept" / "pkg").mkdir(parents=True)
    record = record_of("pkg/a.py", f, 0)
    (scope / "kept" / "pkg" / "a.py.meta").write_text(json.dumps(record))
    assert mutation.confirmed_claims() == set(), "never checked"
    with pytest.raises(SystemExit, match=r"pkg\.b\.x_g__mutmut_1"):
        mutation.confirm_claims(["pkg.b.x_g__mutmut_1"])  # no record: nothing was checked
    assert mutation.confirm_claims(["pkg.a.x_f__mutmut_2"]) == ["pkg.a.x_f"]
    assert mutation.confirmed_claims() == {"pkg.a.x_f__mutmut_2"}
    record["hash_by_function_name"]["x_f"] = "another"  # f rerun after it changed
    (scope / "kept" / "pkg" / "a.py.meta").write_text(json.dumps(record))
    assert mutation.confirmed_claims() == set()


def test_a_mutant_only_postgresql_can_judge_takes_its_result_there(monkeypatch):
    names = [f"pkg.a.x_f__mutmut_{n}" for n in (1, 2, 3)]
    monkeypatch.setattr(mutation, "UNMEASURED", dict.fromkeys(names, "PostgreSQL only"))
    on_postgres = {names[0]: "killed", names[1]: "survived"}
    t = mutation.tally(dict.fromkeys(names, 0), confirmed=set(names), on_postgres=on_postgres)
    assert (t.counts["killed"], t.counts["survived"], t.counts["unmeasured"]) == (1, 1, 1)
    assert t.survivors == [(names[1], "survived its tests on PostgreSQL")]
    killed_on_sqlite = mutation.tally({names[1]: 1}, on_postgres=on_postgres)
    assert killed_on_sqlite.counts["killed"] == 1, "a kill on SQLite stands"


def test_a_result_on_postgresql_stands_only_for_the_function_it_was_recorded_for(scope):
    f = "def f(x):\n    return x + 1\n"
    (scope / "pkg" / "a.py").write_text(f)
    (scope / "kept" / "pkg").mkdir(parents=True)
    record = record_of("pkg/a.py", f, 0)
    (scope / "kept" / "pkg" / "a.py.meta").write_text(json.dumps(record))
    name = next(iter(record["exit_code_by_key"]))
    entry = {"hash": record["hash_by_function_name"]["x_f"], "result": "killed"}
    (scope / "kept" / mutation.ON_POSTGRES).write_text(json.dumps({name: entry}))
    assert mutation.postgres_results() == {name: "killed"}
    (scope / "pkg" / "a.py").write_text(f.replace("1", "2"))
    assert mutation.postgres_results() == {}, "f changed since"


def test_a_mutant_s_tests_on_postgresql_are_its_claim_s_first_then_the_mapped_fastest_first(
    monkeypatch,
):
    name = "pkg.a.x_f__mutmut_1"
    claim = "PostgreSQL only (tests/x/test_a.py::test_one, and tests/x/test_b.py)"
    monkeypatch.setattr(mutation, "UNMEASURED", {name: claim, "pkg.a.x_g__": "tests/x/test_d.py"})
    stats = {
        "tests_by_mangled_function_name": {
            "pkg.a.x_f": [
                "tests/x/test_b.py::test_in_a_named_file",
                "tests/x/test_c.py::test_slow",
                "tests/x/test_c.py::test_fast",
                "tests/x/test_a.py::test_one",
                "tests/x/test_c.py::test_unknown",
            ]
        },
        "duration_by_test": {
            "tests/x/test_c.py::test_slow": 2.0,
            "tests/x/test_c.py::test_fast": 0.1,
        },
    }
    assert mutation.postgres_tests(name, stats) == [
        "tests/x/test_a.py::test_one",
        "tests/x/test_b.py",
        "tests/x/test_c.py::test_fast",
        "tests/x/test_c.py::test_slow",
        "tests/x/test_c.py::test_unknown",
    ]
    assert mutation.postgres_tests("pkg.a.x_g__mutmut_3", stats) == ["tests/x/test_d.py"]


@pytest.fixture
def on_postgres(scope, monkeypatch):
    """judge_on_postgres() with two mutants to judge, each with a test, and pytest's runs
    played by ``runs``: (tests, mutant) -> outcome."""
    names = ["pkg.a.x_f__mutmut_1", "pkg.a.x_f__mutmut_2"]
    monkeypatch.setattr(mutation, "UNMEASURED", {"pkg.a.x_f__": "tests/test_a.py"})
    monkeypatch.setattr(mutation, "only_postgres_judges", lambda prefixes=(), **kwargs: names)
    monkeypatch.setattr(mutation, "postgres_url", lambda: ("postgres://pg", False))
    monkeypatch.setattr(mutation, "recorded_hashes", lambda found: {"pkg.a.x_f": "h1"})
    (scope / "mutants").mkdir()
    stats = {"tests_by_mangled_function_name": {}, "duration_by_test": {}}
    (scope / "mutants" / mutation.STATS).write_text(json.dumps(stats))
    runs = {}
    calls = []

    def run(url, tests, mutant, timeout, show=False):
        calls.append(mutant)
        return runs[mutant]

    monkeypatch.setattr(mutation, "run_on_postgres", run)
    return SimpleNamespace(names=names, runs=runs, calls=calls)


def test_postgresql_judges_nothing_when_the_tests_fail_unmutated(scope, on_postgres):
    on_postgres.runs[None] = "failed"
    [problem] = mutation.judge_on_postgres()
    assert "do not pass unmutated on PostgreSQL (failed)" in problem
    assert on_postgres.calls == [None]
    assert not (scope / "kept" / mutation.ON_POSTGRES).exists()


def test_postgresql_judges_nothing_when_the_tests_do_not_run_the_mutated_copy(scope, on_postgres):
    on_postgres.runs.update({None: "passed", "fail": "passed"})
    [problem] = mutation.judge_on_postgres()
    assert "did not fail with every mutated function raising" in problem
    assert on_postgres.calls == [None, "fail"]
    assert not (scope / "kept" / mutation.ON_POSTGRES).exists()


def test_postgresql_s_results_are_kept_and_a_broken_session_is_a_problem(scope, on_postgres):
    first, second = on_postgres.names
    on_postgres.runs.update({None: "passed", "fail": "failed", first: "failed"})
    on_postgres.runs[second] = "pytest exit status 3"
    [problem] = mutation.judge_on_postgres()
    assert problem == f"{second} on PostgreSQL: pytest exit status 3"
    kept = json.loads((scope / "kept" / mutation.ON_POSTGRES).read_text())
    assert kept == {first: {"hash": "h1", "result": "killed"}}


def test_the_report_counts_a_kill_on_postgresql(scope, monkeypatch, capsys):
    monkeypatch.setattr(mutation, "modules", lambda: ["pkg/a.py"])
    f = "def f(x):\n    return x + 1\n"
    (scope / "pkg" / "a.py").write_text(f)
    (scope / "kept" / "pkg").mkdir(parents=True)
    record = record_of("pkg/a.py", f, 0)
    (scope / "kept" / "pkg" / "a.py.meta").write_text(json.dumps(record))
    monkeypatch.setattr(mutation, "UNMEASURED", {"pkg.a.x_f__": "PostgreSQL only"})
    monkeypatch.setattr(mutation, "EQUIVALENT", {})
    entry = {"hash": record["hash_by_function_name"]["x_f"], "result": "killed"}
    kills = dict.fromkeys(record["exit_code_by_key"], entry)
    (scope / "kept" / mutation.ON_POSTGRES).write_text(json.dumps(kills))
    problems, total = mutation.report()
    assert problems == []
    assert total.counts["killed"] == total.counts["total"] == len(kills)
    assert (
        f"{len(kills)} mutants only PostgreSQL can judge were run on it" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (0, "passed"),
        (1, "failed"),
        (2, "failed"),  # an error while collecting: code run at import raised
        (4, "failed"),  # a test id not found: its module failed to import
        (3, "pytest exit status 3"),
        (5, "pytest exit status 5"),  # no test ran
    ],
)
def test_a_session_on_postgresql_is_read_from_pytest_s_exit_status(monkeypatch, status, outcome):
    def run(command, **kwargs):
        assert kwargs["env"]["MUTANT_UNDER_TEST"] == "pkg.a.x_f__mutmut_1"
        assert kwargs["env"]["DATABASE_URL"] == "postgres://pg"
        return SimpleNamespace(returncode=status)

    monkeypatch.setattr(mutation.subprocess, "run", run)
    assert mutation.run_on_postgres("postgres://pg", ["t"], "pkg.a.x_f__mutmut_1", 60) == outcome


def test_the_survivors_on_postgresql_run_there_again_only_when_asked(monkeypatch):
    a, b, c, d, e = (f"pkg.a.x_f__mutmut_{n}" for n in range(1, 6))
    monkeypatch.setattr(mutation, "UNMEASURED", dict.fromkeys([a, b, c, d], "PostgreSQL only"))
    monkeypatch.setattr(mutation, "results", lambda: {"pkg/a.py": {a: 0, b: 0, c: 0, d: 1, e: 0}})
    monkeypatch.setattr(mutation, "postgres_results", lambda: {a: "killed", b: "survived"})
    assert mutation.only_postgres_judges() == [c], "d was killed on SQLite, e is not claimed"
    assert mutation.only_postgres_judges(again=True) == [b, c]
    assert mutation.only_postgres_judges(["pkg.a.x_g"], again=True) == []


@pytest.mark.parametrize(
    ("paths", "prefixes"),
    [
        ([], []),
        (["django_xunchen/polling/"], ["django_xunchen.polling"]),
        (["django_xunchen/polling/ingest.py"], ["django_xunchen.polling.ingest"]),
    ],
)
def test_survivors_under_paths_run_again_on_postgresql_only_under_them(
    paths, prefixes, monkeypatch
):
    asked = []
    monkeypatch.setattr(sys, "argv", ["mutation.py", "--survivors", *paths])
    monkeypatch.setattr(mutation, "run_mutmut", lambda *args, **kwargs: 0)
    monkeypatch.setattr(
        mutation,
        "judge_on_postgres",
        lambda prefixes=(), again=False: asked.append((list(prefixes), again)) or [],
    )
    total = mutation.tally(codes(killed=1))
    monkeypatch.setattr(mutation, "report", lambda run_status: ([], total))
    assert mutation.main() == 0
    assert asked == [(prefixes, True)]


def test_a_decorated_function_in_scope_fails_the_gate_by_name(scope):
    """mutmut skips a decorated function without a word: it has no mutants, so no score
    can count it against; the gate names it, unless it holds nothing mutmut would change."""
    (scope / "pkg" / "a.py").write_text(
        textwrap.dedent(
            """
            import functools

            class C:
                @staticmethod
                def fine(x):
                    return x + 1

                @property
                def size(self):
                    return self.n + 1

                @property
                def delegates(self):
                    return self._delegates()

                def _delegates(self):
                    return self.n - 1


            @functools.cache
            def limits():
                return 2


            def outer(step):
                @functools.wraps(step)
                def run():
                    return step(1)

                return run


            @functools.cache
            def shell(step):
                @functools.wraps(step)
                def inner():
                    return step(2)

                return inner


            def after(x):
                return x + 1


            after = functools.cache(after)
            """
        )
    )
    assert mutation.skipped_functions(["pkg/a.py"]) == [
        "pkg/a.py:10 size (@property)",
        "pkg/a.py:22 limits (@functools.cache)",
        "pkg/a.py:28 run (@functools.wraps(step))",
        "pkg/a.py:37 inner (@functools.wraps(step))",
    ]
    (problem,) = mutation.skipped_problem(["pkg/a.py"])
    assert problem.startswith("4 functions in scope are never mutated")
    (scope / "pkg" / "a.py").write_text("def f():\n    return 1\n")
    assert mutation.skipped_problem(["pkg/a.py"]) == []


def test_the_report_fails_on_a_function_never_mutated(scope, monkeypatch):
    monkeypatch.setattr(mutation, "results", lambda: {"pkg/a.py": codes(killed=10)})
    monkeypatch.setattr(mutation, "postgres_results", lambda: {})
    monkeypatch.setattr(mutation, "confirmed_claims", lambda: set())
    monkeypatch.setattr(mutation, "modules", lambda: ["pkg/a.py"])
    (scope / "pkg" / "a.py").write_text("@functools.cache\ndef f():\n    return 1\n")
    problems, total = mutation.report()
    assert total.score == 100.0
    assert problems == [
        "1 functions in scope are never mutated (mutmut skips a decorated function): "
        "pkg/a.py:2 f (@functools.cache). Apply the decorator after the definition when "
        "that keeps the function's type (sensitive_variables, a wrapper that keeps the "
        "signature); for a property or a context manager, whose type a checker would lose, "
        "move the logic into an undecorated function the decorated one only calls"
    ]
