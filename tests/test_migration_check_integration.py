"""Codemod, then migration-check, on the same code: the two tools agree.

- On a copy of ``tests/codemod_fixtures/input``: after the codemod the check reports zero untraced sends
  and untraced actor classes, and exactly the manual-review sites the codemod reported.
- On a copy of ``examples/legacy_app``: the check fails before the codemod and passes after it.
"""
from __future__ import annotations

import io
import shutil
from collections import Counter
from pathlib import Path

import pytest

from codemod import check
from codemod import cli as codemod_cli

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "codemod_fixtures" / "input"
LEGACY = REPO / "examples" / "legacy_app"


def run_codemod(path: Path, external: bool = False):
    code, summary = codemod_cli.run_codemod([str(path)], jobs=1, external=external, out=io.StringIO(),
                                            err=io.StringIO(), progress=False)
    return code, summary


def by_code(findings, code):
    return [f for f in findings if f.code == code]


@pytest.fixture
def shop(tmp_path, monkeypatch):
    dst = tmp_path / "shop_repo"
    shutil.copytree(FIXTURES, dst)
    monkeypatch.chdir(dst)
    monkeypatch.delenv(check.TODAY_ENV, raising=False)
    return dst


@pytest.mark.parametrize("external", [False, True])
def test_codemod_then_check_on_fixture_codebase(shop, external):
    before = check.collect(["."]).findings
    assert by_code(before, "TT001") and by_code(before, "TT002")  # the fixture has work to do
    review_before = by_code(before, "TT004")

    code, summary = run_codemod(shop, external=external)
    assert code == 0, summary.failures
    assert summary.sends > 0 and summary.rebased > 0

    # exactly the manual-review sites the codemod reported (the codemod reports pre-rewrite lines)
    reported = Counter((Path(p).resolve(), line, why) for p, line, why in summary.review)
    mine = Counter((Path(f.path).resolve(), f.line, f.message.split("needs manual review: ", 1)[1])
                   for f in review_before)
    assert reported == mine and len(reported) > 0

    after = check.collect(["."]).findings
    assert by_code(after, "TT001") == []
    assert by_code(after, "TT002") == []
    # the same review sites afterwards, by meaning (lines may move when imports change)
    assert sorted(f.key for f in by_code(after, "TT004")) == sorted(f.key for f in review_before)
    assert len(by_code(after, "TT004")) == len(summary.review)
    # external ask/tell: only rewritten with --external
    untraced_external = [f for f in by_code(after, "TT003") if not f.fix.startswith("manual review")]
    if external:
        assert untraced_external == [] and summary.externals > 0
    else:
        assert len(untraced_external) == len([f for f in by_code(before, "TT003")])

    # a second codemod run changes nothing, and the check result is the same
    code, summary2 = run_codemod(shop, external=external)
    assert code == 0 and summary2.changed == 0
    assert check.collect(["."]).findings == after


def test_baseline_then_codemod_leaves_only_stale_entries(shop, capsys):
    """The migration workflow: baseline the old code, migrate, the gate demands the baseline shrink."""
    assert check.main([".", "--baseline", "b.txt", "--update-baseline"]) == 0
    n_before = len([ln for ln in Path("b.txt").read_text().splitlines() if not ln.startswith("#")])
    run_codemod(shop)
    capsys.readouterr()
    assert check.main([".", "--baseline", "b.txt"]) == 1
    out = capsys.readouterr().out
    assert "0 new findings" in out and "stale baseline entr" in out
    assert check.main([".", "--baseline", "b.txt", "--update-baseline"]) == 0
    n_after = len([ln for ln in Path("b.txt").read_text().splitlines() if not ln.startswith("#")])
    assert 0 < n_after < n_before
    assert check.main([".", "--baseline", "b.txt"]) == 0


def test_legacy_app_fails_before_codemod_and_passes_after(tmp_path, monkeypatch):
    dst = tmp_path / "legacy_app"
    shutil.copytree(LEGACY, dst, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(check.TODAY_ENV, raising=False)
    assert check.main(["legacy_app"]) == 1
    before = check.collect(["legacy_app"])
    assert by_code(before.findings, "TT001")
    code, summary = run_codemod(dst, external=True)
    assert code == 0, summary.failures
    after = check.collect(["legacy_app"])
    assert after.findings == [], [f"{f.path}:{f.line} {f.code} {f.message}" for f in after.findings]
    assert check.main(["legacy_app"]) == 0
