"""Smoke run of every benchmark case (tiny sizes, 2 rounds, all three bases): the harness works and
produces rows with numeric ratios, and the harness is fair (each side's export work is finished inside
its own run; both sides warmed up). It checks nothing about speed.

The run itself happens in a subprocess (``benchmarks/run_all.py --smoke``, the command ``make bench``
runs, with smoke sizes) so the SDK pipeline it installs never leaks into the rest of the test session.
"""
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # "benchmarks.*" must import here and in forked actor processes

from benchmarks import common, exporter_down, run_all  # noqa: E402
from benchmarks import bench_runtime  # noqa: E402 (no SDK set-up at import)

RUNTIME_GROUPS = ("ping-pong", "fanout", "bytes on the wire", "sieve vs full W3C extract",
                  "sampled hop vs raw OpenTelemetry")


def _numeric(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-smoke")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run_all.py"), "--smoke",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "bench.json") as f:
        data = json.load(f)
    data["out"] = out
    return data


@pytest.fixture(scope="module")
def runtime_rows(smoke_run):
    return [r for r in smoke_run["rows"] if r["group"] in RUNTIME_GROUPS]


def test_every_runtime_case_produces_numeric_rows(runtime_rows):
    groups = {r["group"] for r in runtime_rows}
    assert set(RUNTIME_GROUPS) <= groups
    for r in runtime_rows:
        assert _numeric(r["ratio"]), r
        assert _numeric(r["bare"]) and _numeric(r["traced"]), r
        assert r["status"] in ("PASS", "MISS", "-"), r
        if r["group"] != "bytes on the wire":
            assert r["rounds"] == bench_runtime.SMOKE["rounds"], r
            lo, med, hi = r["spread"]
            assert lo <= med <= hi, r


def test_pingpong_covers_every_base_and_mode(runtime_rows):
    cases = {r["case"] for r in runtime_rows if r["group"] == "ping-pong"}
    for base in common.BASES:
        for label, _, _, _ in bench_runtime.PINGPONG_CONFIGS:
            assert "%s, %s" % (base, label) in cases
    fan = [r["case"] for r in runtime_rows if r["group"] == "fanout"]
    assert any(c.startswith("simpleSystemBase") for c in fan)
    assert any(c.startswith("multiprocTCPBase") for c in fan)
    assert any("root sampled" in c for c in fan) and any("root unsampled" in c for c in fan)


def test_unsampled_send_adds_no_bytes(runtime_rows):
    for r in runtime_rows:
        if r["group"] == "bytes on the wire" and r["case"].endswith("unsampled send"):
            assert r["ratio"] == 0 and r["status"] == "PASS", r


def test_targets_are_checked():
    assert common.check_target(0.96, ">= 0.95") == "PASS"
    assert common.check_target(0.94, ">= 0.95") == "MISS"
    assert common.check_target(0.4, "ratio <= 0.5") == "PASS"
    assert common.check_target(1.0, None) == "-"
    stats = common.interleave(lambda: 2.0, lambda: 1.0, 3, common.THROUGHPUT, warmup=0)
    assert stats["ratio"] == 0.5 and stats["spread"] == [0.5, 0.5, 0.5] and stats["rounds"] == 3


def test_interleave_headline_is_the_ratio_of_medians():
    bare, traced = iter([1.0, 2.0, 4.0]), iter([4.0, 1.0, 2.0])  # bare, traced order alternates
    order = []
    stats = common.interleave(lambda: order.append("b") or next(bare),
                              lambda: order.append("t") or next(traced), 3, common.TIME, warmup=0)
    assert order == ["b", "t", "t", "b", "b", "t"]
    # per round: bare 1, 2, 4 and traced 4, 1, 2 -> ratios 4, 0.5, 0.5 (median 0.5); medians 2 and 2.
    assert stats["ratio"] == 1.0 and stats["spread"] == [0.5, 0.5, 4.0]


def test_interleave_alternates_order_and_settles_after_every_run():
    calls = []
    common.interleave(lambda: calls.append("b") or 1.0, lambda: calls.append("t") or 1.0, 4,
                      common.TIME, warmup=1, settle=lambda: calls.append("s"))
    assert calls == ["b", "s", "t", "s"] + ["b", "s", "t", "s", "t", "s", "b", "s"] * 2


