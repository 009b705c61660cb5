#!/usr/bin/env python
"""Ping-pong rows in instructions instead of seconds (valgrind's callgrind).

    .venv/bin/python benchmarks/count_instructions.py [--asks N] [--tcp-asks M] [--jobs J]

On a shared machine the CPU time of an in-process loop moves with the neighbours (a VM's stolen time
is billed to whatever ran); an instruction count does not: the same program and inputs give the same
count whatever else runs. Each side (bare, and the traced configurations of ``make bench``'s issue-11
rows) runs twice under callgrind, with ``20`` and ``20 + N`` asks of 20-message exchanges; the
difference divided by ``N * 20`` is instructions per message, start-up and imports cancelled out.
The ratio printed is bare / side, comparable with the throughput ratios (higher is better).

The second table is ``make bench``'s metrics headline on multiprocTCPBase (counters on vs metrics
off, and bare): the same two-size difference, counted over every process of the actor system
(callgrind follows forks; each process writes its own file), with ``5`` and ``5 + M`` asks. An
instruction count misses what the kernel does for a process, which is where the data-stack cliff of
``thespian_trace/_stack.py`` cost (page faults); so each side also runs once natively and reports
its minor page faults per message, all processes. Needs ``valgrind`` on PATH; about three minutes
on 2 cores.
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


def _callgrind(script: str, asks: int, prefix: str, what: str, min_files: int = 1) -> int:
    """Instructions of every process ``script`` ran (callgrind follows forks; each process writes
    ``prefix.PID`` as it exits, and the script waits for its actor processes to have done so)."""
    res = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s.%%p" % prefix,
                          sys.executable, "-c", script, str(asks)],
                         capture_output=True, text=True, timeout=1800)
    workdir, name = os.path.split(prefix)
    files = [f for f in os.listdir(workdir) if f.startswith(name + ".")]
    totals = []
    for f in files:
        with open(os.path.join(workdir, f)) as fh:
            found = re.search(r"^summary:\s+(\d+)", fh.read(), re.M)
        if found:
            totals.append(int(found.group(1)))
    if res.returncode != 0 or len(totals) < min_files or len(totals) != len(files):
        raise RuntimeError("callgrind run failed for %s/%d (%d files):\n%s"
                           % (what, asks, len(files), res.stderr[-2000:]))
    return sum(totals)


def _instructions(side: str, asks: int, workdir: str) -> int:
    mode, traced = SIDES[side]
    script = _ONE_SIDE % {"root": ROOT, "mode": mode, "traced": traced, "exchange": EXCHANGE}
    name = "%s-%d" % (side.replace(" ", "_").replace(",", ""), asks)
    return _callgrind(script, asks, os.path.join(workdir, name), side)


_TCP_SIDE = r'''
import os, sys, time
sys.path.insert(0, %(root)r)
from benchmarks import bench_metrics as bm, common
from benchmarks.bench_runtime import sampler, setup_sdk
from thespian_trace.testing import set_sampler
side, asks = %(side)r, int(sys.argv[1])
setup_sdk()
set_sampler(sampler("off"))
meters = bm._Meters()
meters.side(side)
asys = common.start_system("multiprocTCPBase")
sessions = asys.bench_sessions
def faults():
    total = 0
    for pid in os.listdir("/proc"):
        fields = common._stat_fields(pid) if pid.isdigit() else None
        if fields is not None and int(fields[3]) in sessions:
            total += int(fields[7])
    return total
try:
    pinger = bm._pinger(asys, side != "bare")
    bm._run(asys, pinger, 2, %(exchange)d, time.perf_counter)       # warm every path once
    before = faults()
    bm._run(asys, pinger, asks, %(exchange)d, time.perf_counter)
    print("minflt %%.4f" %% ((faults() - before) / (asks * %(exchange)d)))
    pids = [int(p) for p in os.listdir("/proc")
            if p.isdigit() and int((common._stat_fields(p) or [0, 0, 0, -1])[3]) in sessions]
finally:
    common.shutdown(asys)
    meters.close()
def running():  # each process writes its callgrind file as it exits (a zombie has written it)
    return [p for p in pids if (common._stat_fields(str(p)) or [b"Z"])[0] != b"Z"]
deadline = time.time() + 120
while running() and time.time() < deadline:
    time.sleep(0.2)
if running():
    sys.exit("actor processes still running: %%r" %% running())
'''

#: Sides of the multiprocTCPBase table, as in ``bench_metrics``; ratios are metrics off / side.
TCP_SIDES = ("bare", "off", "counters")
TCP_BASE_ASKS = 5


def _tcp_script(side: str) -> str:
    return _TCP_SIDE % {"root": ROOT, "side": side, "exchange": EXCHANGE}


def _tcp_instructions(side: str, asks: int, workdir: str) -> int:
    """Instructions of every process of a multiprocTCPBase run of ``side`` with ``asks`` asks."""
    return _callgrind(_tcp_script(side), asks, os.path.join(workdir, "tcp-%s-%d" % (side, asks)),
                      "multiprocTCPBase " + side, min_files=4)  # driver, Admin, logger, actors


def _tcp_faults(side: str, asks: int) -> float:
    """Minor page faults per message, every process of the system, in a native run."""
    res = subprocess.run([sys.executable, "-c", _tcp_script(side), str(asks)],
                         capture_output=True, text=True, timeout=600)
    found = re.search(r"^minflt ([\d.]+)", res.stdout, re.M)
    if res.returncode != 0 or not found:
        raise RuntimeError("native run failed for multiprocTCPBase %s:\n%s" % (side, res.stderr[-2000:]))
    return float(found.group(1))


def measure_tcp(asks: int = 40, jobs: int = 2) -> Dict[str, Tuple[float, float, float]]:
    """{side: (instructions per message, off / side, minor faults per message)} on multiprocTCPBase."""
    workdir = tempfile.mkdtemp(prefix="thespian-trace-callgrind-")
    try:
        runs = [(side, n) for side in TCP_SIDES for n in (TCP_BASE_ASKS, TCP_BASE_ASKS + asks)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            counts = dict(zip(runs, pool.map(lambda r: _tcp_instructions(r[0], r[1], workdir), runs)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    faults = {side: _tcp_faults(side, 100) for side in TCP_SIDES}
    per = {side: (counts[(side, TCP_BASE_ASKS + asks)] - counts[(side, TCP_BASE_ASKS)]) / (asks * EXCHANGE)
           for side in TCP_SIDES}
    return {side: (v, per["off"] / v, faults[side]) for side, v in per.items()}


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
    ap.add_argument("--asks", type=int, default=200,
                    help="asks counted per simpleSystemBase side (default 200; 0 skips that table)")
    ap.add_argument("--tcp-asks", type=int, default=40,
                    help="asks counted per multiprocTCPBase side (default 40; 0 skips that table)")
    ap.add_argument("--jobs", type=int, default=2, help="callgrind runs at once (default 2)")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    if args.asks:
        print("| simpleSystemBase ping-pong side | instructions per message | bare / side |")
        print("|---|---|---|")
        for side, (per_msg, ratio) in measure(args.asks, args.jobs).items():
            print("| %s | %s | %.3f |" % (side, "{:,.0f}".format(per_msg), ratio))
        print()
    if args.tcp_asks:
        print("| multiprocTCPBase metrics side | instructions per message (all processes) | off / side "
              "| minor faults per message |")
        print("|---|---|---|---|")
        for side, (per_msg, ratio, faults) in measure_tcp(args.tcp_asks, args.jobs).items():
            print("| %s | %s | %.3f | %.2f |" % (side, "{:,.0f}".format(per_msg), ratio, faults))
    return 0


if __name__ == "__main__":
    sys.exit(main())
