#!/usr/bin/env python
"""The simpleSystemBase ping-pong rows in instructions instead of seconds (valgrind's callgrind).

    .venv/bin/python benchmarks/count_instructions.py [--asks N] [--jobs J]

On a shared machine the CPU time of an in-process loop moves with the neighbours (a VM's stolen time
is billed to whatever ran); an instruction count does not: the same program and inputs give the same
count whatever else runs. Each side (bare, and the traced configurations of ``make bench``'s issue-11
rows) runs twice under callgrind, with ``20`` and ``20 + N`` asks of 20-message exchanges; the
difference divided by ``N * 20`` is instructions per message, start-up and imports cancelled out.
The ratio printed is bare / side, comparable with the throughput ratios (higher is better). Needs
``valgrind`` on PATH; about a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: side -> (rollout mode, traced actors and traced_ask?) ; "bare" is Thespian without the hook
SIDES = {"bare": (None, False), "off": ("off", True), "receive": ("receive", True),
         "on, roots unsampled": ("on", True)}
EXCHANGE = 20

_ONE_SIDE = r'''
import sys
sys.path.insert(0, %(root)r)
from benchmarks import bench_runtime as br, common
from benchmarks.bench_actors import BarePinger, TracedPinger
mode, traced, asks = %(mode)r, %(traced)r, int(sys.argv[1])
br.setup_sdk()
br._settle_gc[0] = False
if mode is None:
    br._tracing(False)
else:
    br._tracing(True, mode, "off")
asys = common.start_system("simpleSystemBase")
pinger = br._make_pinger(asys, TracedPinger if traced else BarePinger)
br._pingpong_run(asys, pinger, 2, %(exchange)d, traced)       # warm every path once
br._pingpong_run(asys, pinger, asks, %(exchange)d, traced)
common.shutdown(asys)
'''


def _instructions(side: str, asks: int, workdir: str) -> int:
    mode, traced = SIDES[side]
    script = _ONE_SIDE % {"root": ROOT, "mode": mode, "traced": traced, "exchange": EXCHANGE}
    out = os.path.join(workdir, "%s-%d.out" % (side.replace(" ", "_").replace(",", ""), asks))
    res = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                          sys.executable, "-c", script, str(asks)],
                         capture_output=True, text=True, timeout=1800)
    found = re.search(r"refs:\s+([\d,]+)", res.stderr)
    if res.returncode != 0 or not found:
        raise RuntimeError("callgrind run failed for %s/%d:\n%s" % (side, asks, res.stderr[-2000:]))
    return int(found.group(1).replace(",", ""))


def measure(asks: int = 200, jobs: int = 2) -> Dict[str, Tuple[float, float]]:
    """{side: (instructions per message, bare / side)}."""
    workdir = tempfile.mkdtemp(prefix="thespian-trace-callgrind-")
    try:
        runs = [(side, n) for side in SIDES for n in (20, 20 + asks)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            counts = dict(zip(runs, pool.map(lambda r: _instructions(r[0], r[1], workdir), runs)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    per = {side: (counts[(side, 20 + asks)] - counts[(side, 20)]) / (asks * EXCHANGE) for side in SIDES}
    return {side: (v, per["bare"] / v) for side, v in per.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--asks", type=int, default=200, help="asks counted per side (default 200)")
    ap.add_argument("--jobs", type=int, default=2, help="callgrind runs at once (default 2)")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    print("| simpleSystemBase ping-pong side | instructions per message | bare / side |")
    print("|---|---|---|")
    for side, (per_msg, ratio) in measure(args.asks, args.jobs).items():
        print("| %s | %s | %.3f |" % (side, "{:,.0f}".format(per_msg), ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
