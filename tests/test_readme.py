"""Every command the documentation shows is exercised: by a test named here, by CI, or by `make demo`.

The documentation is README.md (the front page) and every docs/*.md page. A new command in any of them
without an entry below fails this test, so the documentation cannot promise something nothing runs.
Every relative link between those pages must point to a file that exists and, with `#anchor`, to a
heading that exists in it, so moving text between pages cannot leave a dead link behind.
"""
import ast
import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Documentation command (regex on the command line) -> the test that runs it (file::function).
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
    (r"^python -m libcst\.tool codemod --no-format rewrite\.TraceSendsCommand ",
     "tests/test_codemod_cli.py::test_libcst_tool_invocation"),
    (r"^\.venv/bin/python examples/legacy_walkthrough\.py",
     "tests/test_legacy_walkthrough.py::test_walkthrough_migrates_the_legacy_app_and_it_emits_connected_traces"),
    (r"^\$ thespian-trace migration-check ", "tests/test_migration_check_cli.py::test_exit_1_on_findings_and_0_when_clean"),
    (r"^make bench-instructions\b",
     "tests/test_benchmarks_smoke.py::test_count_instructions_turns_two_runs_per_side_into_a_per_message_figure"),
    (r"^make bench\b", "tests/test_benchmarks_smoke.py::test_run_all_writes_markdown_json_and_profiles"),
    (r"^\.venv/bin/python benchmarks/run_all\.py --smoke",
     "tests/test_benchmarks_smoke.py::test_run_all_writes_markdown_json_and_profiles"),
    (r"^\.venv/bin/python tests/test_exporter_down\.py --bench ",
     "tests/test_readme.py::test_exporter_down_bench_script_runs"),
    (r"^\.venv/bin/python tests/shutdown_bound_driver\.py ",
     "tests/test_shutdown_bound.py::test_shutdown_with_a_hanging_collector_is_bounded"),
    (r"^\.venv/bin/python tools/shutdown_repro\.py ",
     "tests/test_shutdown_repro.py::test_thespian_alone_leaves_the_late_child_and_the_observer_explains_it"),
]


def _doc_files():
    """README.md and every docs/*.md page, as paths relative to the repository root."""
    pages = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return ["README.md"] + pages


def _read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def _doc_commands(rel):
    """The command lines shown in `sh` blocks and the `$ ` lines of `console` blocks of one page."""
    commands = []
    for block in re.finditer(r"```(sh|console)\n(.*?)```", _read(rel), re.S):
        for line in block.group(2).splitlines():
            line = line.strip()
            if not line or (block.group(1) == "console" and not line.startswith("$ ")):
                continue
            commands.append(line)
    return commands


def _prose(text):
    """The text outside fenced code blocks, with inline code spans blanked."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "``", text)


def _anchors(text):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, -1, -2 for repeats."""
    seen, anchors = {}, set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M),
                              re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else "%s-%d" % (slug, count))
    return anchors


def _test_exists(ref):
    path, func = ref.split("::")
    tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read())
    return any(isinstance(n, ast.FunctionDef) and n.name == func for n in tree.body)


def test_every_documented_command_is_exercised_by_a_named_test():
    pages = _doc_files()
    assert "docs/cli.md" in pages and "docs/configuration.md" in pages, pages
    commands = [(rel, c) for rel in pages for c in _doc_commands(rel)]
    assert len(commands) >= 10, commands
    uncovered = ["%s: %s" % (rel, c) for rel, c in commands if not any(re.search(p, c) for p, _ in COVERED)]
    assert not uncovered, "documented commands no test exercises: %s" % uncovered
    missing = sorted({ref for _, ref in COVERED if not _test_exists(ref)})
    assert not missing, "tests named in COVERED do not exist: %s" % missing


def test_links_between_documentation_pages_resolve():
    broken = []
    for rel in _doc_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", _prose(_read(rel))):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(rel), path)) if path else rel
            if dest.startswith("..") or not os.path.exists(os.path.join(ROOT, dest)):
                broken.append("%s: %s (no such file)" % (rel, target))
            elif anchor and (not dest.endswith(".md") or anchor not in _anchors(_read(dest))):
                broken.append("%s: %s (no such heading in %s)" % (rel, target, dest))
    assert not broken, "broken documentation links: %s" % broken


def test_testing_page_example_passes_in_a_project_without_conftest(tmp_path):
    """docs/testing.md's complete example, run as written: every ```python block that starts with a
    `# test_*.py` line is that file of a throwaway project, run by pytest with the installed plugin."""
    from test_pytest_plugin import run_project

    blocks = re.findall(r"```python\n(# (test_\w+\.py)\n.*?)```", _read("docs/testing.md"), re.S)
    assert blocks, "docs/testing.md lost its complete example"
    tests = sum(len(re.findall(r"^def test_", body, re.M)) for body, _ in blocks)
    assert tests >= 2, blocks
    res = run_project(tmp_path, {name: body for body, name in blocks})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "%d passed" % tests in res.stdout, res.stdout


def test_tests_the_documentation_cites_exist():
    """A guarantee backed by a named test (failure-modes.md, testing.md...) names a test that exists."""
    defined = set()
    for path in glob.glob(os.path.join(ROOT, "tests", "*.py")):
        with open(path, encoding="utf-8") as f:
            defined.update(re.findall(r"^def (test_\w+)", f.read(), re.M))
    files = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "tests", "*.py"))}
    cited, missing = set(), []
    for rel in _doc_files():
        prose = re.sub(r"^```.*?^```", "", _read(rel), flags=re.S | re.M)
        for code in re.findall(r"`([^`\n]+)`", prose):
            for name in re.findall(r"\b(test_\w+)", code):
                if name not in files:
                    cited.add(name)
                    if name not in defined:
                        missing.append("%s: %s" % (rel, name))
    assert len(cited) >= 10, cited
    assert not missing, "the documentation cites tests that do not exist: %s" % missing


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
