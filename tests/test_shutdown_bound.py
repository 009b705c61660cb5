"""Bounded shutdown with a hanging exporter (issue 15 item 4).

The collector accepts connections and never answers. ``asys.shutdown()`` of a multiprocTCPBase
system with 50 actors (as 50 children of the Admin, and as ten parents with four children each)
returns within 3 s of the same shutdown on Thespian alone, and every process of the system is gone
soon after (the exit flush is bounded at 2 s). Each run is a fresh process
(shutdown_bound_driver.py), so the SDK set-up is the application's own, not the test session's.
"""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BOUND_S = 3.0          # the promise: shutdown() within 3 s of bare
EXIT_FLUSH_S = 2.0     # thespian_trace flushes at most this long when an actor process ends


def drive(mode, shape):
    proc = subprocess.run([sys.executable, os.path.join(HERE, "shutdown_bound_driver.py"), mode, "50",
                           shape], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["answered"] == (10 if shape == "tree" else 50), result
    return result


@pytest.fixture(scope="module")
def bare():
    return {shape: drive("bare", shape) for shape in ("flat", "tree")}


@pytest.mark.parametrize("shape", ["flat", "tree"])
def test_shutdown_with_a_hanging_collector_is_bounded(bare, shape):
    hanging = drive("hanging", shape)
    assert hanging["collector_connections"] >= 1, "the exporters never reached the collector"
    assert hanging["survivors"] == 0, hanging
    assert hanging["shutdown_s"] <= bare[shape]["shutdown_s"] + BOUND_S, (hanging, bare[shape])
    # The last actor process ends after its bounded exit flush (plus scheduling slack).
    assert hanging["gone_s"] <= bare[shape]["gone_s"] + EXIT_FLUSH_S + 2.0, (hanging, bare[shape])
