"""`make demo` and its flags, in reduced sizes: exit code, waterfall shape, counts."""
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "examples", "guild_demo.py")


def _demo(*args, timeout=120):
    env = dict(os.environ)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    return subprocess.run([sys.executable, DEMO, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def _table(out):
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^  (\S.*?)\s{2,}(\S.*)$", line)
        if m and not line.startswith("    "):
            rows[m.group(1).strip()] = m.group(2).strip()
    return rows


def _waterfall_and_log_trace_ids(out):
    """(trace ids of the printed waterfalls, trace ids of the printed log lines), in order."""
    shown = re.findall(r"^trace \d+/\d+  ([0-9a-f]{32})  ", out, re.M)
    logged = re.findall(r"^  trace \d+: trace_id=([0-9a-f]{32}) span_id=[0-9a-f]{16} guild: chat", out, re.M)
    return shown, logged


def _metrics_rows(out):
    """{class: (handled, failed, p50 text, p99 text)} from the actor metrics table."""
    rows = {}
    for m in re.finditer(r"^    (\w+)\s+(\d+)\s+(\d+)\s+([\d.]+ us|-)\s+([\d.]+ us|-)$", out, re.M):
        rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
    return rows


def test_demo_on_simple_base_shows_fanout_waterfall_and_cost_table(tmp_path):
    out_json = tmp_path / "spans.json"
    res = _demo("--sessions", "300", "--messages", "3", "--ratio", "0.5", "--json", str(out_json))
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "POST /chat [server]" in out
    assert re.search(r"fanout Deliver \[producer\] N=300 kept=\d+ p=0\.03", out), out
    assert "process Session [consumer] kept with p=0.03" in out
    rows = _table(out)
    # ceil spread of 0.5 over 3 messages: messages 0 and 2 arrive sampled.
    assert rows["traces captured"].startswith("2 (of 3 chat messages; upstream sampled 2)")
    assert rows["carriers sieved away, no parse"] == "1"
    assert rows["messages handled (by actors)"] == str(300 * 3 * 2 + 3)
    traced, dropped = (int(x) for x in rows["sampled fanouts: recipients traced / dropped"].split(" / "))
    assert traced + dropped == 600 and 0 < traced < 600
    spans = json.loads(out_json.read_text())
    assert len(spans) == int(rows["spans exported"])
    assert len({s["trace_id"] for s in spans}) == 2
    kept_spans = [s for s in spans if s["name"] == "process Session"]
    assert len(kept_spans) == traced
    assert all(s["attributes"]["messaging.thespian.sampling.probability"] == pytest.approx(0.1 * 100 / 300, rel=1e-6)
               for s in kept_spans)
    # Log correlation: the Guild's log line of each shown trace carries that trace's id.
    shown, logged = _waterfall_and_log_trace_ids(out)
    assert len(shown) == 2 and logged == shown, out
    guild_spans = {s["span_id"] for s in spans if s["name"] == "process Guild"}
    for span_id in re.findall(r"^  trace \d+: trace_id=\w+ span_id=(\w+)", out, re.M):
        assert span_id in guild_spans
    # Actor metrics of the measured run: every delivery counted, durations for both classes.
    metrics = _metrics_rows(out)
    assert metrics["Session"][:2] == (300 * 3, 0)
    assert metrics["Guild"][:2] == (300 * 3 + 3, 0)
    for cls in ("Session", "Guild"):
        p50, p99 = (float(v.split()[0]) for v in metrics[cls][2:])
        assert 0 < p50 <= p99


def test_demo_on_tcp_base_crosses_processes():
    res = _demo("--base", "multiprocTCPBase", "--sessions", "6", "--messages", "2", "--ratio", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fanout Deliver [producer] N=6" in res.stdout
    assert _table(res.stdout)["traces captured"].startswith("2 ")
    # The Guild logs in its own process; Thespian's logging process writes the line, ids included.
    shown, logged = _waterfall_and_log_trace_ids(res.stdout)
    assert len(shown) == 2 and logged == shown, res.stdout


def test_demo_rejects_bad_flags():
    res = _demo("--ratio", "2")
    assert res.returncode == 2
    assert "--ratio" in res.stderr
