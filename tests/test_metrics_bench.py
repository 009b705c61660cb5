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


def test_bench_metrics_aa_puts_both_headline_sides_in_the_metrics_off_state():
    """``--aa``: only the headline row, both of its systems with metrics off (the noise floor of that
    row on this machine), and no target to pass or miss."""
    from benchmarks import bench_metrics
    from thespian_trace._state import observers

    seen = []
    meters = bench_metrics._Meters(aa=True)
    try:
        for side in ("off", "counters"):
            meters.side(side)
            seen.append(observers.delivery)
    finally:
        meters.close()
    assert seen == [None, None]

    rows = bench_metrics.run(smoke=True, bases=["multiprocTCPBase"], log=lambda m: None, aa=True)
    assert [r["case"] for r in rows] == [
        "multiprocTCPBase, metrics off vs metrics off (A/A: the headline's noise floor)"]
    assert rows[0]["target"] is None and rows[0]["traced_label"] == "metrics off"
