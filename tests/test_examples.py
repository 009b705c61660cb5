"""The README's runnable examples."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocTCPBase"])
def test_quickstart_prints_reply_and_one_trace(base):
    res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py"), base],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "HELLO" in lines
    spans = [line.split() for line in lines if line.startswith("span ")]
    names = sorted(" ".join(parts[1:-1]) for parts in spans)
    assert names == ["ask str", "process Front", "process Front", "process Worker"]
    assert len({parts[-1] for parts in spans}) == 1, "one trace"
