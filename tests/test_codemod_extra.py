"""Without the ``codemod`` extra (libcst, pathspec), the ``thespian-trace`` console script says what to install.

Issue 14 item 3: the runtime installs without libcst and pathspec; the CLI then exits 2 with one line naming
``pip install 'thespian-trace[codemod]'`` instead of a traceback. The modules are hidden by an import
blocker installed through ``sitecustomize`` in the child interpreter, so the real installed console script
(entry point ``codemod.cli:main``) is what runs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ACTOR = ("from thespian.actors import ActorTypeDispatcher\n\n\nclass A(ActorTypeDispatcher):\n"
         "    def receiveMsg_str(self, msg, sender):\n        self.send(sender, msg)\n")
BLOCKER = '''
import importlib.abc, os, sys


class _Blocker(importlib.abc.MetaPathFinder):
    hidden = tuple(os.environ["HIDE_MODULES"].split(","))

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.hidden:
            raise ModuleNotFoundError("No module named %r" % name, name=name)
        return None


sys.meta_path.insert(0, _Blocker())
'''


def _script() -> str:
    found = shutil.which("thespian-trace", path=os.path.dirname(sys.executable))
    assert found, "the thespian-trace console script is not installed next to %s" % sys.executable
    return found


def _run(tmp_path: Path, hide: str, *args: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=str(site), HIDE_MODULES=hide)
    return subprocess.run([_script(), *args], capture_output=True, text=True, timeout=120, env=env,
                          cwd=str(tmp_path))


@pytest.mark.parametrize("hide,missing", [("libcst", "libcst"), ("pathspec", "pathspec"),
                                          ("libcst,pathspec", "libcst")])
def test_codemod_without_the_extra_exits_2_naming_it(tmp_path, hide, missing):
    (tmp_path / "a.py").write_text(ACTOR)
    r = _run(tmp_path, hide, "codemod", str(tmp_path / "a.py"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        "thespian-trace codemod: %s is not installed; install the codemod extra: "
        "pip install 'thespian-trace[codemod]'" % missing]
    assert r.stdout == "" and (tmp_path / "a.py").read_text() == ACTOR


def test_migration_check_without_pathspec_exits_2_naming_the_extra(tmp_path):
    (tmp_path / "a.py").write_text(ACTOR)
    r = _run(tmp_path, "pathspec", "migration-check", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.splitlines() == ["thespian-trace migration-check: pathspec is not installed; install the "
                                     "codemod extra: pip install 'thespian-trace[codemod]'"]


def test_migration_check_never_needs_libcst(tmp_path):
    (tmp_path / "a.py").write_text(ACTOR)
    r = _run(tmp_path, "libcst", "migration-check", str(tmp_path))
    assert r.returncode == 1, r.stderr  # findings, not a missing-dependency error
    assert "TT001" in r.stdout and "TT002" in r.stdout


def test_the_blocker_really_hides_the_module(tmp_path):
    """The tests above prove something only if the child cannot import the hidden module."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    r = subprocess.run([sys.executable, "-c", "import libcst"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(site), HIDE_MODULES="libcst"))
    assert r.returncode == 1 and "No module named 'libcst'" in r.stderr
    r = subprocess.run([_script(), "codemod", "--check", str(site)], capture_output=True, text=True,
                       env=dict(os.environ, HIDE_MODULES="libcst"))
    assert r.returncode == 0, r.stderr  # without the blocker on the path, the same script works
