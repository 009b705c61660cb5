"""examples/convention_demo.py (issue 8 item 3): two OS processes, two actor systems, one trace.

Runs the example exactly as a user would (a fresh interpreter, which starts the member as a second
process) on two free loopback ports, and checks its exit code, the printed trace and that nothing it
started is left running.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

from conftest import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "convention_demo.py")


def _leftovers(marker):
    """PIDs of live processes whose command line mentions the script and this run's ports."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open("/proc/%s/stat" % entry) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and "convention_demo.py" in cmd and marker in cmd:
            out.append(int(entry))
    return out


def _listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_convention_example_one_trace_crosses_two_processes():
    p1, p2 = free_port(), free_port()
    while p2 == p1:
        p2 = free_port()
    marker = "%d,%d" % (p1, p2)
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, SCRIPT, "--ports", marker, "--timeout", "40"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        # Whatever happened, nothing of this run may survive it (kill by PID, then fail below).
        deadline = time.monotonic() + 10
        left = _leftovers(marker)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = _leftovers(marker)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    elapsed = time.monotonic() - started
    out = proc.stdout
    assert proc.returncode == 0, "exit %s\nstdout:\n%s\nstderr:\n%s" % (proc.returncode, out, proc.stderr)
    assert not left, "processes left running after the example: %r" % left
    assert not _listening(p1) and not _listening(p2), "an Admin still listens on its port"

    # Both systems really started on the requested ports, as two OS processes.
    assert "[leader] actor system up on 127.0.0.1:%d" % p1 in out
    assert "[member] actor system up on 127.0.0.1:%d, joining the Convention at 127.0.0.1:%d" % (
        p2, p1) in out
    assert "[leader] member joined the Convention" in out
    pids = re.search(r"via Front\(convention-leader, pid (\d+)\) -> Greeter\(convention-member, pid (\d+)\)",
                     out)
    assert pids and pids.group(1) != pids.group(2), out

    # The printed tree: one trace, four spans, one root, the chain leader -> member -> leader.
    trees = re.findall(r"^trace ([0-9a-f]{32}) \((\d+) spans, (\d+) root\)$", out, re.M)
    assert trees and len(trees) == 1, out
    trace_id, n_spans, n_roots = trees[0]
    assert (n_spans, n_roots) == ("4", "1"), out
    tree_lines = [line for line in out.splitlines() if re.match(r"^ {2,}(ask|process) \w+ \[", line)]
    assert [(len(line) - len(line.lstrip()), line.split(" [")[0].strip()) for line in tree_lines] == [
        (2, "ask Request"), (4, "process Front"), (6, "process Greeter"), (8, "process Front")], out
    table = re.findall(r"^  (ask Request|process \w+)\s+(convention-\w+)\s+pid", out, re.M)
    assert table == [("ask Request", "convention-leader"), ("process Front", "convention-leader"),
                     ("process Greeter", "convention-member"), ("process Front", "convention-leader")]
    assert ("[leader] OK: one trace (%s) crossed both actor systems: 4 spans, convention-leader=3, "
            "convention-member=1" % trace_id) in out

    # Orderly shutdown of both sides.
    assert "[member] actor system shut down" in out
    assert "[leader] member process exited with 0" in out
    assert "[leader] actor system shut down" in out
    assert elapsed < 60


def test_convention_example_rejects_bad_ports():
    proc = subprocess.run([sys.executable, SCRIPT, "--ports", "4000,4000"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "--ports takes two different ports" in proc.stderr
