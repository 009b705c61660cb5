"""Tests that leak on purpose, run by test_leak_check.py in an inner pytest session (never collected
by the normal run: the name does not match ``test_*.py``, and every case skips unless the inner
session sets TT_LEAK_PROBE=1)."""
import os
import subprocess
import sys

import pytest
from thespian.actors import ActorSystem

from conftest import LOG_DEFS

pytestmark = pytest.mark.skipif(os.environ.get("TT_LEAK_PROBE") != "1",
                                reason="only for test_leak_check.py's inner session")

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture(scope="session")
def session_sleeper():
    """Started once and never stopped: only the end-of-session check can catch it."""
    return subprocess.Popen(SLEEPER)


def test_forked_actor_system_never_shut_down():
    """Forks of the session (Admin, logger): same command line, no exec, found by the memfd mark."""
    ActorSystem("multiprocQueueBase", logDefs=LOG_DEFS, transientUnique=True)


def test_script_leaves_an_orphan():
    """An exec'd script whose own child outlives it: found by the environment mark."""
    code = "import subprocess, sys; subprocess.Popen(%r)" % (SLEEPER,)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_clean_system_passes(make_system):
    asys = make_system("multiprocTCPBase")
    assert asys.ask(asys.createActor("tt_actors.Recorder"), "report", 10) == []


def _race(make_system):
    """Thespian's createActor/exit race (thespian_races.py): EagerParent's child outlives shutdown."""
    asys = make_system("multiprocTCPBase")
    assert asys.ask(asys.createActor("shutdown_actors.EagerParent"), "go", 10)[0] == "going"


def test_race_alone_is_tolerated(make_system):
    _race(make_system)


def test_race_does_not_hide_another_leak(make_system):
    _race(make_system)
    subprocess.Popen(SLEEPER)


def test_uses_the_session_sleeper(session_sleeper):
    assert session_sleeper.poll() is None