_TO_COMPLETION = textwrap.dedent("""
    import sys
    sys.path.insert(0, %r)
    from benchmarks import bench_runtime as br, common
    from benchmarks.bench_actors import TracedPinger
    sdk = br.setup_sdk()
    br._tracing(True, "on", "on")
    asys = common.start_system("simpleSystemBase")
    try:
        pinger = br._make_pinger(asys, TracedPinger)
        sdk["processor"].force_flush(10000)
        before = sdk["exporter"].spans
        br._pingpong_run(asys, pinger, 10, 4, True)   # 10 asks: far fewer spans than one export batch
        at_return = sdk["exporter"].spans
        sdk["processor"].force_flush(10000)
        print("SPANS", before, at_return, sdk["exporter"].spans)
    finally:
        common.shutdown(asys)
""") % ROOT


def test_a_traced_run_exports_its_spans_before_it_returns():
    """Fairness: a traced in-process run is timed to its own completion, so none of its export work is
    left for the next (bare) run's clock."""
    proc = subprocess.run([sys.executable, "-c", _TO_COMPLETION], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("SPANS ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    before, at_return, after_flush = map(int, lines[-1].split()[1:])
    assert at_return - before >= 10 * 5, (before, at_return)  # each ask: its root + 4 hops' spans
    assert after_flush == at_return, "spans of the run were still pending when it returned"


def test_codemod_benchmark_warms_up_both_sides(monkeypatch):
    """Each case runs one untimed NOOP and one codemod before its timed rounds (not only the codemod)."""
    from benchmarks import bench_codemod

    calls = []
    monkeypatch.setattr(bench_codemod, "_noop", lambda root, jobs: calls.append("noop") or 1.0)
    monkeypatch.setattr(bench_codemod, "_codemod",
                        lambda root, jobs, expect: calls.append("codemod") or 1.0)
    rows = bench_codemod.run(smoke=True)
    rounds = len(rows[0]["rounds"])
    assert [r["case"].split()[0] for r in rows] == ["codemod", "rerun"]
    # two migrations that prepare the rerun corpora (measured and warm-up), then per case: the
    # warm-up of both sides, then the rounds
    assert calls[:2] == ["codemod", "codemod"] and len(calls) == 2 + 2 * 2 * (rounds + 1), calls
    for case in range(2):
        start = 2 + case * 2 * (rounds + 1)
        assert sorted(calls[start:start + 2]) == ["codemod", "noop"], calls


def test_missing_external_module_is_reported(monkeypatch):
    monkeypatch.setitem(run_all.EXTERNAL, "codemod",
                        ("benchmarks.bench_does_not_exist", "codemod vs LibCST NOOP", "<= 3", ()))
    rows, note = run_all.run_external("codemod", smoke=True)
    assert note and note.startswith("MISSING")
    assert rows[0]["case"].startswith("MISSING")


def test_run_all_writes_markdown_json_and_profiles(smoke_run):
    out = smoke_run["out"]
    md = (out / "bench.md").read_text()
    assert "Thespian" in md and "| case |" in md and "PASS" in md
    assert smoke_run["machine"]["cores"] and smoke_run["machine"]["thespian"]
    profiles = (out / "profiles.txt").read_text()
    assert "unsampled simple ping-pong" in profiles and "sampled hop" in profiles


@pytest.mark.parametrize("group", ["codemod", "check"])
def test_external_benchmarks_smoke(smoke_run, group):
    """The codemod/check benchmarks run through the harness and give numeric rows."""
    table_group = run_all.EXTERNAL[group][1]
    rows = [r for r in smoke_run["rows"] if r["group"] == table_group]
    assert rows and not smoke_run["missing"], smoke_run["missing"]
    assert all(_numeric(r["ratio"]) and r["status"] in ("PASS", "MISS") for r in rows), rows


def test_exporter_down_rows_parse_and_carry_the_tight_target(smoke_run):
    """The exporter-down benchmark (group ``exporter``) gives one row per base and down-kind, with a
    numeric ratio of medians checked against the documented 5 % (>= 0.95)."""
    rows = [r for r in smoke_run["rows"] if r["group"] == "exporter down"]
    cases = sorted(r["case"] for r in rows)
    assert cases == sorted("%s, exporter %s" % (base, kind) for base in ("simpleSystemBase",
                           "multiprocTCPBase") for kind in ("refused", "hang")), cases
    for r in rows:
        assert r["kind"] == common.THROUGHPUT and r["target"] == exporter_down.TARGET == ">= 0.95", r
        assert _numeric(r["ratio"]) and _numeric(r["bare"]) and _numeric(r["traced"]), r
        assert r["status"] == common.check_target(r["ratio"], ">= 0.95"), r
        assert r["rounds"] == exporter_down.SMOKE_SIZES["simpleSystemBase"]["rounds"], r
        lo, med, hi = r["spread"]
        assert lo <= med <= hi, r
    md = (smoke_run["out"] / "bench.md").read_text()
    assert "### exporter down" in md and "≥ 0.95" in md
