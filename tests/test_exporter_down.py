"""Exporter down (issue 7, item 3): tracing never slows, blocks, bloats or loses actor traffic.

The scenario lives in ``benchmarks/exporter_down.py``: one subprocess per base, with its own SDK
pipeline holding one batch processor per endpoint (``up``, ``refused``, ``hang``) and switching every
process of the actor system between them, batch by batch. This file asserts on what it measures:

* no message lost (every traced tell and ask gets its reply);
* nothing blocks a handler: p50 and a true p99 (nearest rank over hundreds of traced asks) far below
  the exporter's 1 s timeout, which a handler waiting on the exporter would take;
* memory bounded (``tracemalloc`` in the actor's process plateaus while the queue overflows);
* throughput with the exporter down against the rate with it up, from interleaved timed batches of
  hundreds or thousands of traced messages (see ``CPU_RATIO_BY_BASE`` and ``WALL_RATIO_BY_BASE``);
* the actor process and the SDK shut down in bounded time.

The documented 5 % figure (ratio >= 0.95, median rates over interleaved rounds) is measured by
``make bench`` (``benchmarks/run_all.py``, group ``exporter``), whose rows the smoke run checks.
``.venv/bin/python tests/test_exporter_down.py --bench [ROUNDS [BASE...]]`` runs just that group.
"""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.exporter_down import (  # noqa: E402
    CHECK_SIZES, EXPORTER_TIMEOUT_S, KINDS, Endpoints, ratios, run_scenario)

# Throughput with the exporter down over throughput with it up: ratios of the median rates of nine
# interleaved rounds of timed batches (1,000 traced messages each on simpleSystemBase, 400 on
# multiprocTCPBase), all three endpoints in one process, so a load spike hits every kind alike. A
# handler that waited on the exporter would give about 0.01.
# * CPU_RATIO_BY_BASE: CPU time of the whole system (every process of it, export threads included:
#   benchmarks/common.py ``clock_for``). Down costs less CPU than up (no successful HTTP export).
#   simpleSystemBase: the documented 5 %; measured 1.30-1.52 with a load average of 5-7 on this 2-core
#   machine, so it fails as soon as a down exporter makes the traced path do ~45 % more work per
#   message. multiprocTCPBase: measured 0.99-1.19 over ten runs (three with another core busy), so the
#   bound is 0.9. Tried once: 500 µs of CPU added per span on the down paths gave 0.77/0.78 (fails;
#   the wall ratios, 0.84/0.87, would pass their 0.6); 150 µs gave 1.02/1.00 (passes: within this
#   base's noise, and caught on simpleSystemBase, which runs the same processor code).
# * WALL_RATIO_BY_BASE: wall-clock throughput, which also sees stalls that cost no CPU. The tightest
#   bound those short runs kept with a load average of 2-7 (two busy loops added for the worst case):
#   measured minima 0.91 on simpleSystemBase and 0.67 on multiprocTCPBase (whose rates are wall clock
#   across processes, with nothing steadier to divide). The benchmark checks 0.95 on medians of longer
#   interleaved runs (make bench, group "exporter").
CPU_RATIO_BY_BASE = {"simpleSystemBase": 0.95, "multiprocTCPBase": 0.9}
WALL_RATIO_BY_BASE = {"simpleSystemBase": 0.8, "multiprocTCPBase": 0.6}
P50_MS = 100                                   # a handler waiting on the exporter: >= 1000 ms
P99_MS = 1000 * EXPORTER_TIMEOUT_S * 0.5
MIN_LATENCY_SAMPLES = 500                      # so that p99 is a percentile, not the maximum


