"""The realistic multi-module fixture codebase: exact expected output, nothing else changed."""
from __future__ import annotations

import difflib
import io
import re
import shutil
from pathlib import Path

import pytest

from codemod.analysis import analyze_paths
from codemod.cli import run_codemod

FIXTURES = Path(__file__).parent / "codemod_fixtures"
INPUT = FIXTURES / "input"
EXPECTED = FIXTURES / "expected"

# every site the codemod must leave for a human, as (file, source line text, reason fragment)
REVIEW = {
    ("shop/legacy.py", "self.send(sender, text)", "could not be resolved"),
    ("shop/legacy.py", "self.send(target, message)", "module-level function"),
    ("shop/legacy.py", 'super().send(target, ("wrapped", message))', "super().send()"),
    ("shop/legacy.py", "self.send(sender, text)", "defines its own send()"),
    ("shop/orders.py", "send = self.send", "bound to a variable"),
    ("shop/orders.py", "later = functools.partial(self.send, sender)", "functools.partial"),
    ("shop/orders.py", "self.schedule(callback=self.send)", "callback"),
    ("shop/orders.py", "self.send(sender, i)", "thread"),
}


@pytest.fixture()
def migrated(tmp_path):
    dst = tmp_path / "repo"
    shutil.copytree(INPUT, dst, ignore=shutil.ignore_patterns("__pycache__"))
    err = io.StringIO()
    code, summary = run_codemod([str(dst)], jobs=2, out=io.StringIO(), err=err)
    assert code == 0, err.getvalue()
    return dst, summary, err.getvalue()


def _py_files(root: Path):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_output_matches_expected_exactly(migrated):
    dst, summary, _ = migrated
    assert _py_files(dst) == _py_files(EXPECTED)
    for rel in _py_files(EXPECTED):
        assert (dst / rel).read_bytes() == (EXPECTED / rel).read_bytes(), rel
    assert summary.scanned == 14 and summary.changed == 8 and summary.skipped == 1 and summary.failed == 0
    assert summary.sends == 15 and summary.rebased == 5


def test_review_sites_reported_exactly(migrated):
    dst, summary, err = migrated
    got = set()
    for path, line, reason in summary.review:
        rel = Path(path).relative_to(dst).as_posix()
        text = (dst / rel).read_text().splitlines()[line - 1].strip()
        frag = next(f for (r, t, f) in REVIEW if r == rel and t == text and f in reason)
        got.add((rel, text, frag))
        assert "%s:%d: manual review: %s" % (path, line, reason) in err
    assert got == REVIEW and len(summary.review) == len(REVIEW)


def test_every_actor_send_is_traced_or_reported(migrated):
    dst, _, _ = migrated
    repo = analyze_paths([str(dst)])
    for s in repo.send_sites():
        if s.kind == "untraced_send":
            # only what the user opted out of or what lives in a generated file may stay
            fa = repo.file_for(s.path)
            assert s.optout is not None or fa.generated, (s.path, s.line)
    untraced_classes = {c.full_name for c in repo.actor_classes() if not c.traced}
    assert untraced_classes == {"shop.legacy.Frozen", "shop.generated_pb.GeneratedStub"}


_ALLOWED = [
    (re.compile(r"\bself(\s*)\.(\s*)send(\s*)\("), r"self\1.\2traced_send\3("),
    (re.compile(r"^class (\w+)\([\w.]+\)"), r"class \1(TracedBase)"),
]


def _normal(line: str) -> str:
    line = _ALLOWED[0][0].sub(_ALLOWED[0][1], line)
    line = _ALLOWED[1][0].sub(_ALLOWED[1][1], line)
    return line.replace("TracedActor)", "TracedBase)").replace("TracedPlainActor)", "TracedBase)")


def test_nothing_else_changed(migrated):
    """Every changed line is a send rename, a base switch, or an import line."""
    dst, _, _ = migrated
    for rel in _py_files(INPUT):
        old = (INPUT / rel).read_text().splitlines()
        new = (dst / rel).read_text().splitlines()
        sm = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal":
                continue
            removed = [l for l in old[i1:i2] if not l.startswith(("from ", "import "))]
            added = [l for l in new[j1:j2] if not l.startswith(("from ", "import "))]
            assert [_normal(l) for l in removed] == [_normal(l) for l in added], (rel, removed, added)
            for l in new[j1:j2]:
                if l.startswith(("from ", "import ")):
                    assert l.startswith(("from thespian_trace import", "from thespian.actors import")), l


def test_second_run_changes_nothing(migrated):
    dst, _, _ = migrated
    before = {rel: (dst / rel).read_bytes() for rel in _py_files(dst)}
    err = io.StringIO()
    code, s = run_codemod([str(dst)], jobs=1, out=io.StringIO(), err=err)
    assert code == 0 and s.changed == 0 and s.sends == 0 and s.rebased == 0
    assert "nothing to change" in err.getvalue()
    assert {rel: (dst / rel).read_bytes() for rel in _py_files(dst)} == before


