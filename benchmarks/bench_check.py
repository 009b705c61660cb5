"""Benchmark: the whole ``thespian-trace migration-check`` vs LibCST's ``noop.NOOPCommand``.

Both sides run over the same generated corpus (``benchmarks/gen_corpus.py``: 80 files, ~16,000 lines;
NOOP still runs for seconds, at 40 % of the former 200-file corpus's share of ``make bench``),
with the same job count (1: the check is single-process; NOOP runs through LibCST's own
``parallel_exec_transform_with_prettyprint`` with ``jobs=1``, i.e. what ``python -m libcst.tool codemod
-j 1 noop.NOOPCommand`` does). The check side is the full CLI path: file discovery (with .gitignore),
analysis, findings, baseline comparison against a baseline written beforehand, text report to a file.
One untimed run of each side warms both; then rounds are interleaved with alternating order. The ratio
is median subject / median baseline (wall clock; target <= 0.5); per-round ratios give the spread.

    python benchmarks/bench_check.py [--smoke]
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from gen_corpus import generate  # noqa: E402  (the codemod issue's corpus generator)

TARGET = 0.5
FILES, LINES = 80, 16000


def _corpus_files(root: str) -> List[str]:
    out = []
    for d, _dirs, files in os.walk(root):
        out.extend(os.path.join(d, f) for f in files if f.endswith(".py"))
    return sorted(out)


Timing = Tuple[float, float]  # (wall seconds, CPU seconds of this process)


def _noop(files: List[str], jobs: int) -> Callable[[], Timing]:
    from libcst.codemod import CodemodContext, parallel_exec_transform_with_prettyprint
    from libcst.codemod.commands.noop import NOOPCommand

    def run() -> Timing:
        t0, c0 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stderr(io.StringIO()):
            res = parallel_exec_transform_with_prettyprint(
                NOOPCommand(CodemodContext()), files, jobs=jobs, hide_progress=True,
                hide_generated=True, hide_blacklisted=True)
        dt, ct = time.perf_counter() - t0, time.process_time() - c0
        if res.failures:
            raise RuntimeError(f"NOOP failed on {res.failures} files")
        return dt, ct

    return run


def _check(corpus: str, baseline: str, report: str) -> Callable[[], Timing]:
    from codemod import check

    def run() -> Timing:
        t0, c0 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = check.main([corpus, "--baseline", baseline, "-o", report])
        dt, ct = time.perf_counter() - t0, time.process_time() - c0
        if code != 0:
            raise RuntimeError(f"migration-check exited {code} on an unchanged corpus with its baseline")
        return dt, ct

    return run


def _interleave(baseline: Callable[[], Timing], subject: Callable[[], Timing], rounds: int) -> Dict:
    """``rounds`` interleaved rounds (order alternates); medians and per-round wall-clock ratios.

    Both sides run in this process (jobs=1), so CPU time is reported too: on a loaded machine it is the
    steadier figure.
    """
    baseline()  # warm-up: imports, file cache
    subject()
    b_vals: List[Timing] = []
    s_vals: List[Timing] = []
    for i in range(rounds):
        if i % 2 == 0:
            b = baseline()
            s = subject()
        else:
            s = subject()
            b = baseline()
        b_vals.append(b)
        s_vals.append(s)
    ratios = [s[0] / b[0] for b, s in zip(b_vals, s_vals)]
    cpu_ratios = [s[1] / b[1] if b[1] else float("inf") for b, s in zip(b_vals, s_vals)]
    baseline_s = statistics.median(b[0] for b in b_vals)
    subject_s = statistics.median(s[0] for s in s_vals)
    baseline_cpu_s = statistics.median(b[1] for b in b_vals)
    subject_cpu_s = statistics.median(s[1] for s in s_vals)
    return {
        "baseline_s": baseline_s,
        "subject_s": subject_s,
        "ratio": subject_s / baseline_s,
        "rounds": [round(r, 4) for r in ratios],
        "baseline_cpu_s": baseline_cpu_s,
        "subject_cpu_s": subject_cpu_s,
        "cpu_ratio": subject_cpu_s / baseline_cpu_s if baseline_cpu_s else float("inf"),
        "cpu_rounds": [round(r, 4) for r in cpu_ratios],
    }


def run(smoke: bool = False) -> List[Dict]:
    """Run the benchmark; return rows with case, baseline_name, baseline_s, subject_s, ratio, rounds."""
    files, lines, rounds = (10, 800, 5) if smoke else (FILES, LINES, 3)  # 3: the make bench budget
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        counts = generate(tmp, files=files, lines=lines, seed=0)
        corpus = os.path.join(tmp, "corpus")
        baseline = os.path.join(tmp, "baseline.txt")
        report = os.path.join(tmp, "report.txt")
        from codemod import check

        with contextlib.redirect_stdout(io.StringIO()):
            code = check.main([corpus, "--baseline", baseline, "--update-baseline", "-o", report])
        if code != 0:
            raise RuntimeError(f"could not create the baseline (exit {code})")
        with open(baseline, encoding="utf-8") as fh:
            n_entries = sum(1 for ln in fh if ln.strip() and not ln.startswith("#"))
        py_files = _corpus_files(corpus)
        row = _interleave(_noop(py_files, jobs=1), _check(corpus, baseline, report), rounds)
        row.update({
            "case": f"migration-check, {counts['files']} files / {counts['lines']} lines, "
                    f"{n_entries} baselined findings, jobs=1",
            "baseline_name": "libcst noop.NOOPCommand (jobs=1)",
            "target": f"ratio <= {TARGET}",
            "ok": row["ratio"] <= TARGET,
        })
        rows.append(row)
    return rows


def _print(rows: List[Dict]) -> None:
    for r in rows:
        print(f"{r['case']}\n  {r['baseline_name']}: {r['baseline_s'] * 1000:.1f} ms   "
              f"migration-check: {r['subject_s'] * 1000:.1f} ms   ratio {r['ratio']:.3f} "
              f"({r['target']}: {'ok' if r['ok'] else 'MISSED'})\n  per-round ratios: {r['rounds']}\n"
              f"  CPU: {r['baseline_cpu_s'] * 1000:.1f} ms vs {r['subject_cpu_s'] * 1000:.1f} ms, "
              f"ratio {r['cpu_ratio']:.3f}")


if __name__ == "__main__":
    _print(run(smoke="--smoke" in sys.argv[1:]))
