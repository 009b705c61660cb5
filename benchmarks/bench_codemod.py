"""Benchmark: thespian-trace codemod vs LibCST's NOOPCommand over the same generated corpus.

    python benchmarks/bench_codemod.py [--smoke] [--rounds N] [--jobs N]

Cases (each round interleaves baseline and subject, alternating which goes first):
  * ``codemod``: the whole-corpus codemod (in-process ``run_codemod``, same ``--jobs``) on a fresh copy of
    the untraced corpus, vs ``parallel_exec_transform_with_prettyprint(NOOPCommand)`` on a fresh copy.
    Target: ratio <= 3.
  * ``rerun``: the codemod on an already-migrated corpus (nothing to change) vs NOOP on that corpus.
    Target: ratio <= 1.
Copying the corpus is not timed (each round's copies are fresh, so both sides read files just
written). Before the rounds of each case, one untimed run of each side on a small corpus of the same
kind warms the code of both alike (imports, LibCST's parser, the worker pools); the rounds then time
both warm. (Before, only the codemod had run, so round 0 timed NOOP cold.) Each row: case,
baseline_name, baseline_s, subject_s (medians), ratio (median subject / median baseline) and rounds
(per-round ratios).

Corpus: FILES files / LINES lines (80 / 16,000): NOOP still runs for seconds with two jobs here, far
above the pool start-up both sides pay, at 40 % of the former 200-file corpus's share of ``make bench``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from gen_corpus import generate  # noqa: E402

from codemod.analysis import iter_python_files  # noqa: E402
from codemod.cli import run_codemod  # noqa: E402


def _noop(root: str, jobs: int) -> float:
    from libcst.codemod import CodemodContext, parallel_exec_transform_with_prettyprint
    from libcst.codemod.commands.noop import NOOPCommand

    files = iter_python_files([root])
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        res = parallel_exec_transform_with_prettyprint(NOOPCommand(CodemodContext()), files, jobs=jobs,
                                                       hide_progress=True, repo_root=root)
    dt = time.perf_counter() - t0
    assert res.failures == 0
    return dt


def _codemod(root: str, jobs: int, expect_changes: bool) -> float:
    t0 = time.perf_counter()
    code, summary = run_codemod([root], jobs=jobs, out=io.StringIO(), err=io.StringIO(), progress=False)
    dt = time.perf_counter() - t0
    assert code == 0 and summary.failed == 0
    assert (summary.changed > 0) == expect_changes, summary
    return dt


FILES, LINES = 80, 16000
WARM_FILES, WARM_LINES = 8, 1600


def run(smoke: bool = False, rounds: int = 3, jobs: int = 0) -> List[Dict[str, object]]:
    """Run both cases; return one row per case (see module docstring)."""
    jobs = jobs or (os.cpu_count() or 1)
    files, lines = (12, 1200) if smoke else (FILES, LINES)
    if smoke:
        rounds = 1
    tmp = tempfile.mkdtemp(prefix="bench_codemod_")
    try:
        pristine = os.path.join(tmp, "pristine")
        generate(pristine, files=files, lines=lines, seed=0)
        migrated = os.path.join(tmp, "migrated")
        shutil.copytree(pristine, migrated)
        _codemod(migrated, jobs, True)
        warm = {}  # a small corpus of each kind, for the warm-ups
        warm["codemod"] = os.path.join(tmp, "warm-pristine")
        generate(warm["codemod"], files=WARM_FILES, lines=WARM_LINES, seed=1)
        warm["rerun"] = os.path.join(tmp, "warm-migrated")
        shutil.copytree(warm["codemod"], warm["rerun"])
        _codemod(warm["rerun"], jobs, True)
        rows = []
        for case, src, expect in (("codemod", pristine, True), ("rerun", migrated, False)):
            warm_a, warm_b = os.path.join(tmp, "warm-a"), os.path.join(tmp, "warm-b")
            shutil.copytree(warm[case], warm_a)
            shutil.copytree(warm[case], warm_b)
            _noop(warm_a, jobs)                # warm-up, untimed: both sides, like every round
            _codemod(warm_b, jobs, expect)
            shutil.rmtree(warm_a)
            shutil.rmtree(warm_b)
            base_t: List[float] = []
            subj_t: List[float] = []
            for r in range(rounds):
                a = os.path.join(tmp, "a%d" % r)
                b = os.path.join(tmp, "b%d" % r)
                shutil.copytree(src, a)
                shutil.copytree(src, b)
                if r % 2 == 0:
                    base_t.append(_noop(a, jobs))
                    subj_t.append(_codemod(b, jobs, expect))
                else:
                    subj_t.append(_codemod(b, jobs, expect))
                    base_t.append(_noop(a, jobs))
                shutil.rmtree(a)
                shutil.rmtree(b)
            bm, sm = statistics.median(base_t), statistics.median(subj_t)
            rows.append({
                "case": case + (" (smoke)" if smoke else ""),
                "baseline_name": "libcst NOOPCommand (parallel_exec, jobs=%d)" % jobs,
                "baseline_s": round(bm, 4),
                "subject_s": round(sm, 4),
                "ratio": round(sm / bm, 3) if bm else float("inf"),
                "rounds": [round(s / b, 3) for s, b in zip(subj_t, base_t)],
                "target": "<= 3" if case == "codemod" else "<= 1",
                "files": files,
                "jobs": jobs,
            })
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    """Print the rows."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=0)
    a = p.parse_args(argv)
    for row in run(smoke=a.smoke, rounds=a.rounds, jobs=a.jobs):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