def test_expected_output_compiles_and_is_a_fixed_point():
    for rel in _py_files(EXPECTED):
        compile((EXPECTED / rel).read_text(), rel, "exec")
    code, s = run_codemod([str(EXPECTED)], check=True, jobs=1, out=io.StringIO(), err=io.StringIO())
    assert code == 0 and s.changed == 0


def test_external_mode_on_fixture(tmp_path):
    dst = tmp_path / "repo"
    shutil.copytree(INPUT, dst, ignore=shutil.ignore_patterns("__pycache__"))
    code, s = run_codemod([str(dst)], jobs=1, external=True, out=io.StringIO(), err=io.StringIO())
    assert code == 0 and s.externals == 3
    text = (dst / "shop/driver.py").read_text()
    assert "answer = traced_ask(asys, orders, Order(order_id), 1.0)" in text
    assert 'traced_tell(ActorSystem(), orders, "watch")' in text
    assert 'traced_tell(self.system, addr, "ping")' in text
    assert "from thespian_trace import traced_ask, traced_tell\n" in text


def test_libcst_tool_gives_the_same_output(tmp_path):
    import os
    import subprocess
    import sys

    repo_root = Path(__file__).resolve().parent.parent
    dst = tmp_path / "repo"
    shutil.copytree(INPUT, dst, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(repo_root / ".libcst.codemod.yaml", dst / ".libcst.codemod.yaml")
    r = subprocess.run([sys.executable, "-m", "libcst.tool", "codemod", "rewrite.TraceSendsCommand", "-j", "1",
                        "--no-format", "--root", str(dst), "shop"], cwd=str(dst), capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(repo_root)))
    assert r.returncode == 0, r.stderr
    for rel in _py_files(EXPECTED):
        assert (dst / rel).read_bytes() == (EXPECTED / rel).read_bytes(), rel


# ------------------------------------------------------------------------------------------------
# run what the codemod wrote (issue 13 item 4): import every module in a fresh interpreter and ask
# every actor a question
# ------------------------------------------------------------------------------------------------
SUPPORT = FIXTURES / "support"  # the third-party `plugins` package legacy.py star-imports
MODULES = ["shop", "shop.audit", "shop.base", "shop.billing", "shop.common", "shop.compat", "shop.driver",
           "shop.generated_pb", "shop.http", "shop.legacy", "shop.messages", "shop.orders", "shop.workers",
           "shop.workers.pool"]
ACTORS = [  # (module, actor class, message, expected first answer)
    ("shop.audit", "Auditor", "'entry'", "1"),
    ("shop.billing", "BillingActor", "Invoice('o-1', 9.5)", "('billed', 9.5)"),
    ("shop.compat", "Actor", "42", "('unknown', 'int')"),
    ("shop.generated_pb", "GeneratedStub", "b'raw'", "b'raw'"),
    ("shop.http", "WebhookActor", "{'id': 7}", "{'status': 202, 'id': 7}"),
    ("shop.legacy", "PluginActor", "'plug'", "'plug'"),
    ("shop.legacy", "Frozen", "'cold'", "'cold'"),
    ("shop.legacy", "AlreadyTraced", "'hot'", "'hot'"),
    ("shop.legacy", "Overriding", "'x'", "('wrapped', 'x')"),
    ("shop.orders", "OrderActor", "Order('o-2', (1, 2))", "'accepted'"),
    ("shop.orders", "OrderActor", "'shout'", "'SHOUT'"),
    ("shop.workers.pool", "Worker", "'abc'", "'cba'"),
    ("shop.workers.pool", "Supervisor", "'abc'", "'cba'"),
]
NOT_ASKED = {"shop.base.ShopActor": "abstract base: only handles ActorExitRequest, which has no answer"}


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocQueueBase"])
def test_every_rewritten_module_imports_and_its_actors_answer(tmp_path, base):
    """On the in-process base and in forked actor processes (where a migrated actor's module is what
    the actor process has: a rewrite that only works in the importing process would fail there)."""
    from codemod_exercise import exercise

    dst = tmp_path / "repo"
    shutil.copytree(INPUT, dst, ignore=shutil.ignore_patterns("__pycache__"))
    code, summary = run_codemod([str(dst)], jobs=1, external=True, out=io.StringIO(), err=io.StringIO())
    assert code == 0 and summary.changed == 9 and summary.externals == 3, summary.failures
    assert set(MODULES) == {m for m in _modules(dst)}
    repo = analyze_paths([str(dst)])
    asked = {"%s.%s" % (m, c) for m, c, _q, _a in ACTORS}
    # every actor, and every class whose base the analysis could not resolve (PluginActor), is asked
    actors = {c.full_name for c in repo.classes() if c.is_actor or any(b.origin == "unknown" for b in c.bases)}
    assert actors == asked | set(NOT_ASKED)
    exercise([dst, SUPPORT], MODULES,
             actors=[{"module": m, "cls": c, "ask": q, "expect": a} for m, c, q, a in ACTORS],
             calls=[{"module": "shop.driver", "call": "run('o-3')", "expect": "'accepted'"}], base=base)


def _modules(root: Path):
    for p in root.rglob("*.py"):
        rel = p.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts)
