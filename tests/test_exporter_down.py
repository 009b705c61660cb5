"""Exporter down (issue 7, item 3): tracing never slows, blocks, bloats or loses actor traffic.

Each scenario runs in its own subprocess (this file run as a script) that configures its own SDK
``TracerProvider`` + ``BatchSpanProcessor(OTLPSpanExporter(endpoint=...))`` with short timeouts, starts an
actor system, and measures:

* throughput of traced ``ask`` round trips (best of several batches; 2 spans per ask: the caller's
  ``ask int`` root and the actor's CONSUMER span),
* per-ask latency (a handler blocked on the exporter would show up as an ask >= the exporter timeout),
* that every reply arrives (no message lost),
* memory: ``tracemalloc`` growth in the actor's process (simpleSystemBase: one process) or RSS growth of
  the actor's process (multiprocTCPBase) between two checkpoints, after the span queue filled up,
* how long the SDK shutdown takes at exit (bounded; the subprocess is also bounded by ``timeout=``).

Endpoints: ``up`` (a real OTLP receiver in the pytest process), ``refused`` (a closed loopback port),
``hang`` (a socket server that accepts and never answers). The tests assert a loose throughput bound
(ratio >= LOOSE_RATIO, since a shared CI box is noisy); the tight 5 % figure is measured by running
this file as a script: ``.venv/bin/python tests/test_exporter_down.py --bench`` (see
the README, "Failure modes").
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXPORTER_TIMEOUT_S = 1.0        # OTLPSpanExporter per-request timeout inside the scenarios
MAX_QUEUE = 128                 # BatchSpanProcessor max_queue_size and max_export_batch_size (SDK
                                # defaults 2048/512; smaller makes the bound visible in a short test)
# Asserted in the unit test: a guard against gross regressions (a handler that waited on the exporter
# would run at ~1 message per EXPORTER_TIMEOUT_S, a ratio near 0.01). Batch-to-batch noise on a shared
# 2-CPU box is +-30 % and more, so the tight 0.95 is measured by --bench (interleaved, medians).
LOOSE_RATIO = 0.5
SUBPROCESS_TIMEOUT_S = 90


# --------------------------------------------------------------------------------------------------
# Scenario (runs in the subprocess)


def _rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _scenario(cfg):
    t_begin = time.perf_counter()
    sys.path.insert(0, HERE)
    import tracemalloc

    import requests
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    session = requests.Session()
    session.headers["Connection"] = "close"   # never share a pooled socket with forked actors
    provider = TracerProvider()
    processor = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=cfg["endpoint"], timeout=EXPORTER_TIMEOUT_S, session=session),
        max_queue_size=cfg["queue"], max_export_batch_size=cfg["queue"], schedule_delay_millis=100,
        export_timeout_millis=1000)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)

    from thespian.actors import ActorSystem
    from thespian_trace import traced_ask, traced_tell

    import reliability_actors as ra
    from conftest import LOG_DEFS, free_port

    base = cfg["base"]
    caps = {"Admin Port": free_port()} if base == "multiprocTCPBase" else {}
    out = {"base": base, "kind": cfg["kind"], "t_import_s": time.perf_counter() - t_begin}
    t0 = time.perf_counter()
    asys = ActorSystem(base, caps, logDefs=LOG_DEFS, transientUnique=True)
    try:
        echo = asys.createActor(ra.Echo)
        echo_pid = asys.ask(echo, "pid", 10)
        out["t_start_s"] = time.perf_counter() - t0
        t_work = time.perf_counter()
        sent = received = 0
        latencies = []

        def pipelined(n):
            """Actor throughput: n traced tells in flight, then every reply collected."""
            nonlocal sent, received
            t0 = time.perf_counter()
            for i in range(n):
                traced_tell(asys, echo, i)
            sent += n
            got = 0
            deadline = time.monotonic() + 60
            while got < n and time.monotonic() < deadline:
                r = asys.listen(5)
                if isinstance(r, int):
                    got += 1
            received += got
            return n / (time.perf_counter() - t0)

        def asks(n):
            nonlocal sent, received
            for i in range(n):
                a = time.perf_counter()
                sent += 1
                if traced_ask(asys, echo, i, 10) == i:
                    received += 1
                latencies.append(time.perf_counter() - a)

        pipelined(cfg["warmup"])
        rates = [pipelined(cfg["batch"]) for _ in range(cfg["batches"])]
        asks(cfg["asks"])   # latency while the exporter is (down and) saturated
        out["rates"] = rates
        out["best_rate"] = max(rates)
        lat = sorted(latencies)
        out["lat_p50_ms"] = 1000 * lat[len(lat) // 2]
        out["lat_p99_ms"] = 1000 * lat[int(len(lat) * 0.99)]
        out["lat_max_ms"] = 1000 * lat[-1]

        # Memory, measured with tracemalloc inside the actor's process (where its spans queue up):
        # phases that each push several times more spans than the processor can hold (queue + one
        # in-flight batch); bounded, the tracked total plateaus instead of growing phase by phase.
        assert asys.ask(echo, "tm-start", 10) is True
        mem = []
        for _ in range(cfg["mem_phases"]):
            pipelined(cfg["mem_msgs"])
            mem.append(asys.ask(echo, "tm", 10))
        asys.ask(echo, "tm-stop", 10)
        out["mem_kind"] = "tracemalloc(actor process)"
        out["mem_checkpoints_bytes"] = mem
        out["mem_growth_bytes"] = mem[-1] - mem[-2]
        out["sent"], out["received"] = sent, received
        out["t_work_s"] = time.perf_counter() - t_work
        out["echo_pid"] = echo_pid
    finally:
        t0 = time.perf_counter()
        asys.shutdown()
        out["asys_shutdown_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    done = threading.Event()

    def _shutdown():
        provider.shutdown()
        done.set()

    threading.Thread(target=_shutdown, daemon=True).start()
    done.wait(15)
    out["sdk_shutdown_s"] = time.perf_counter() - t0
    out["sdk_shutdown_finished"] = done.is_set()
    gone = time.monotonic()
    if base != "simpleSystemBase":   # the actor process ends (it may first flush for up to 2 s)
        while _rss_kb(echo_pid) is not None and time.monotonic() - gone < 10:
            time.sleep(0.05)
        out["echo_alive_after"] = _rss_kb(echo_pid) is not None
        if out["echo_alive_after"]:
            os.kill(echo_pid, 9)   # never leak it; the test fails on echo_alive_after
    else:
        out["echo_alive_after"] = False
    out["echo_exit_s"] = time.monotonic() - gone
    print("RESULT " + json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)  # the SDK already shut down (or was given 15 s); skip atexit re-running it


# --------------------------------------------------------------------------------------------------
# Endpoints (run in the pytest process)


class HangServer:
    """Accepts connections and never answers (nor reads). Closed in teardown."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="HangServer")
        self.thread.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(conn)   # hold it open, say nothing
            self.accepted += 1

    def close(self):
        self._stop.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


