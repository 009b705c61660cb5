#!/usr/bin/env python
"""Rewrite the results section of docs/performance.md from a benchmark run (``make bench-doc``).

    .venv/bin/python benchmarks/refill_doc.py [--results DIR] [--doc PATH] [--check]

Reads ``bench.json`` (``make bench``) and, when present, ``scale.json`` (``make bench-scale``) from
DIR (default ``benchmarks/results``) and replaces what lies between the ``<!-- results:begin -->`` and
``<!-- results:end -->`` markers of the doc: the issue-11 goals table (case | before | now | spread |
goal | PASS/MISS), the seed's-scale table, then every group's table as ``make bench`` wrote it. The rest
of the doc (method, explanations) is left as it is. ``--check`` only says whether the doc is current.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common  # noqa: E402
from benchmarks.bench_runtime import EXTRACT_CASE, LONG_CASE  # noqa: E402

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

# Issue 11's table: (case as the issue names it, group, the row's case, "before" as the issue measured
# it, goal). The "before" figures are the issue's "now" column (make bench at d9d8519).
ISSUE_11: Sequence[Tuple[str, str, str, str, str]] = (
    ("long ping-pong, one ask, 20,000 round trips, `traced_send` both ways (throughput)", "ping-pong",
     LONG_CASE.split("%s")[0] + "*", "0.915", ">= 0.95"),
    ("request/reply, one `traced_ask` per 20-message exchange (throughput)", "ping-pong",
     "simpleSystemBase, on, roots unsampled", "0.83", ">= 0.92"),
    ("`receive` mode: bare sends, hook installed (throughput)", "ping-pong", "simpleSystemBase, receive",
     "0.90", ">= 0.97"),
    ("10,000-recipient `traced_fanout`, unsampled (time)", "fanout",
     "simpleSystemBase, 10,000 recipients, root unsampled", "1.12", "<= 1.05"),
    ("10,000-recipient `traced_fanout`, sampled, about 10 recipient spans (time)", "fanout",
     "simpleSystemBase, 10,000 recipients, root sampled", "1.18", "<= 1.10"),
    ("multiprocQueueBase, off (throughput)", "ping-pong", "multiprocQueueBase, off", "1.022", ">= 0.99"),
    ("multiprocQueueBase, receive (throughput)", "ping-pong", "multiprocQueueBase, receive", "1.006",
     ">= 0.99"),
    ("multiprocQueueBase, on, roots unsampled (throughput)", "ping-pong",
     "multiprocQueueBase, on, roots unsampled", "0.982", ">= 0.99"),
    ("multiprocTCPBase, off (throughput)", "ping-pong", "multiprocTCPBase, off", "0.990", ">= 0.99"),
    ("multiprocTCPBase, receive (throughput)", "ping-pong", "multiprocTCPBase, receive", "1.015", ">= 0.99"),
    ("multiprocTCPBase, on, roots unsampled (throughput)", "ping-pong",
     "multiprocTCPBase, on, roots unsampled", "1.009", ">= 0.99"),
    ("`extract_if_sampled` on a sampled carrier vs the propagator's own extract (time)",
     "sieve vs full W3C extract", EXTRACT_CASE, "1.56", "<= 1.15"),
)


def _find(rows: Sequence[Dict[str, Any]], group: str, case: str) -> Optional[Dict[str, Any]]:
    prefix = case[:-1] if case.endswith("*") else None  # "...*": any case that starts so
    for r in rows:
        if r.get("group") == group and (r.get("case") == case or (
                prefix is not None and str(r.get("case", "")).startswith(prefix))):
            return r
    return None


def issue11_table(rows: Sequence[Dict[str, Any]]) -> str:
    out = ["| case (simpleSystemBase unless named, unsampled unless said) | before | now (ratio of medians) "
           "| min / median / max | goal | |",
           "|---|---|---|---|---|---|"]
    for label, group, case, before, goal in ISSUE_11:
        r = _find(rows, group, case)
        if r is None or r.get("ratio") is None:
            out.append("| %s | %s | not run | - | %s | MISS |" % (label, before, common._fmt_target(goal, common.TIME)))
            continue
        spread = r.get("spread") or []
        sp = " / ".join("%.3f" % x for x in spread) if spread else "-"
        wall = r.get("wall")
        if wall:  # multi-process rows: timed in CPU of every process; the wall clock beside it
            sp += " (wall clock: %.3f, rounds %.2f-%.2f)" % ((wall["ratio"],) + tuple(wall["range"]))
        out.append("| %s | %s | %.3f | %s | %s | %s |" % (
            label, before, r["ratio"], sp, common._fmt_target(goal, common.TIME),
            common.check_target(r["ratio"], goal)))
    out += ["", "Multi-process rows are timed in CPU time of every process of the actor system and of "
            "this one (benchmarks/common.py, *Clocks*); their *before* figures and the wall-clock "
            "figures in brackets are wall time, which on this shared 2-core machine measures the "
            "scheduler more than the work."]
    return "\n".join(out)


def scale_table(scale: Dict[str, Any]) -> str:
    v = scale["variants"]
    bare = v["bare"]
    out = ["Command: `%s` (whole run %.0f s), %s recipients, %s fanouts per variant (the fastest "
           "counts)." % (scale.get("command", "make bench-scale"), scale.get("elapsed_s", 0),
                         "{:,}".format(scale["n"]), len(bare["fanout_s"])),
           "",
           "| variant | fanout time (runs) | time vs bare | resident memory per actor | memory vs bare "
           "(goal ≤ 1.05) | spans exported (recipient spans) | actors created in |",
           "|---|---|---|---|---|---|---|"]
    for name in ("bare", "unsampled", "sampled"):
        r = v[name]
        times = ", ".join("%.2f s" % t for t in r["fanout_s"])
        if name == "bare":
            ratio, mem, memst = "1", "1", ""
        else:
            s = scale[name]
            ratio = "%.3f" % s["time_ratio"]
            mem = "%.3f" % s["memory_ratio"]
            memst = " " + common.check_target(s["memory_ratio"], scale.get("target_memory", "<= 1.05"))
        names = r.get("span_names", {})
        out.append("| %s | %s | %s | %.0f B | %s%s | %d (%d) | %.1f s |" % (
            name, times, ratio, r["bytes_per_actor"], mem, memst, r["spans"][-1],
            names.get("process TracedRecipient", 0), r["create_s"]))
    machine = scale.get("machine", {})
    out += ["", "Machine: %s, %s cores; commit %s; peak resident memory of a variant %.1f GiB." % (
        machine.get("cpu", "?"), machine.get("cores", "?"), machine.get("commit", "?"),
        max(x.get("peak_rss", 0) for x in v.values()) / 2 ** 30)]
    return "\n".join(out)


def results_section(bench: Dict[str, Any], scale: Optional[Dict[str, Any]]) -> str:
    rows = bench["rows"]
    info = bench["machine"]
    out = [BEGIN, "",
           "<!-- Generated by `make bench-doc` (benchmarks/refill_doc.py) from benchmarks/results/: do not edit "
           "by hand. -->", "",
           "### Issue 11 goals", "",
           "From the run below (`%s`, commit %s). *before*: the issue's figures (make bench at d9d8519); "
           "*now*: ratio of the medians (throughput rows traced / bare, higher is better; time rows "
           "traced / bare, lower is better)." % (bench.get("command", "make bench"), info.get("commit", "?")),
           "", issue11_table(rows), ""]
    out += ["### The seed's scale: 1,000,000-recipient fanout (`make bench-scale`)", ""]
    if scale:
        out += [scale_table(scale), ""]
    else:
        out += ["Not run yet: `make bench-scale` writes benchmarks/results/scale.json.", ""]
    out += ["### Every row", "", common.markdown(rows, info, bench.get("command", "make bench"),
                                                  bench.get("elapsed_s"), bench.get("missing", ()),
                                                  bench.get("notes", ())).replace("\n### ", "\n#### "),
            "", END]
    return "\n".join(out)


def refill(doc_text: str, section: str) -> str:
    if BEGIN in doc_text and END in doc_text:
        head, rest = doc_text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + section + tail
    raise ValueError("docs/performance.md has no %s ... %s markers" % (BEGIN, END))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "performance.md"))
    ap.add_argument("--check", action="store_true", help="exit 1 when the doc is not what a refill writes")
    args = ap.parse_args(argv)
    with open(os.path.join(args.results, "bench.json")) as f:
        bench = json.load(f)
    scale = None
    scale_path = os.path.join(args.results, "scale.json")
    if os.path.exists(scale_path):
        with open(scale_path) as f:
            scale = json.load(f)
    with open(args.doc) as f:
        text = f.read()
    new = refill(text, results_section(bench, scale))
    if args.check:
        print("current" if new == text else "stale")
        return 0 if new == text else 1
    with open(args.doc, "w") as f:
        f.write(new)
    print("refilled %s from %s" % (args.doc, args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
