"""Exporter down: traced actor traffic while the OTLP endpoint is up, refusing, or hanging.

One scenario per actor-system base runs in a subprocess of its own (this file run with ``--scenario
JSON``), because it needs its own SDK pipeline, installed before the actor system starts (so
multi-process actors inherit it): a ``TracerProvider`` with one ``BatchSpanProcessor(OTLPSpanExporter)``
per endpoint, short timeouts, behind a :class:`SwitchProcessor` that hands each ended span to the
processor of the *active* endpoint only. Every process of the system switches together (the driver
here, the ``Echo`` actor by a message), so one process measures all three endpoints in interleaved
timed batches: a load spike on a shared machine hits neighbouring batches of every kind alike,
instead of one whole run of one kind.

* Throughput: batches of pipelined traced tells to an ``Echo`` actor (2 spans per message), the kinds
  in an order that rotates every round. Between batches, untimed, the processor that just ran is
  settled: flushed when its endpoint is up (its last spans are exported before the next batch, so that
  work is not charged to another kind); a down endpoint's worker is left waiting on its socket or its
  retry back-off, which costs no CPU. Figures: per-kind median rate, ratio of medians against ``up``,
  min/median/max of the per-round ratios.
* Latency of traced asks while each endpoint is active and its queue saturated: p50 and a true p99
  (nearest rank over hundreds of asks, not the maximum of a few).
* That every reply arrives (no message lost).
* Optionally memory (``tracemalloc`` in the actor's process, after phases that each push several times
  more spans than a processor can hold) and how long the SDK shutdown and the actor's exit take.

Endpoints (:class:`Endpoints`): ``up`` (a real OTLP receiver in the calling process), ``refused`` (a
closed loopback port), ``hang`` (a socket server that accepts and never answers).

Used by ``tests/test_exporter_down.py`` (the assertions) and by ``run_all.py`` (group ``exporter``:
the 5 % target on the ratio of median rates).
"""
from __future__ import annotations

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

EXPORTER_TIMEOUT_S = 1.0        # OTLPSpanExporter per-request timeout inside the scenarios
MAX_QUEUE = 128                 # BatchSpanProcessor max_queue_size and max_export_batch_size (SDK
                                # defaults 2048/512; smaller makes the bound visible in a short run)
SUBPROCESS_TIMEOUT_S = 120
KINDS = ("up", "refused", "hang")
TARGET = ">= 0.95"              # throughput with the exporter down / with it up (ratio of medians)

