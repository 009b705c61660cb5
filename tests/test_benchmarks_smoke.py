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


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"])
def test_fanout_rows_settle_the_traced_system_between_runs_on_multiprocess_bases(monkeypatch, base):
    """Fairness (issue 13 item 7): a multi-process fanout run leaves spans in its recipients' processes,
    so the fanout rows flush the traced system between runs, untimed; in-process runs are timed to
    their own completion instead (no settle)."""
    settles, flushed = [], []
    monkeypatch.setattr(bench_runtime, "_fanout_run", lambda asys, fanner, n, repeats, traced: 1.0)
    monkeypatch.setattr(bench_runtime, "_flush_all", lambda asys, actor: flushed.append((asys, actor)))
    monkeypatch.setattr(bench_runtime, "_tracing", lambda *a, **k: None)
    monkeypatch.setattr(bench_runtime, "_restore", lambda: None)

    def interleave(bare, traced, rounds, kind, settle=None):
        settles.append(settle)
        if settle is not None:
            settle()
        return {"bare": 1.0, "traced": 1.0, "ratio": 1.0, "spread": [1.0, 1.0, 1.0], "rounds": rounds}

    monkeypatch.setattr(bench_runtime, "interleave", interleave)
    rows = bench_runtime._fanout_rows(base, 3, "bare system", "bare fanner", "traced system",
                                      "traced fanner", bench_runtime.SMOKE)
    assert len(rows) == 2 and len(settles) == 2
    if base == "simpleSystemBase":
        assert settles == [None, None] and flushed == []
    else:
        assert None not in settles and set(flushed) == {("traced system", "traced fanner")}


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


# --------------------------------------------------------------------------------------------------
# issue 11: its table as rows, the metrics group, the doc refill, the seed's scale


def test_issue_11_cases_are_rows_with_their_goals(smoke_run):
    """Every case of issue 11's table is a row of the run (smoke sizes) carrying the issue's goal."""
    from benchmarks import refill_doc

    rows = smoke_run["rows"]
    for label, group, case, before, goal in refill_doc.ISSUE_11:
        if case.startswith("multiproc") or "10,000" in case:
            continue  # checked below (the smoke run fans out to 5 and 20 recipients only)
        r = refill_doc._find(rows, group, case)
        assert r is not None, (label, case)
        assert r["target"] == goal and _numeric(r["ratio"]), r
    for base in ("multiprocQueueBase", "multiprocTCPBase"):
        for label in ("off", "receive", "on, roots unsampled"):
            r = refill_doc._find(rows, "ping-pong", "%s, %s" % (base, label))
            assert r is not None and r["target"] == ">= 0.99", (base, label, r)
    assert bench_runtime._fanout_target(10000, "off") == "<= 1.05"
    assert bench_runtime._fanout_target(10000, "on") == "<= 1.10"
    extract = refill_doc._find(rows, "sieve vs full W3C extract", bench_runtime.EXTRACT_CASE)
    assert extract["kind"] == common.TIME and extract["target"] == "<= 1.15"


def test_metrics_group_skipped_with_a_note_when_its_file_is_absent(smoke_run):
    rows, note, failure = run_all.run_metrics(True, None, ["simpleSystemBase"], print,
                                              module_name="benchmarks.bench_metrics_absent")
    assert rows == [] and failure is None and "does not exist" in note
    if not os.path.exists(os.path.join(ROOT, "benchmarks", "bench_metrics.py")):
        assert any("metrics group skipped" in n for n in smoke_run["notes"]), smoke_run["notes"]
        assert "metrics group skipped" in (smoke_run["out"] / "bench.md").read_text()


