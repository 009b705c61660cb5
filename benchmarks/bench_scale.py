#!/usr/bin/env python
"""The seed's scale: one fanout to 1,000,000 actors on simpleSystemBase (one process), bare vs traced.

    .venv/bin/python benchmarks/bench_scale.py [--n 1000000] [--runs 2] [--out DIR]     (make bench-scale)

Three variants, each in a process of its own (so each one's resident memory is its own, and a million
actors of one variant never share a heap with another's):

  * ``bare``: Thespian without thespian-trace (hook uninstalled, ``BareFanner``/``BareRecipient``,
    ``send`` in a loop, Thespian's own ``ask``);
  * ``unsampled``: ``TracedFanner``/``TracedRecipient``, ``traced_fanout`` under a ``traced_ask`` root
    the sampler drops (``ParentBased(ALWAYS_OFF)``): every recipient gets the fanout marker;
  * ``sampled``: the same under a sampled root (``ParentBased(ALWAYS_ON)``): p(1,000,000) = 0.1 % of
    the recipients are kept (default fanout table), about 1,000 recipient spans.

Each variant creates the fanner and its N children (resident memory measured before and after, after a
full garbage collection: memory per actor), then times ``runs`` fanouts (CPU time of the process, the
span export thread included, until every recipient acknowledged and every span was exported), and
counts the spans its exporter saw (the benchmark SDK pipeline of ``bench_runtime``: the OTLP encoding,
no network). The time ratio uses the fastest run of each variant (the first one warms).

Thespian's simpleSystemBase keeps pending sends in a list and takes each from its head
(``list.pop(0)``, ``_runSends``): at a million pending sends that is quadratic (hours). Every variant
gets the same O(1) queue (a deque whose ``pop(0)`` is ``popleft``), which changes nothing else.
Writes ``scale.json`` (and prints it); ``benchmarks/refill_doc.py`` puts it in docs/performance.md.
"""
from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

VARIANTS = ("bare", "unsampled", "sampled")
TARGET_MEMORY = "<= 1.05"  # resident memory per actor, traced / bare


class _Queue(collections.deque):
    """Thespian's pending-send list with an O(1) ``pop(0)`` (everything else a deque already does)."""

    def pop(self, index: int = -1) -> Any:  # type: ignore[override]
        return self.popleft() if index == 0 else super().pop()


def _rss() -> int:
    """Resident set size of this process, in bytes (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_variant(variant: str, n: int, runs: int) -> Dict[str, Any]:
    """One variant in this process: memory per actor, seconds per fanout, spans exported."""
    from benchmarks import bench_runtime as br
    from benchmarks import common
    from benchmarks.bench_actors import BareFanner, TracedFanner

    sdk = br.setup_sdk()
    if variant == "bare":
        br._tracing(False)
        cls = BareFanner
    else:
        br._tracing(True, "on", "off" if variant == "unsampled" else "on")
        cls = TracedFanner
    asys = common.start_system("simpleSystemBase")
    try:
        system_base = asys._systemBase
        system_base._pendingSends = _Queue(system_base._pendingSends)
        gc.collect()
        rss0 = _rss()
        t0 = time.perf_counter()
        fanner = br._make_fanner(asys, cls, n)
        create_s = time.perf_counter() - t0
        gc.collect()
        rss1 = _rss()
        times: List[float] = []
        spans: List[int] = []
        names: Dict[str, int] = {}
        for _ in range(runs):
            gc.collect()
            before = sdk["exporter"].spans
            names_before = dict(sdk["exporter"].names)
            times.append(br._fanout_run(asys, fanner, n, 1, variant != "bare"))
            spans.append(sdk["exporter"].spans - before)
            names = {k: v - names_before.get(k, 0) for k, v in sdk["exporter"].names.items()
                     if v - names_before.get(k, 0)}
        return {"variant": variant, "n": n, "create_s": create_s, "rss_before": rss0, "rss_after": rss1,
                "bytes_per_actor": (rss1 - rss0) / n, "fanout_s": times, "spans": spans,
                "span_names": names, "peak_rss": _rss()}
    finally:
        common.shutdown(asys)
        br._restore()


def summarize(results: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    bare = results["bare"]
    out: Dict[str, Any] = {"n": bare["n"], "variants": results, "target_memory": TARGET_MEMORY}
    for v in ("unsampled", "sampled"):
        r = results[v]
        out[v] = {"time_ratio": min(r["fanout_s"]) / min(bare["fanout_s"]),
                  "memory_ratio": r["bytes_per_actor"] / bare["bytes_per_actor"],
                  "spans": r["spans"][-1],
                  "recipient_spans": r["span_names"].get("process TracedRecipient", 0)}
    return out


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # one variant, JSON to stdout
    args = ap.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.n, args.runs)))
        return 0
    started = time.perf_counter()
    results = {}
    for variant in VARIANTS:
        print("[scale] %s %s: %s recipients" % (time.strftime("%H:%M:%S"), variant, "{:,}".format(args.n)),
              flush=True)
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--variant", variant, "--n",
                               str(args.n), "--runs", str(args.runs)], cwd=ROOT, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            return 1
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[variant]
        print("[scale]   created in %.1f s, %.0f B per actor, fanout %s s, spans %s" % (
            r["create_s"], r["bytes_per_actor"], ["%.2f" % t for t in r["fanout_s"]], r["spans"]),
            flush=True)
    summary = summarize(results)
    from benchmarks import common

    summary["machine"] = common.machine_info()
    summary["elapsed_s"] = time.perf_counter() - started
    summary["command"] = "make bench-scale" if argv is None and len(sys.argv) == 1 else \
        ".venv/bin/python benchmarks/bench_scale.py " + " ".join(sys.argv[1:] if argv is None else argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "scale.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)
    for v in ("unsampled", "sampled"):
        s = summary[v]
        print("[scale] %s vs bare: time %.3f, memory per actor %.3f, spans exported %d (%d recipient spans)"
              % (v, s["time_ratio"], s["memory_ratio"], s["spans"], s["recipient_spans"]))
    print("wrote " + path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
