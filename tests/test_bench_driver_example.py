"""The benchmark-driver example end to end (issue 16): run it as a user would, then check its spans.

One connected trace per race; every HTTP client span under the handler that made it (inside that
handler's run); no span parented to a handler that was not running; the monitoring client's untraced
requests in no race's trace. The checks are written here independently of the example's own.
"""
import json
import os
import subprocess
import sys

import pytest

from thespian_trace.testing import SpanRecord, assert_single_trace, spans_named

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "bench_driver.py")
RACES, WORKERS, ROUNDS = 2, 3, 3


def _run(base, tmp_path):
    out = tmp_path / "spans.json"
    env = dict(os.environ)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    res = subprocess.run([sys.executable, EXAMPLE, "--base", base, "--races", str(RACES), "--workers",
                          str(WORKERS), "--rounds", str(ROUNDS), "--json", str(out)],
                         capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert res.returncode in (0, 1) and out.exists(), res.stdout + res.stderr
    records = [SpanRecord(**{k: (tuple(v) if k in ("events", "links") else v) for k, v in rec.items()})
               for rec in json.loads(out.read_text())]
    return res, records


def _url(rec):
    return str(rec.attributes.get("url.full") or rec.attributes.get("http.url") or "")


@pytest.mark.parametrize("base", ["multiprocTCPBase", "simpleSystemBase"])
def test_bench_driver_makes_one_connected_trace_per_race(base, tmp_path):
    res, spans = _run(base, tmp_path)
    by_id = {r.span_id: r for r in spans}

    roots = spans_named(spans, "ask RunRace")
    assert len(roots) == RACES
    for root in roots:
        mine = [r for r in spans if r.trace_id == root.trace_id]
        assert_single_trace(mine)
        names = [r.name for r in mine]
        assert names.count("process Driver") == 1 + WORKERS          # RunRace, then each LoadDone
        assert names.count("process LoadWorker") == WORKERS * (1 + ROUNDS)   # StartLoad + ticks
        gets = [r for r in mine if r.kind == "CLIENT"]
        assert len([r for r in gets if "/item/" in _url(r)]) == WORKERS * ROUNDS
        assert len([r for r in gets if "/verify/" in _url(r)]) == WORKERS
        assert len(mine) == 2 + WORKERS * (3 + 2 * ROUNDS)
        # The workers were created inside the driver's RunRace handler: their work is in this trace.
        (run_race,) = [r for r in mine if r.name == "process Driver"
                       and r.attributes.get("messaging.thespian.message.type") == "RunRace"]
        assert run_race.parent_span_id == root.span_id

    for rec in spans:
        if rec.kind != "CLIENT":
            continue
        parent = by_id.get(rec.parent_span_id or "")
        if "/stats" in _url(rec):
            # The monitoring client's plain ask: a trace of its own, never a race's.
            assert rec.parent_span_id is None and rec.trace_id not in {r.trace_id for r in roots}
            continue
        # Under the handler that made it, and inside that handler's run.
        assert parent is not None and parent.kind == "CONSUMER", (rec.name, _url(rec))
        assert parent.start_ns <= rec.start_ns and rec.end_ns <= parent.end_ns
        if "/item/" in _url(rec):
            assert parent.name == "process LoadWorker"
            assert parent.attributes.get("messaging.thespian.delivery") == "wakeup"
        else:
            assert parent.name == "process Driver"
            assert parent.attributes.get("messaging.thespian.message.type") == "LoadDone"

    # No span parented to a handler that was not running: a message's span starts after the handler
    # that sent it started; synchronous work ends inside it.
    for rec in spans:
        parent = by_id.get(rec.parent_span_id or "")
        if parent is not None:
            assert parent.start_ns <= rec.start_ns, (rec.name, parent.name)
            if rec.kind in ("CLIENT", "INTERNAL"):
                assert rec.end_ns <= parent.end_ns, (rec.name, parent.name)
    assert len(spans) == RACES * (2 + WORKERS * (3 + 2 * ROUNDS)) + RACES * WORKERS
    assert res.returncode == 0 and "%d race traces: OK" % RACES in res.stdout, res.stdout + res.stderr


def test_bench_driver_rejects_bad_flags():
    res = subprocess.run([sys.executable, EXAMPLE, "--workers", "0"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert res.returncode == 2 and "--workers" in res.stderr