def test_metrics_group_runs_the_module_with_the_harness_arguments(tmp_path, monkeypatch):
    (tmp_path / "fake_bench_metrics.py").write_text(textwrap.dedent("""
        from benchmarks import common
        CALLS = []
        def run(smoke, rounds, bases, log):
            CALLS.append((smoke, rounds, bases))
            log("metrics running")
            return [common.row("actor metrics", "case", "bare", "metrics", "msg/s", common.THROUGHPUT,
                               {"bare": 2.0, "traced": 1.9, "ratio": 0.95, "rounds": rounds,
                                "spread": [0.9, 0.95, 1.0]}, ">= 0.95")]
        """))
    (tmp_path / "broken_bench_metrics.py").write_text("def run(**kw):\n    raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    logged = []
    rows, note, failure = run_all.run_metrics(True, 3, ["simpleSystemBase"], logged.append,
                                              module_name="fake_bench_metrics")
    import fake_bench_metrics
    assert fake_bench_metrics.CALLS == [(True, 3, ["simpleSystemBase"])] and logged == ["metrics running"]
    assert note is None and failure is None and [r["status"] for r in rows] == ["PASS"]
    rows, note, failure = run_all.run_metrics(True, None, [], print, module_name="broken_bench_metrics")
    assert failure and "boom" in failure and rows[0]["case"].startswith("ERROR")


def test_refill_doc_writes_the_issue_11_table_from_a_run(smoke_run, tmp_path):
    from benchmarks import refill_doc

    doc = tmp_path / "performance.md"
    original = open(os.path.join(ROOT, "docs", "performance.md")).read()
    doc.write_text(original)
    subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "refill_doc.py"), "--results",
                    str(smoke_run["out"]), "--doc", str(doc)], check=True, cwd=ROOT, timeout=60)
    text = doc.read_text()
    head, rest = original.split(refill_doc.BEGIN)
    assert text.startswith(head) and text.endswith(rest.split(refill_doc.END)[1])  # the rest is kept
    section = text.split(refill_doc.BEGIN)[1].split(refill_doc.END)[0]
    for label, group, case, before, goal in refill_doc.ISSUE_11:
        line = [ln for ln in section.splitlines() if ln.startswith("| %s |" % label)]
        assert len(line) == 1, label
        assert line[0].split(" | ")[1] == before and line[0].rstrip(" |").split("| ")[-1] in (
            "PASS", "MISS"), line
    long_row = [ln for ln in section.splitlines() if ln.startswith("| long ping-pong")][0]
    assert "not run" not in long_row, long_row
    assert smoke_run["machine"]["commit"] in section and "#### ping-pong" in section
    again = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "refill_doc.py"), "--results",
                            str(smoke_run["out"]), "--doc", str(doc), "--check"], cwd=ROOT, timeout=60)
    assert again.returncode == 0, "a refill is not idempotent"


def test_bench_scale_smoke(tmp_path):
    """The seed's-scale benchmark at a tiny size: three variants, memory per actor, spans exported."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_scale.py"), "--n", "300",
                           "--runs", "1", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with open(tmp_path / "scale.json") as f:
        scale = json.load(f)
    v = scale["variants"]
    assert set(v) == {"bare", "unsampled", "sampled"} and scale["n"] == 300
    assert v["bare"]["spans"] == [0] and v["unsampled"]["spans"] == [0]
    # p(300) = 0.1 * (300/100)^-1 ... about 4 % of 300: a handful of recipient spans, never all of them
    assert 0 < v["sampled"]["span_names"].get("process TracedRecipient", 0) < 300, v["sampled"]
    for name in ("unsampled", "sampled"):
        assert _numeric(scale[name]["time_ratio"]) and _numeric(scale[name]["memory_ratio"])


def test_count_instructions_turns_two_runs_per_side_into_a_per_message_figure(monkeypatch):
    """``make bench-instructions`` (benchmarks/count_instructions.py): each side runs with 20 and 20 + N
    asks; the difference over N x 20 messages is its per-message count (start-up cancels out), and the
    ratio is bare / side. The callgrind runs themselves take a minute, so they are faked here."""
    from benchmarks import count_instructions as ci

    base = {"bare": 50_000, "off": 48_000, "receive": 47_500, "on, roots unsampled": 51_000}
    monkeypatch.setattr(ci, "_instructions",
                        lambda side, asks, workdir: 900_000_000 + asks * ci.EXCHANGE * base[side])
    got = ci.measure(asks=10, jobs=2)
    assert set(got) == set(ci.SIDES)
    for side, (per_msg, ratio) in got.items():
        assert per_msg == pytest.approx(base[side])
        assert ratio == pytest.approx(base["bare"] / base[side])


def test_count_instructions_tcp_table_sums_every_process_and_compares_with_metrics_off(monkeypatch):
    """The multiprocTCPBase table of ``make bench-instructions``: per side, the instructions of every
    process of the system at 5 and 5 + M asks; the difference over M x 20 messages, the ratio metrics
    off / side, and the side's minor faults per message from a native run (callgrind runs faked)."""
    from benchmarks import count_instructions as ci

    per_msg = {"bare": 1_950_000, "off": 2_000_000, "counters": 2_010_000}
    monkeypatch.setattr(ci, "_tcp_instructions",
                        lambda side, asks, workdir: 5_600_000_000 + asks * ci.EXCHANGE * per_msg[side])
    monkeypatch.setattr(ci, "_tcp_faults", lambda side, asks: {"counters": 5.0}.get(side, 0.4))
    got = ci.measure_tcp(asks=8, jobs=2)
    assert list(got) == list(ci.TCP_SIDES)
    for side, (instructions, ratio, faults) in got.items():
        assert instructions == pytest.approx(per_msg[side])
        assert ratio == pytest.approx(per_msg["off"] / per_msg[side])
    assert got["counters"][2] == 5.0 and got["off"][2] == 0.4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_count_instructions_tcp_side_runs_natively_and_reports_faults():
    """The side script itself, without callgrind: a real multiprocTCPBase ping-pong that reports its
    minor faults per message and leaves no actor process behind."""
    from benchmarks import count_instructions as ci

    faults = ci._tcp_faults("counters", 3)
    assert 0 <= faults < 50