# Sizes. rounds x KINDS timed batches of `batch` traced tells each (~0.1-0.3 s per batch here: many
# export cycles of a MAX_QUEUE-span batch); asks: traced asks per kind for the latency percentiles;
# mem_msgs/mem_phases: traced messages per memory phase, per kind (0 phases: no memory measurement).
CHECK_SIZES = {  # the unit test: every measurement
    "simpleSystemBase": dict(warmup=300, rounds=9, batch=1000, asks=1000, mem_msgs=250, mem_phases=3,
                             queue=MAX_QUEUE),
    "multiprocTCPBase": dict(warmup=60, rounds=9, batch=400, asks=500, mem_msgs=80, mem_phases=2,
                             queue=MAX_QUEUE // 2),
}
BENCH_SIZES = {  # make bench: throughput only
    "simpleSystemBase": dict(warmup=300, rounds=9, batch=1000, asks=0, mem_msgs=0, mem_phases=0,
                             queue=MAX_QUEUE),
    "multiprocTCPBase": dict(warmup=60, rounds=9, batch=400, asks=0, mem_msgs=0, mem_phases=0,
                             queue=MAX_QUEUE // 2),
}
SMOKE_SIZES = {
    "simpleSystemBase": dict(warmup=5, rounds=2, batch=20, asks=0, mem_msgs=0, mem_phases=0,
                             queue=MAX_QUEUE),
    "multiprocTCPBase": dict(warmup=5, rounds=2, batch=10, asks=0, mem_msgs=0, mem_phases=0,
                             queue=MAX_QUEUE // 2),
}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100] of ``values``: the smallest value with at least q % of
    the values at or below it. Needs enough values that it is not simply the maximum."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _rss_kb(pid: int) -> Optional[int]:
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------------------------------
# Scenario (runs in the subprocess)


class SwitchProcessor:
    """A span processor that hands each span to the processor of the active endpoint only.

    Created before the actor system starts, so forked actor processes hold their own copy (and the
    SDK restarts each batch processor's worker thread in them); each process switches on its own
    (:func:`switch_exporter`).
    """

    def __init__(self, processors: Dict[str, Any]) -> None:
        self.processors = processors
        self.active: Optional[str] = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.active is not None:
            self.processors[self.active].on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        if self.active is not None:
            self.processors[self.active].on_end(span)

    def settle(self) -> None:
        """Flush the active processor if its endpoint is up (a down one would only wait)."""
        if self.active == "up":
            self.processors["up"].force_flush(10000)

    def shutdown(self) -> None:
        threads = [threading.Thread(target=p.shutdown, daemon=True) for p in self.processors.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        if self.active is None:
            return True
        return self.processors[self.active].force_flush(timeout_millis)


_SWITCH: Optional[SwitchProcessor] = None


def switch_exporter(kind: str) -> None:
    """In this process: settle the processor that was active, then send spans to ``kind``'s."""
    if _SWITCH is None:
        raise RuntimeError("no SwitchProcessor in this process (the scenario installs it)")
    _SWITCH.settle()
    _SWITCH.active = kind


def _install_pipeline(cfg: Dict[str, Any]) -> Any:
    global _SWITCH
    import requests
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    processors = {}
    for kind in KINDS:
        session = requests.Session()
        session.headers["Connection"] = "close"   # never share a pooled socket with forked actors
        processors[kind] = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=cfg["endpoints"][kind], timeout=EXPORTER_TIMEOUT_S, session=session),
            max_queue_size=cfg["queue"], max_export_batch_size=cfg["queue"], schedule_delay_millis=100,
            export_timeout_millis=1000)
    _SWITCH = SwitchProcessor(processors)
    provider = TracerProvider()
    provider.add_span_processor(_SWITCH)
    trace.set_tracer_provider(provider)
    return provider


def _scenario(cfg: Dict[str, Any]) -> None:
    t_begin = time.perf_counter()
    provider = _install_pipeline(cfg)

    from benchmarks import common
    from benchmarks.bench_actors import Echo
    from thespian_trace import traced_ask, traced_tell

    base = cfg["base"]
    out: Dict[str, Any] = {"base": base, "t_import_s": time.perf_counter() - t_begin}
    t0 = time.perf_counter()
    asys = common.start_system(base)
    cpu_clock = common.clock_for(asys)
    echo_pid = None
    try:
        echo = asys.createActor(Echo)
        echo_pid = asys.ask(echo, "pid", 10)
        out["t_start_s"] = time.perf_counter() - t0
        t_work = time.perf_counter()
        sent = received = 0

        def switch(kind: str) -> None:
            """Every process of the system to ``kind`` (the Echo actor's process by a message)."""
            switch_exporter(kind)
            if asys.ask(echo, ("exporter", kind), 30) is not True:
                raise RuntimeError("the Echo actor did not switch to %s" % kind)

        def pipelined(n: int, cpu: Optional[List[float]] = None) -> float:
            """Actor throughput: n traced tells in flight, then every reply collected. Returns messages
            per wall-clock second; appends messages per CPU second of the whole system (this process
            and every actor process: ``common.clock_for``) to ``cpu``."""
            nonlocal sent, received
            c0 = cpu_clock()
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
            wall = time.perf_counter() - t0
            if cpu is not None:
                cpu.append(n / max(cpu_clock() - c0, 1e-9))
            return n / wall

        def asks(n: int) -> List[float]:
            nonlocal sent, received
            latencies = []
            for i in range(n):
                a = time.perf_counter()
                sent += 1
                if traced_ask(asys, echo, i, 10) == i:
                    received += 1
                latencies.append(time.perf_counter() - a)
            return latencies

        for kind in KINDS:  # warm each path (and fill each down endpoint's queue)
            switch(kind)
            pipelined(cfg["warmup"])
        rates: Dict[str, List[float]] = {k: [] for k in KINDS}
        cpu_rates: Dict[str, List[float]] = {k: [] for k in KINDS}
        for r in range(cfg["rounds"]):
            for kind in KINDS[r % len(KINDS):] + KINDS[:r % len(KINDS)]:
                switch(kind)
                rates[kind].append(pipelined(cfg["batch"], cpu_rates[kind]))
        out["rates"] = rates
        out["cpu_rates"] = cpu_rates  # CPU of the whole system (every process of it)
        per = {}
        for kind in KINDS:
            per[kind] = {"median_rate": statistics.median(rates[kind])}
            if cfg["asks"]:  # latency while the exporter is (down and) saturated
                switch(kind)
                pipelined(cfg["warmup"])
                lat = asks(cfg["asks"])
                per[kind].update(lat_n=len(lat), lat_p50_ms=1000 * percentile(lat, 50),
                                 lat_p99_ms=1000 * percentile(lat, 99), lat_max_ms=1000 * max(lat))
            if cfg["mem_phases"]:
                # tracemalloc inside the actor's process (where its spans queue up): phases that each
                # push several times more spans than the processor can hold (queue + one in-flight
                # batch); bounded, the tracked total plateaus instead of growing phase by phase.
                switch(kind)
                assert asys.ask(echo, "tm-start", 10) is True
                mem = []
                for _ in range(cfg["mem_phases"]):
                    pipelined(cfg["mem_msgs"])
                    mem.append(asys.ask(echo, "tm", 10))
                asys.ask(echo, "tm-stop", 10)
                per[kind].update(mem_kind="tracemalloc(actor process)", mem_checkpoints_bytes=mem,
                                 mem_growth_bytes=mem[-1] - mem[-2])
        out["per_kind"] = per
        switch("up")
        out["sent"], out["received"] = sent, received
        out["t_work_s"] = time.perf_counter() - t_work
        out["echo_pid"] = echo_pid
    finally:
        t0 = time.perf_counter()
        asys.shutdown()
        out["asys_shutdown_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    done = threading.Event()

    def _shutdown() -> None:
        provider.shutdown()
        done.set()

    threading.Thread(target=_shutdown, daemon=True).start()
    done.wait(20)
    out["sdk_shutdown_s"] = time.perf_counter() - t0
    out["sdk_shutdown_finished"] = done.is_set()
    gone = time.monotonic()
    if base != "simpleSystemBase" and echo_pid is not None:  # the actor process ends (it may flush first)
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
    os._exit(0)  # the SDK already shut down (or was given 20 s); skip atexit re-running it


# --------------------------------------------------------------------------------------------------
# Endpoints (in the calling process)


class HangServer:
    """Accepts connections and never answers (nor reads). ``close()`` releases everything."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns: List[socket.socket] = []
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="HangServer")
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(conn)   # hold it open, say nothing
            self.accepted += 1

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections are refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Endpoints:
    """The three endpoints, as a context manager: ``with Endpoints() as eps: eps.urls["hang"]``."""

    def __enter__(self) -> "Endpoints":
        from thespian_trace.testing import OTLPReceiver

        self.receiver = OTLPReceiver().start()
        self.hang = HangServer()
        self.urls = {"up": self.receiver.traces_endpoint,
                     "refused": "http://127.0.0.1:%d/v1/traces" % closed_port(),
                     "hang": "http://127.0.0.1:%d/v1/traces" % self.hang.port}
        return self

    def __exit__(self, *exc: Any) -> None:
        self.hang.close()
        self.receiver.stop()


def run_scenario(base: str, urls: Dict[str, str], **sizes: Any) -> Dict[str, Any]:
    """Run the scenario for ``base`` in a subprocess; its RESULT dict (plus ``wall_s``)."""
    cfg = dict(base=base, endpoints=urls, **sizes)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    env.pop("OTEL_TRACES_EXPORTER", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--scenario", json.dumps(cfg)],
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError("scenario %s failed (rc=%s):\n%s\n%s" % (
            base, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    out = json.loads(lines[-1][len("RESULT "):])
    out["wall_s"] = time.monotonic() - t0
    return out


def ratios(result: Dict[str, Any], kind: str, figure: str = "rates") -> Dict[str, Any]:
    """``kind`` against ``up`` in one scenario's result: ratio of median rates, per-round ratios.
    ``figure``: "rates" (wall clock) or "cpu_rates" (CPU time of the whole actor system)."""
    up, down = result[figure]["up"], result[figure][kind]
    per_round = [d / u for d, u in zip(down, up)]
    return {"bare": statistics.median(up), "traced": statistics.median(down),
            "ratio": statistics.median(down) / statistics.median(up),
            "spread": [min(per_round), statistics.median(per_round), max(per_round)],
            "rounds": len(per_round), "bare_rounds": up, "traced_rounds": down, "ratios": per_round}


# --------------------------------------------------------------------------------------------------
# The benchmark


def run(smoke: bool = False, rounds: Optional[int] = None,
        bases: Sequence[str] = ("simpleSystemBase", "multiprocTCPBase"), log: Any = None
        ) -> List[Dict[str, Any]]:
    """Rows for ``run_all.py``: per base, ``refused`` and ``hang`` against ``up`` (THROUGHPUT), target
    >= 0.95 on the ratio of median rates; spread over the per-round ratios."""
    from benchmarks import common

    sizes = SMOKE_SIZES if smoke else BENCH_SIZES
    rows = []
    with Endpoints() as eps:
        for base in bases:
            size = dict(sizes[base])
            if rounds:
                size["rounds"] = rounds
            res = run_scenario(base, eps.urls, **size)
            if res["received"] != res["sent"]:
                raise RuntimeError("%s lost %d replies" % (base, res["sent"] - res["received"]))
            eps.receiver.clear()
            for kind in ("refused", "hang"):
                stats = ratios(res, kind)
                rows.append(common.row(
                    "exporter down", "%s, exporter %s" % (base, kind), "exporter up", "exporter %s" % kind,
                    "msg/s", common.THROUGHPUT, stats, TARGET,
                    note="batches of %d traced tells, kinds interleaved in one process" % size["batch"]))
                if log:
                    log("exporter down %s %s: ratio %.3f" % (base, kind, stats["ratio"]))
    return rows


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--scenario":
        # Through the package module, so that the Echo actor's switch_exporter finds this _SWITCH.
        from benchmarks import exporter_down
        exporter_down._scenario(json.loads(sys.argv[2]))
    else:
        print("usage: exporter_down.py --scenario JSON (run_all.py --only exporter runs the benchmark)",
              file=sys.stderr)
        sys.exit(2)