def _closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens here now: connections are refused
    return port


def run_scenario(base, kind, endpoint, **sizes):
    cfg = dict(base=base, kind=kind, endpoint=endpoint, **sizes)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, ROOT, os.environ.get("PYTHONPATH", "")]))
    env.pop("OTEL_TRACES_EXPORTER", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--scenario", json.dumps(cfg)],
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, "scenario %s/%s failed (rc=%s):\n%s\n%s" % (base, kind, proc.returncode,
                                                              proc.stdout[-3000:], proc.stderr[-3000:])
    out = json.loads(lines[-1][len("RESULT "):])
    out["wall_s"] = time.monotonic() - t0
    return out


SIZES = {  # mem_msgs: traced messages per memory phase (each makes 1-2 spans in the actor's process)
    "simpleSystemBase": dict(warmup=50, batches=3, batch=250, asks=40, mem_msgs=250, mem_phases=3,
                             queue=MAX_QUEUE),
    "multiprocTCPBase": dict(warmup=20, batches=3, batch=60, asks=20, mem_msgs=80, mem_phases=2,
                             queue=MAX_QUEUE // 2),
}


@pytest.fixture
def endpoints():
    from thespian_trace.testing import OTLPReceiver
    rx = OTLPReceiver().start()
    hang = HangServer()
    try:
        yield {"up": rx.traces_endpoint,
               "refused": "http://127.0.0.1:%d/v1/traces" % _closed_port(),
               "hang": "http://127.0.0.1:%d/v1/traces" % hang.port,
               "_rx": rx, "_hang": hang}
    finally:
        hang.close()
        rx.stop()


def _check(results, up_key="up"):
    up = results[up_key]
    report = {}
    for kind, r in results.items():
        assert r["received"] == r["sent"], "%s: lost %d replies" % (kind, r["sent"] - r["received"])
        # Nothing blocks a handler: a handler waiting on the exporter would take >= its 1 s timeout.
        # (p99 rather than max: on a loaded 2-CPU CI box a scheduler hiccup alone can reach 300 ms.)
        assert r["lat_p50_ms"] < 100, (kind, r["lat_p50_ms"])
        assert r["lat_p99_ms"] < 1000 * EXPORTER_TIMEOUT_S * 0.5, (kind, r["lat_p99_ms"])
        assert r["sdk_shutdown_finished"], (kind, r)
        assert not r["echo_alive_after"], "%s: the actor process outlived the system" % kind
        report[kind] = r["best_rate"] / up["best_rate"]
    return report


def _assert_bounded_memory(r):
    """simpleSystemBase: a finished span held by the SDK costs ~3 KB; the processor holds at most
    MAX_QUEUE queued spans plus one in-flight batch (measured plateau 1-2.5 MB including the exporter's
    retry state); each phase adds ~500 spans, so an unbounded queue would keep growing by >= 1.5 MB per
    phase instead of plateauing. multiprocTCPBase: the actor process makes too few spans in a short
    test to discriminate (tracemalloc there also slows the actor 3x); only a sanity bound is checked
    and the figures are reported (the queue code is the same SDK code in every process)."""
    mem = r["mem_checkpoints_bytes"]
    assert max(mem) < 4 * 1024 * 1024, r
    if r["base"] == "simpleSystemBase":
        assert r["mem_growth_bytes"] < 1024 * 1024, r


@pytest.mark.parametrize("base", ["simpleSystemBase",
                                  pytest.param("multiprocTCPBase", marks=pytest.mark.slow)])
def test_exporter_down_does_not_slow_block_bloat_or_lose(base, endpoints):
    results = {}
    for kind in ("up", "refused", "hang"):
        results[kind] = run_scenario(base, kind, endpoints[kind], **SIZES[base])
    ratios = _check(results)
    summary = {k: {"rate": round(v["best_rate"]), "ratio": round(ratios[k], 3),
                   "p50_ms": round(v["lat_p50_ms"], 3), "p99_ms": round(v["lat_p99_ms"], 3),
                   "max_ms": round(v["lat_max_ms"], 1), "mem_growth_kb": v["mem_growth_bytes"] // 1024,
                   "mem_kb": [m // 1024 for m in v["mem_checkpoints_bytes"]],
                   "echo_exit_s": round(v["echo_exit_s"], 2),
                   "sdk_shutdown_s": round(v["sdk_shutdown_s"], 2), "wall_s": round(v["wall_s"], 1)}
               for k, v in results.items()}
    print("\nexporter-down %s: %s" % (base, json.dumps(summary)))
    # The exporter really was up in the baseline, and really was hit in the "hang" case.
    assert len(endpoints["_rx"].spans()) > 0
    assert endpoints["_hang"].accepted > 0
    for kind in ("refused", "hang"):
        assert ratios[kind] >= LOOSE_RATIO, summary
        _assert_bounded_memory(results[kind])
    _assert_bounded_memory(results["up"])


# --------------------------------------------------------------------------------------------------
# The tight measurement (not part of pytest): interleaved repetitions, medians of best-of-batch rates.


def bench(rounds=5, bases=("simpleSystemBase", "multiprocTCPBase")):
    from thespian_trace.testing import OTLPReceiver
    rx = OTLPReceiver().start()
    hang = HangServer()
    try:
        eps = {"up": rx.traces_endpoint, "refused": "http://127.0.0.1:%d/v1/traces" % _closed_port(),
               "hang": "http://127.0.0.1:%d/v1/traces" % hang.port}
        for base in bases:
            rates = {k: [] for k in eps}
            for _ in range(rounds):
                for kind, ep in eps.items():
                    rates[kind].append(run_scenario(base, kind, ep, **SIZES[base])["best_rate"])
                    rx.clear()
            med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
            for kind in ("refused", "hang"):
                ratio = med[kind] / med["up"]
                print("%-17s %-8s median best-batch rate %8.0f asks/s (up %8.0f): ratio %.3f  %s"
                      % (base, kind, med[kind], med["up"], ratio, "OK (>= 0.95)" if ratio >= 0.95
                         else "BELOW 0.95"), flush=True)
    finally:
        hang.close()
        rx.stop()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--scenario":
        _scenario(json.loads(sys.argv[2]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--bench":
        bench(int(sys.argv[2]) if len(sys.argv) > 2 else 5, *([sys.argv[3:]] if len(sys.argv) > 3 else []))
    else:
        print("usage: test_exporter_down.py --bench [ROUNDS [BASE...]] | --scenario JSON", file=sys.stderr)
        sys.exit(2)
