"""migration-check end to end: exit codes, baseline ratchet on real edits, formats, entry points."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from codemod import check
from test_migration_check_core import SARIF_SCHEMA
from test_migration_check_rules import write_tree

REPO = Path(__file__).resolve().parents[1]

WORKER = """
from thespian.actors import ActorTypeDispatcher


class Worker(ActorTypeDispatcher):
    def receiveMsg_str(self, msg, sender):
        self.send(sender, msg.upper())
        self.send(sender, "done")

    def receiveMsg_int(self, msg, sender):
        self.send(sender, msg + 1)
"""

# the same code, moved: lines inserted above, methods reordered
WORKER_MOVED = """
\"\"\"A long new module docstring.

That pushes everything down.
\"\"\"
from thespian.actors import ActorTypeDispatcher

HELPER = 1


class Worker(ActorTypeDispatcher):
    def receiveMsg_int(self, msg, sender):
        # reordered: this method now comes first
        self.send(sender, msg + 1)

    def receiveMsg_str(self, msg, sender):
        x = msg.upper()
        self.send(sender, x)
        self.send(sender, "done")
"""


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A small project in tmp_path, with the working directory set there (paths print relative)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv(check.TODAY_ENV, raising=False)
    write_tree(tmp_path, {"app/__init__.py": "", "app/workers.py": WORKER})
    return tmp_path


def cli(*args):
    return check.main(list(args))


def entries(path="baseline.txt"):
    return [ln for ln in Path(path).read_text().splitlines() if not ln.startswith("#")]


# -------------------------------------------------------------------------------------------- exits
def test_exit_1_on_findings_and_0_when_clean(repo, capsys):
    assert cli("app") == 1
    out = capsys.readouterr().out
    assert "app/workers.py:6:9: TT001 untraced `self.send(...)` in actor Worker.receiveMsg_str" in out
    assert "fix: thespian-trace codemod app/workers.py" in out
    write_tree(repo, {"app/workers.py": "X = 1\n"})
    assert cli("app") == 0


@pytest.mark.parametrize("args", [
    ["--no-such-flag", "app"],
    ["--format", "xml", "app"],
    ["missing_dir"],
    ["app", "--update-baseline"],                 # needs --baseline
    ["app", "--baseline", "b.txt", "--allow-growth"],  # needs --update-baseline
    ["app", "--min-coverage", "150"],
    ["app", "--min-coverage", "lots"],
    ["app", "--today", "31/12/2026"],
    ["app", "--ignore", "TT123"],
    ["app", "--baseline", "does-not-exist.txt"],  # unreadable baseline: I/O error
])
def test_usage_and_io_errors_exit_2(repo, args, capsys):
    assert cli(*args) == 2
    assert "error" in capsys.readouterr().err


def test_malformed_baseline_exits_2(repo, capsys):
    Path("baseline.txt").write_text("TT001 not tab separated\n")
    assert cli("app", "--baseline", "baseline.txt") == 2
    assert "expected 5 tab-separated fields" in capsys.readouterr().err


def test_help_exits_0(repo, capsys):
    assert cli("--help") == 0
    assert "--baseline" in capsys.readouterr().out


def test_ignore_rule(repo):
    assert cli("app", "--ignore", "TT001,TT002") == 0
    assert cli("app", "--ignore", "TT001") == 1


# ----------------------------------------------------------------------------------------- baseline
def test_baseline_workflow(repo, capsys):
    # 1. first creation records everything and passes
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 0
    first = Path("baseline.txt").read_text()
    assert entries() == [
        "TT001\tapp.workers\tWorker\treceiveMsg_int\t0",
        "TT001\tapp.workers\tWorker\treceiveMsg_str\t0",
        "TT001\tapp.workers\tWorker\treceiveMsg_str\t1",
        "TT002\tapp.workers\tWorker\t-\t0",
    ]
    assert cli("app", "--baseline", "baseline.txt") == 0

    # 2. moving code (lines inserted above, methods reordered) keeps it stable
    write_tree(repo, {"app/workers.py": WORKER_MOVED})
    assert cli("app", "--baseline", "baseline.txt") == 0
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 0
    assert Path("baseline.txt").read_text() == first  # byte-identical: no churn

    # 3. adding a send fails, naming only the new site
    capsys.readouterr()
    write_tree(repo, {"app/workers.py": WORKER_MOVED + "\n    def receiveMsg_list(self, msg, sender):\n"
                                                      "        self.send(sender, len(msg))\n"})
    assert cli("app", "--baseline", "baseline.txt") == 1
    out = capsys.readouterr().out
    new_lines = [ln for ln in out.splitlines() if ": TT0" in ln]
    assert len(new_lines) == 1 and "receiveMsg_list" in new_lines[0]

    # 3b. --update-baseline refuses to grow an existing baseline...
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 1
    assert Path("baseline.txt").read_text() == first
    assert "NOT added" in capsys.readouterr().out
    # ...unless asked to
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline", "--allow-growth") == 0
    assert len(entries()) == 5
    write_tree(repo, {"app/workers.py": WORKER_MOVED})
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 0
    assert Path("baseline.txt").read_text() == first

    # 4. removing (tracing) a send without updating fails as stale, with the exact command
    capsys.readouterr()
    write_tree(repo, {"app/workers.py": WORKER_MOVED.replace('self.send(sender, "done")',
                                                             'self.traced_send(sender, "done")')})
    assert cli("app", "--baseline", "baseline.txt") == 1
    out = capsys.readouterr().out
    stale = [ln for ln in out.splitlines() if ln.startswith("baseline.txt: stale baseline entry")]
    assert len(stale) == 1 and "TT001 app.workers:Worker.receiveMsg_str" in stale[0]
    hint = [ln for ln in out.splitlines() if "remove stale entries with: " in ln]
    assert len(hint) == 1 and hint[0].startswith("baseline.txt: 1 stale entry;")
    command = hint[0].split("remove stale entries with: ")[1]
    assert command == "thespian-trace migration-check app --baseline baseline.txt --update-baseline"

    # 5. running that command shrinks the baseline, and the check passes again
    argv = shlex.split(command)
    assert argv[:2] == ["thespian-trace", "migration-check"]
    assert cli(*argv[2:]) == 0
    assert len(entries()) == 3
    assert cli("app", "--baseline", "baseline.txt") == 0


def test_baseline_merge_friendly_order_is_independent_of_discovery(repo):
    write_tree(repo, {"app/zeta.py": WORKER, "app/alpha.py": WORKER})
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 0
    lines = entries()
    assert lines == sorted(lines) and len(lines) == len(set(lines)) == 12


def test_min_coverage(repo, capsys):
    write_tree(repo, {"app/traced.py": """
        from thespian_trace import TracedActor

        class T(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, msg)
                self.traced_send(sender, msg)
                self.traced_send(sender, msg)
        """})
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 0
    capsys.readouterr()
    assert cli("app", "--baseline", "baseline.txt", "--min-coverage", "50") == 0
    assert "adoption: 6 send sites, 50% traced" in capsys.readouterr().out
    assert cli("app", "--baseline", "baseline.txt", "--min-coverage", "50.1") == 1
    assert "coverage floor 50.1%: FAILED" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ formats
def test_json_output_file(repo, capsys):
    assert cli("app", "--format", "json", "-o", "report.json") == 1
    doc = json.loads(Path("report.json").read_text())
    assert doc["exit_code"] == 1 and doc["counts"]["new"] == {"TT001": 3, "TT002": 1}
    assert doc["adoption"]["send_sites"] == 3
    assert "adoption: 3 send sites, 0% traced" in capsys.readouterr().out  # summary for the human


def test_json_stdout_is_pure_json(repo, capsys):
    assert cli("app", "--format", "json") == 1
    captured = capsys.readouterr()
    json.loads(captured.out)
    assert "adoption:" in captured.err


def test_sarif_end_to_end_and_fingerprints_survive_moves(repo, capsys):
    assert cli("app", "--format", "sarif", "-o", "a.sarif") == 1
    before = json.loads(Path("a.sarif").read_text())
    jsonschema.validate(before, SARIF_SCHEMA)
    # a pure move: the same statements, lines inserted above, methods reordered
    pure_move = "# header\n# more\n" + WORKER.replace(
        "    def receiveMsg_str(self, msg, sender):\n"
        "        self.send(sender, msg.upper())\n"
        "        self.send(sender, \"done\")\n\n", "") + (
        "\n    def receiveMsg_str(self, msg, sender):\n"
        "        self.send(sender, msg.upper())\n"
        "        self.send(sender, \"done\")\n")
    assert pure_move.index("receiveMsg_int") < pure_move.index("receiveMsg_str")
    write_tree(repo, {"app/workers.py": pure_move})
    assert cli("app", "--format", "sarif", "-o", "b.sarif") == 1
    after = json.loads(Path("b.sarif").read_text())

    def fps(doc):
        return {r["partialFingerprints"]["thespianTraceSite/v1"]: r["locations"][0]["physicalLocation"]
                ["region"]["startLine"] for r in doc["runs"][0]["results"]}

    assert set(fps(before)) == set(fps(after))  # same identities...
    assert fps(before) != fps(after)  # ...at different lines
    res = before["runs"][0]["results"][0]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "app/workers.py", "uriBaseId": "%SRCROOT%"}


def test_github_format(repo, capsys):
    assert cli("app", "--format", "github") == 1
    out = capsys.readouterr().out
    ann = [ln for ln in out.splitlines() if ln.startswith("::error file=")]
    assert len(ann) == 4
    assert ann[0].startswith("::error file=app/workers.py,line=4,col=1,title=TT002 untraced-actor-class::")


# -------------------------------------------------------------------------------------- entry points
def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


def test_python_dash_m_codemod_check(repo):
    p = subprocess.run([sys.executable, "-m", "codemod.check", "app", "--format", "json"],
                       capture_output=True, text=True, env=_env(), cwd=repo)
    assert p.returncode == 1, p.stderr
    assert json.loads(p.stdout)["counts"]["new"]["TT001"] == 3
    p = subprocess.run([sys.executable, "-m", "codemod.check", "--bogus"], capture_output=True, text=True,
                       env=_env(), cwd=repo)
    assert p.returncode == 2


def test_thespian_trace_cli_dispatch(repo, capsys):
    from codemod import cli as top

    assert top.main(["migration-check", "app", "--ignore", "TT001", "--ignore", "TT002"]) == 0
    assert top.main(["migration-check", "app"]) == 1
    assert top.main(["migration-check", "--format"]) == 2


def test_broken_file_does_not_shrink_the_baseline(repo, capsys):
    """A temporarily unparsable module keeps its entries: they are neither stale nor dropped."""
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 0
    first = Path("baseline.txt").read_text()
    write_tree(repo, {"app/workers.py": WORKER + "\ndef broken(:\n"})
    capsys.readouterr()
    assert cli("app", "--baseline", "baseline.txt") == 1  # TT900 is new; nothing stale
    out = capsys.readouterr().out
    assert "TT900" in out and "stale baseline entry" not in out and "4 kept unchecked" in out
    # updating while broken: does not drop the module's entries, does not add TT900 (no growth)
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 1
    assert Path("baseline.txt").read_text() == first
    write_tree(repo, {"app/workers.py": WORKER})
    assert cli("app", "--baseline", "baseline.txt") == 0


def test_ignored_rule_entries_are_kept(repo):
    assert cli("app", "--baseline", "baseline.txt", "--update-baseline") == 0
    first = Path("baseline.txt").read_text()
    assert cli("app", "--baseline", "baseline.txt", "--ignore", "TT002") == 0  # TT002 entry not stale
    assert cli("app", "--baseline", "baseline.txt", "--ignore", "TT002", "--update-baseline") == 0
    assert Path("baseline.txt").read_text() == first


def test_stale_entries_of_unscanned_modules_get_a_note(repo, capsys):
    write_tree(repo, {"other/__init__.py": "", "other/w.py": WORKER})
    assert cli("app", "other", "--baseline", "baseline.txt", "--update-baseline") == 0
    capsys.readouterr()
    assert cli("app", "--baseline", "baseline.txt") == 1  # strict: entries of other.w are stale...
    out = capsys.readouterr().out
    assert "4 of them belong to modules that were not scanned" in out  # ...with a hint why


def test_json_and_sarif_fingerprints_agree(repo):
    write_tree(repo, {"app/workers.py": WORKER.replace('self.send(sender, msg + 1)',
                                                       'self.send(sender, msg + 1)\n        self.send(sender, msg + 1)')})
    assert cli("app", "--format", "json", "-o", "r.json") == 1
    assert cli("app", "--format", "sarif", "-o", "r.sarif") == 1
    j = {(f["line"], f["code"]): f["fingerprint"] for f in json.loads(Path("r.json").read_text())["findings"]}
    s = {(r["locations"][0]["physicalLocation"]["region"]["startLine"], r["ruleId"]):
         r["partialFingerprints"]["thespianTraceSite/v1"]
         for r in json.loads(Path("r.sarif").read_text())["runs"][0]["results"]}
    assert j == s and len(set(j.values())) == len(j) == 5  # identical lines still differ
