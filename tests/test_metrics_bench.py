"""benchmarks/bench_metrics.py in smoke sizes: the harness runs and yields the documented rows."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def test_bench_metrics_smoke_rows():
    from benchmarks import bench_metrics
    from thespian_trace._state import observers
    from thespian_trace.hook import installed

    rows = bench_metrics.run(smoke=True, bases=["simpleSystemBase", "multiprocTCPBase"], log=lambda m: None)
    cases = [r["case"] for r in rows]
    assert cases == ["simpleSystemBase, counters on vs metrics off", "simpleSystemBase, counters on vs bare",
                     "simpleSystemBase, duration on for one class vs bare",
                     "multiprocTCPBase, counters on vs metrics off",
                     "multiprocTCPBase, duration on for one class vs bare"]
    assert all(r["group"] == "metrics" and r["ratio"] > 0 and len(r["spread"]) == 3 for r in rows)
    assert rows[3]["target"] == ">= 0.97"
    assert installed() and observers.delivery is None  # the process is left as it was
