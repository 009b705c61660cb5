"""Actor metrics benchmarks: what the always-on counters and the opt-in duration histogram cost.

The workload is the ping-pong of ``bench_actors`` (one external ask starts an exchange of ``exchange``
messages between a pinger and its ponger), traced pair, rollout mode ``on`` with unsampled roots (the
production shape: every delivery goes through the data plane, few spans). Sides, per base:

* **bare**: Thespian without thespian-trace in the receive path (``BarePinger``, hook out);
* **metrics off**: the traced pair, no meter provider (no observer installed);
* **counters on**: ``enable_actor_metrics(provider)``, no class timed;
* **duration on for one class**: also ``messaging.process.duration`` for ``TracedPonger``.

Rows per base: counters on vs metrics off (the promise: within 3 % on multiprocTCPBase), duration on
for one class vs bare; on simpleSystemBase also counters on vs bare.

An SDK ``MeterProvider`` with an in-memory reader records (collection is not part of the message path).
Multi-process bases inherit the observers at fork, so each side has its own system, forked in its state;
``simpleSystemBase`` switches the observer between runs in one system. Rows are throughput ratios
(``common.interleave``: interleaved rounds, ratio of medians, min/med/max spread).

    .venv/bin/python benchmarks/bench_metrics.py [--smoke] [--bases multiprocTCPBase ...] [--aa]
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

if __package__ in (None, ""):  # run as a script: make "benchmarks.*" importable (actor processes too)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from benchmarks import common  # noqa: E402
from benchmarks.common import THROUGHPUT, interleave, row  # noqa: E402

GROUP = "metrics"
FULL = {"rounds": 5, "headline_rounds": 9, "headline_scale": {"multiprocTCPBase": 2}, "exchange": 20,
        # CPU seconds per run (common.clock_for: all the system's processes on the multi-process bases)
        "run_s": {"simpleSystemBase": 0.15, "multiprocQueueBase": 0.5, "multiprocTCPBase": 0.6}}
SMOKE = {"rounds": 2, "headline_rounds": 2, "headline_scale": {}, "exchange": 4,
         "run_s": {"simpleSystemBase": 0.002, "multiprocQueueBase": 0.002, "multiprocTCPBase": 0.002}}
#: The headline promise (issue 12): counters cost under 3 % of throughput on multiprocTCPBase.
TARGETS = {("counters", "multiprocTCPBase"): ">= 0.97"}
TIMED_CLASS = "TracedPonger"


class _Meters:
    """One SDK meter provider for the whole run, and the switch between the sides.

    ``aa``: the ``counters`` side is put in the ``off`` state too (an A/A run: two identical systems
    in the headline's places, so its ratio shows what the machine alone does to that row)."""

    def __init__(self, aa: bool = False) -> None:
        self.aa = aa
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def side(self, name: str) -> None:
        """Put this process in the state of side ``name`` (bare, off, counters, duration)."""
        from thespian_trace import config, hook
        from thespian_trace.metrics import disable_actor_metrics, enable_actor_metrics

        if self.aa and name == "counters":
            name = "off"
        if name == "bare":
            hook.uninstall()
        else:
            hook.install()
            config.set_mode("on")
        if name in ("counters", "duration"):
            enable_actor_metrics(self.provider, duration_include=[TIMED_CLASS] if name == "duration" else [],
                                 duration_exclude=[])
        else:
            disable_actor_metrics()

    def close(self) -> None:
        from thespian_trace import hook
        from thespian_trace.metrics import disable_actor_metrics

        disable_actor_metrics()
        hook.install()
        self.provider.shutdown()


def _pinger(asys: Any, traced: bool) -> Any:
    from .bench_actors import BarePinger, Ready, Setup, TracedPinger

    pinger = asys.createActor(TracedPinger if traced else BarePinger)
    reply = asys.ask(pinger, Setup(), 30)
    if type(reply) is not Ready:
        raise RuntimeError("pinger setup failed: %r" % (reply,))
    return pinger


def _run(asys: Any, pinger: Any, asks: int, exchange: int, clock: Callable[[], float]) -> float:
    """Messages per second over ``asks`` exchanges (bare asks: roots are unsampled anyway)."""
    from .bench_actors import Done, Flush, FlushDone, Start

    msg = Start(exchange)
    t0 = clock()
    for _ in range(asks):
        reply = asys.ask(pinger, msg, 30)
        if type(reply) is not Done:
            raise RuntimeError("ping-pong exchange failed: got %r" % (reply,))
    if type(asys.ask(pinger, Flush(), 60)) is not FlushDone:  # same step on every side (see common)
        raise RuntimeError("flush failed")
    return asks * exchange / (clock() - t0)


def _calibrate(asys: Any, pinger: Any, exchange: int, run_s: float, clock: Callable[[], float]) -> int:
    per_ask = min(exchange / _run(asys, pinger, 3, exchange, clock) for _ in range(2))
    return max(2, int(run_s / per_ask))


def _base_rows(base: str, sizes: Dict[str, Any], meters: _Meters, log: Callable[[str], Any]
               ) -> List[Dict[str, Any]]:
    exchange, rounds, run_s = sizes["exchange"], sizes["rounds"], sizes["run_s"][base]
    systems: Dict[str, Any] = {}
    pingers: Dict[str, Any] = {}
    try:
        if base == "simpleSystemBase":  # one system; bare actors are created with the hook out
            meters.side("bare")
            asys = systems["bare"] = common.start_system(base)
            pingers["bare"] = _pinger(asys, False)
            meters.side("off")
            pingers["off"] = pingers["counters"] = pingers["duration"] = _pinger(asys, True)
            for side in ("off", "counters", "duration"):
                systems[side] = asys
        else:  # each side forked in its own state (actor processes inherit the observers)
            for side in ("bare", "off", "counters", "duration"):
                meters.side(side)
                systems[side] = common.start_system(base)
                pingers[side] = _pinger(systems[side], side != "bare")
        asks = {}
        for side in ("bare", "off", "counters", "duration"):
            meters.side(side)
            asks[side] = _calibrate(systems[side], pingers[side], exchange, run_s,
                                    common.clock_for(systems[side]))

        def runner(side: str, scale: int = 1) -> Callable[[], float]:
            def run() -> float:
                meters.side(side)
                return _run(systems[side], pingers[side], asks[side] * scale, exchange,
                            common.clock_for(systems[side]))
            return run

        rows = []
        cases = [("counters on vs metrics off", "off", "counters", "counters"),
                 ("duration on for one class vs bare", "bare", "duration", None)]
        if base == "simpleSystemBase":  # cheap here; on the multi-process bases IPC noise drowns it
            cases.insert(1, ("counters on vs bare", "bare", "counters", None))
        if meters.aa:
            cases = [("metrics off vs metrics off (A/A: the headline's noise floor)", "off", "counters",
                      "counters")]
        for case, left, right, label in cases:
            # The headline row gets more rounds: a few microseconds per message against a millisecond
            # of IPC on a shared machine needs the median of many rounds.
            n = max(rounds, sizes["headline_rounds"]) if label else rounds
            scale = sizes["headline_scale"].get(base, 1) if label else 1  # and longer runs on TCP
            stats = interleave(runner(left, scale), runner(right, scale), n, THROUGHPUT)
            target = TARGETS.get((label, base)) if label and not meters.aa else None
            rows.append(row(GROUP, "%s, %s" % (base, case),
                            "metrics off" if left == "off" else "bare",
                            "duration (%s)" % TIMED_CLASS if right == "duration"
                            else "metrics off" if meters.aa else "counters",
                            "msg/s", THROUGHPUT, stats, target,
                            note="%d/%d asks x %d msgs per run; mode on, roots unsampled"
                                 % (asks[left] * scale, asks[right] * scale, exchange)))
            log("metrics %s %s: ratio %.3f" % (base, case, stats["ratio"]))
        return rows
    finally:
        for asys in {id(s): s for s in systems.values()}.values():
            common.shutdown(asys)


def run(smoke: bool = False, rounds: Optional[int] = None, bases: Sequence[str] = common.BASES,
        log: Callable[[str], Any] = print, aa: bool = False) -> List[Dict[str, Any]]:
    """The ``metrics`` group: per base, counters on vs metrics off, counters on and duration on for
    one class vs bare (throughput ratios); with ``aa``, only the headline with both sides off."""
    from thespian_trace.testing import set_sampler

    from .bench_runtime import sampler, setup_sdk

    sizes = dict(SMOKE if smoke else FULL)
    if rounds:
        sizes["rounds"] = rounds
    setup_sdk()
    set_sampler(sampler("off"))  # mode on, roots unsampled
    meters = _Meters(aa)
    rows: List[Dict[str, Any]] = []
    try:
        for base in common.BASES:
            if base in bases:
                rows += _base_rows(base, sizes, meters, log)
    finally:
        meters.close()
        set_sampler(None)
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--bases", nargs="+", choices=common.BASES, default=list(common.BASES))
    ap.add_argument("--aa", action="store_true",
                    help="A/A: the headline row with metrics off on both sides (its noise floor)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    rows = run(smoke=args.smoke, rounds=args.rounds, bases=args.bases, aa=args.aa,
               log=lambda m: print("[bench] %s %s" % (time.strftime("%H:%M:%S"), m), flush=True))
    elapsed = time.perf_counter() - started
    print(common.markdown(rows, common.machine_info(), "benchmarks/bench_metrics.py " + " ".join(
        sys.argv[1:] if argv is None else argv), elapsed, []))
    return 0 if all(r["status"] != "MISS" for r in rows) or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
