#!/usr/bin/env python
"""Run every benchmark side by side with bare Thespian and write ``bench.md`` + ``bench.json``.

    .venv/bin/python benchmarks/run_all.py [--smoke] [--rounds N] [--out DIR] [--only GROUP ...]
                                           [--bases BASE ...] [--no-profile]

Groups: pingpong, fanout, bytes, sieve, hop, exporter, metrics, codemod, check. ``make bench`` runs it
with no options (under 6 minutes on a 2-core machine); ``make bench-doc`` then rewrites the results in
docs/performance.md from what it wrote. ``metrics`` is ``benchmarks/bench_metrics.py`` (actor metrics,
``run(smoke, rounds, bases, log) -> rows`` made with ``common.row``; about 40 s of the budget); while that
file does not exist the group is skipped with a note. ``exporter`` is ``benchmarks/exporter_down.py`` (throughput with the OTLP endpoint refusing or
hanging against it up, target >= 0.95). The codemod and migration-check benchmarks live in
``benchmarks/bench_codemod.py`` and ``benchmarks/bench_check.py`` (each ``run(smoke=False) ->
list[dict]``); if one cannot be imported or raises, the run fails (exit status 1) after writing the
table, whose row for it says why.
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # "benchmarks.bench_actors" must import in forked actor processes too

from benchmarks import common  # noqa: E402

GROUPS = ("pingpong", "fanout", "bytes", "sieve", "hop", "exporter", "metrics", "codemod", "check")
EXTERNAL = {
    # group: (module, table group, default target, per-case target overrides by substring)
    "codemod": ("benchmarks.bench_codemod", "codemod vs LibCST NOOP", "<= 3",
                (("migrated", "<= 1"), ("rerun", "<= 1"), ("re-run", "<= 1"), ("idempot", "<= 1"))),
    "check": ("benchmarks.bench_check", "migration-check vs LibCST NOOP", "<= 0.5", ()),
}


def _external_target(case: str, default: str, overrides: Tuple[Tuple[str, str], ...]) -> str:
    low = case.lower()
    for needle, target in overrides:
        if needle in low:
            return target
    return default


def run_external(group: str, smoke: bool) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """Rows from an engineer-owned module, or (an explanatory row, a note) when it is absent/broken."""
    module_name, table_group, default_target, overrides = EXTERNAL[group]
    path = os.path.join(ROOT, *module_name.split(".")) + ".py"
    try:
        module = importlib.import_module(module_name)
        run = getattr(module, "run")
    except Exception as exc:
        if not os.path.exists(path):
            why = "MISSING: %s.py does not exist yet" % module_name.replace(".", "/")
        else:
            why = "MISSING: %s could not be imported (%s: %s)" % (
                module_name, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return [common.row(table_group, why, "-", "-", "", common.TIME, {}, None)], why
    try:
        raw = run(smoke=smoke)
    except Exception as exc:
        why = "ERROR: %s.run() raised %s: %s" % (module_name, type(exc).__name__, exc)
        traceback.print_exc()
        return [common.row(table_group, why, "-", "-", "", common.TIME, {}, None)], why
    rows = []
    for r in raw:
        case = str(r.get("case", "?"))
        target = r.get("target") or _external_target(case, default_target, overrides)
        if isinstance(target, (int, float)):
            target = "<= %s" % target
        rounds = r.get("rounds")
        spread = r.get("spread")
        if isinstance(rounds, (list, tuple)):  # per-round ratios
            ratios = [float(x) for x in rounds]
            if ratios and spread is None:
                spread = [min(ratios), statistics.median(ratios), max(ratios)]
            rounds = len(ratios)
        stats = {"bare": r.get("baseline_s"), "traced": r.get("subject_s"), "ratio": r.get("ratio"),
                 "rounds": rounds, "spread": spread}
        out = common.row(table_group, case, str(r.get("baseline_name", "baseline")), group, "s",
                         common.TIME, stats, target,
                         note="baseline: %s" % r.get("baseline_name", "?"))
        out["source"] = module_name
        out["raw"] = r
        rows.append(out)
    return rows, None


def run_metrics(smoke: bool, rounds: Optional[int], bases: List[str], log: Any,
                module_name: str = "benchmarks.bench_metrics"
                ) -> Tuple[List[Dict[str, Any]], Optional[str], Optional[str]]:
    """Rows of ``benchmarks/bench_metrics.py`` (rows, note, failure): absent, it is skipped with a note;
    present but broken, the run fails (like the codemod and check groups)."""
    import importlib.util

    if importlib.util.find_spec(module_name) is None:
        return [], "metrics group skipped: %s.py does not exist yet" % module_name.replace(".", "/"), None
    try:
        module = importlib.import_module(module_name)
        rows = list(module.run(smoke=smoke, rounds=rounds or (2 if smoke else 7), bases=list(bases), log=log))
    except Exception as exc:
        traceback.print_exc()
        why = "ERROR: %s failed: %s: %s" % (module_name, type(exc).__name__, exc)
        return [common.row("actor metrics", why, "-", "-", "", common.TIME, {}, None)], None, why
    for r in rows:
        r.setdefault("source", module_name)
    return rows, None, None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 2 rounds: checks the harness only")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case (default 7)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="output directory")
    ap.add_argument("--only", nargs="+", choices=GROUPS, default=None, help="run only these groups")
    ap.add_argument("--bases", nargs="+", choices=common.BASES, default=list(common.BASES))
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile of the hot paths")
    args = ap.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        ap.error("--rounds must be >= 1")

    from benchmarks import bench_runtime

    command = "make bench" if argv is None and len(sys.argv) == 1 else \
        ".venv/bin/python benchmarks/run_all.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    want = list(args.only or GROUPS)
    runtime_groups = [g for g in want if g in ("pingpong", "fanout", "bytes", "sieve", "hop")]
    rows: List[Dict[str, Any]] = []
    missing: List[str] = []
    if runtime_groups:
        rows += bench_runtime.run(smoke=args.smoke, rounds=args.rounds, bases=tuple(args.bases),
                                  only=runtime_groups)
    if "exporter" in want:
        from benchmarks import exporter_down

        exporter_bases = [b for b in ("simpleSystemBase", "multiprocTCPBase") if b in args.bases]
        if exporter_bases:
            bench_runtime._log("running exporter-down benchmark")
            rows += exporter_down.run(smoke=args.smoke, rounds=args.rounds, bases=exporter_bases,
                                      log=bench_runtime._log)
    notes: List[str] = []
    if "metrics" in want:
        bench_runtime._log("running metrics benchmark")
        metric_rows, note, failure = run_metrics(args.smoke, args.rounds, list(args.bases), bench_runtime._log)
        rows += metric_rows
        if note:
            notes.append(note)
        if failure:
            missing.append(failure)
    for group in ("codemod", "check"):
        if group in want:
            bench_runtime._log("running %s benchmark" % group)
            ext_rows, note = run_external(group, args.smoke)
            rows += ext_rows
            if note:
                missing.append(note)
    profile_text = None
    if not args.no_profile and ("pingpong" in want or "hop" in want) and "simpleSystemBase" in args.bases:
        bench_runtime._log("profiling hot paths")
        sizes = dict(bench_runtime.SMOKE if args.smoke else bench_runtime.FULL)
        profile_text = bench_runtime.profile_hot_paths(sizes)
    elapsed = time.perf_counter() - started
    info = common.machine_info()
    info["sdk"] = bench_runtime.SDK_DESCRIPTION
    paths = common.write_results(args.out, rows, info, command, elapsed, missing, notes)
    if profile_text is not None:
        prof_path = os.path.join(args.out, "profiles.txt")
        with open(prof_path, "w") as f:
            f.write(profile_text)
        paths["profiles"] = prof_path
    print(common.markdown(rows, info, command, elapsed, missing, notes))
    print("\nwrote " + ", ".join(paths.values()))
    if missing:
        print("\n".join(["", "FAILED:"] + list(missing)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
