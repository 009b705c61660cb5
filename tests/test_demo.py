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


def test_demo_on_tcp_base_crosses_processes():
    res = _demo("--base", "multiprocTCPBase", "--sessions", "6", "--messages", "2", "--ratio", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fanout Deliver [producer] N=6" in res.stdout
    assert _table(res.stdout)["traces captured"].startswith("2 ")


def test_demo_rejects_bad_flags():
    res = _demo("--ratio", "2")
    assert res.returncode == 2
    assert "--ratio" in res.stderr
