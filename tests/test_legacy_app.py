"""The untraced legacy app runs; after the codemod every send is traced and it still runs the same."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codemod.analysis import analyze_paths
from codemod.cli import run_codemod

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "examples" / "legacy_app"
EXPECTED = ["order A-17: 3 items, total 9.75, audited #1", "order B-2: 2 items, total 5.75, audited #2"]


def _run(app: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(app / "main.py"), *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(app.parent))


def test_legacy_app_runs_untraced():
    r = _run(APP)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == EXPECTED


def test_legacy_app_is_untraced_before_migration():
    repo = analyze_paths([str(APP)])
    kinds = [s.kind for s in repo.send_sites()]
    assert kinds and set(kinds) == {"untraced_send"}
    assert {c.name for c in repo.actor_classes()} == {"PipelineActor", "Worker", "Auditor", "Frontdoor"}
    assert not any(c.traced for c in repo.actor_classes())
    assert [e.op for e in repo.external_sites()] == ["ask"]


@pytest.fixture()
def migrated(tmp_path):
    app = tmp_path / "legacy_app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    code, summary = run_codemod([str(app)], jobs=1, external=True, out=io.StringIO(), err=io.StringIO())
    assert code == 0, summary.failures
    assert summary.changed == 3 and summary.sends == 6 and summary.rebased == 2 and summary.externals == 1
    assert not summary.review
    return app


def test_codemod_traces_every_send(migrated):
    repo = analyze_paths([str(migrated)])
    assert repo.send_sites() and all(s.kind == "traced_send" for s in repo.send_sites())
    assert all(c.traced for c in repo.actor_classes())
    assert all(e.traced for e in repo.external_sites())
    for p in migrated.glob("*.py"):
        text = p.read_text()
        assert "self.send(" not in text and ".ask(" not in text
        assert "ActorTypeDispatcher" not in text


def test_migrated_app_runs_with_same_output(migrated):
    r = _run(migrated)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == EXPECTED


def test_migrated_app_runs_on_multiproc_base(migrated):
    r = _run(migrated, "--base", "multiprocTCPBase")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == EXPECTED