def _check(result):
    assert result["received"] == result["sent"], "lost %d replies" % (result["sent"] - result["received"])
    assert result["sdk_shutdown_finished"], result
    assert not result["echo_alive_after"], "the actor process outlived the system"
    for kind, r in result["per_kind"].items():
        # Nothing blocks a handler: one waiting on the exporter would take >= its 1 s timeout, and it
        # would wait on every export (every 64 asks), i.e. on more than 1 % of the asks.
        assert r["lat_n"] >= MIN_LATENCY_SAMPLES, r
        assert r["lat_p50_ms"] < P50_MS, (kind, r["lat_p50_ms"])
        assert r["lat_p99_ms"] < P99_MS, (kind, r["lat_p99_ms"])
    return ({kind: ratios(result, kind) for kind in ("refused", "hang")},
            {kind: ratios(result, kind, "cpu_rates") for kind in ("refused", "hang")})


def _assert_bounded_memory(base, r):
    """simpleSystemBase: a finished span held by the SDK costs ~3 KB; the processor holds at most
    MAX_QUEUE queued spans plus one in-flight batch (measured plateau 1-2.5 MB including the exporter's
    retry state); each phase adds ~500 spans, so an unbounded queue would keep growing by >= 1.5 MB per
    phase instead of plateauing. multiprocTCPBase: the actor process makes too few spans in a short
    test to discriminate (tracemalloc there also slows the actor 3x); only a sanity bound is checked
    and the figures are reported (the queue code is the same SDK code in every process)."""
    mem = r["mem_checkpoints_bytes"]
    assert max(mem) < 4 * 1024 * 1024, r
    if base == "simpleSystemBase":
        assert r["mem_growth_bytes"] < 1024 * 1024, r


@pytest.mark.parametrize("base", ["simpleSystemBase",
                                  pytest.param("multiprocTCPBase", marks=pytest.mark.slow)])
def test_exporter_down_does_not_slow_block_bloat_or_lose(base):
    with Endpoints() as eps:
        result = run_scenario(base, eps.urls, **CHECK_SIZES[base])
        # The exporter really was up in the baseline, and really was hit in the "hang" case.
        assert len(eps.receiver.spans()) > 0
        assert eps.hang.accepted > 0
    stats, cpu = _check(result)
    summary = {k: {"median_rate": round(v["median_rate"]),
                   "ratio": None if k == "up" else round(stats[k]["ratio"], 3),
                   "round_ratios": None if k == "up" else [round(x, 2) for x in stats[k]["ratios"]],
                   "cpu_ratio": None if k == "up" else round(cpu[k]["ratio"], 3),
                   "p50_ms": round(v["lat_p50_ms"], 3), "p99_ms": round(v["lat_p99_ms"], 3),
                   "max_ms": round(v["lat_max_ms"], 1), "mem_growth_kb": v["mem_growth_bytes"] // 1024,
                   "mem_kb": [m // 1024 for m in v["mem_checkpoints_bytes"]]}
               for k, v in result["per_kind"].items()}
    summary["all"] = {k: round(result[k], 2) for k in ("echo_exit_s", "sdk_shutdown_s", "wall_s")}
    print("\nexporter-down %s: %s" % (base, json.dumps(summary)))
    for kind in ("refused", "hang"):
        assert stats[kind]["ratio"] >= WALL_RATIO_BY_BASE[base], summary
        assert cpu[kind]["ratio"] >= CPU_RATIO_BY_BASE[base], summary
    for kind in KINDS:
        _assert_bounded_memory(base, result["per_kind"][kind])


def _bench(argv):
    """``--bench [ROUNDS [BASE...]]``: the benchmark's exporter group alone, printed as its table."""
    from benchmarks import common, exporter_down

    rounds = int(argv[0]) if argv else 5
    bases = tuple(argv[1:]) or ("simpleSystemBase", "multiprocTCPBase")
    rows = exporter_down.run(rounds=rounds, bases=bases, log=lambda m: print(m, flush=True))
    info = common.machine_info()
    print(common.markdown(rows, info, "tests/test_exporter_down.py --bench " + " ".join(argv)))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--bench":
        _bench(sys.argv[2:])
    else:
        print("usage: test_exporter_down.py --bench [ROUNDS [BASE...]]", file=sys.stderr)
        sys.exit(2)
