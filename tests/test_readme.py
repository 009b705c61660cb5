"""Every command the README shows is exercised: by a test named here, by CI, or by `make demo`.

A new command in the README without an entry below fails this test, so the README cannot promise
something nothing runs.
"""
import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# README command (regex on the command line) -> the test that runs it (file::function).
COVERED = [
    (r"^make demo\b", "tests/test_readme.py::test_make_demo_command_runs_the_default_demo"),
    (r"^make test\b", "tests/test_readme.py::test_ci_runs_make_test"),
    (r"^THESPIAN_TRACE_AUTOCONFIGURE=otlp .*\\$",
     "tests/test_autoconfig.py::test_autoconfigure_exports_over_otlp_from_env_alone"),
    (r"^OTEL_SERVICE_NAME=orders python ",
     "tests/test_autoconfig.py::test_autoconfigure_exports_over_otlp_from_env_alone"),
    (r"^\.venv/bin/python examples/convention_demo\.py$",
     "tests/test_convention_example.py::test_convention_example_one_trace_crosses_two_processes"),
    (r"^\.venv/bin/python examples/quickstart\.py", "tests/test_examples.py::test_quickstart_prints_reply_and_one_trace"),
    (r"^thespian-trace codemod --diff ", "tests/test_codemod_cli.py::test_diff_mode_writes_nothing"),
    (r"^thespian-trace codemod --check ", "tests/test_codemod_cli.py::test_check_mode_exit_codes"),
    (r"^thespian-trace codemod src/", "tests/test_codemod_cli.py::test_check_mode_exit_codes"),
    (r"^python -m libcst\.tool codemod rewrite\.TraceSendsCommand ",
     "tests/test_codemod_cli.py::test_libcst_tool_invocation"),
    (r"^\.venv/bin/python examples/legacy_walkthrough\.py",
     "tests/test_legacy_walkthrough.py::test_walkthrough_migrates_the_legacy_app_and_it_emits_connected_traces"),
    (r"^\$ thespian-trace migration-check ", "tests/test_migration_check_cli.py::test_exit_1_on_findings_and_0_when_clean"),
    (r"^make bench\b", "tests/test_benchmarks_smoke.py::test_run_all_writes_markdown_json_and_profiles"),
    (r"^\.venv/bin/python benchmarks/run_all\.py --smoke",
     "tests/test_benchmarks_smoke.py::test_run_all_writes_markdown_json_and_profiles"),
    (r"^\.venv/bin/python tests/test_exporter_down\.py --bench ",
     "tests/test_readme.py::test_exporter_down_bench_script_runs"),
]


def _readme_commands():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    commands = []
    for block in re.finditer(r"```(sh|console)\n(.*?)```", text, re.S):
        for line in block.group(2).splitlines():
            line = line.strip()
            if not line or (block.group(1) == "console" and not line.startswith("$ ")):
                continue
            commands.append(line)
    return commands


def _test_exists(ref):
    path, func = ref.split("::")
    tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read())
    return any(isinstance(n, ast.FunctionDef) and n.name == func for n in tree.body)


def test_every_readme_command_is_exercised_by_a_named_test():
    commands = _readme_commands()
    assert len(commands) >= 10, commands
    uncovered = [c for c in commands if not any(re.search(p, c) for p, _ in COVERED)]
    assert not uncovered, "README commands no test exercises: %s" % uncovered
    missing = sorted({ref for _, ref in COVERED if not _test_exists(ref)})
    assert not missing, "tests named in COVERED do not exist: %s" % missing


def test_ci_runs_make_test():
    script = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert re.search(r"^make test$", script, re.M)


def test_make_demo_command_runs_the_default_demo():
    """What `make demo` runs, with its defaults (1,000 sessions on simpleSystemBase)."""
    make = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    assert re.search(r"^demo: .*\n\t\$\(PY\) examples/guild_demo\.py$", make, re.M)
    res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "guild_demo.py")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fanout Deliver [producer] N=1000" in res.stdout
    assert "traces captured" in res.stdout


@pytest.mark.slow
def test_exporter_down_bench_script_runs():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "test_exporter_down.py"),
                          "--bench", "1", "simpleSystemBase"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "refused" in res.stdout and "hang" in res.stdout
