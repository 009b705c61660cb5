#!/usr/bin/env python3
"""Does an actor system survive ``shutdown()`` when a parent retired a child just before it?

Runs the pattern of ``tests/shutdown_actors.py`` many times on one Thespian base and counts the
runs after which a process of the system is still alive ``--grace`` seconds after ``shutdown()``
returned. Variants:

  bare     Thespian alone: thespian_trace is never imported.
  traced   thespian_trace imported (receive hook installed), TracedActor classes, no SDK.
  export   as traced, plus the OpenTelemetry SDK exporting over OTLP/HTTP to a local receiver, as
           the test suite does (spans flushed on ActorExitRequest and at process exit).

``--load N`` starts N busy-looping processes for the duration (the full suite keeps both cores busy);
``--prior`` starts and shuts down a Convention of two systems before each run, as the tests before
the one that leaked did. Leftovers are killed by PID after being recorded. Prints one JSON line
per run with ``--verbose`` and a summary at the end.

    .venv/bin/python tools/shutdown_repro.py --variant bare --runs 300 --load 2
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from leakcheck import SessionTracker, proc_stat  # noqa: E402

LOG_DEFS = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"level": "CRITICAL", "handlers": ["null"]},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def classify(pid: int, parent_pid: int, tree: dict) -> str:
    """Role of a survivor from the process tree recorded before the shutdown."""
    ppid, sid = tree.get(pid, (None, None))
    if pid == parent_pid:
        return "parent"
    if ppid == parent_pid:
        return "child"
    if ppid is not None and ppid not in tree:  # the daemonized Admin: its parent exited at start
        return "admin"
    return "logger/other"


def snapshot_tree(procs) -> dict:
    out = {}
    for pid, _ in procs:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[1]), int(fields[3]))
        except OSError:
            pass
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="multiprocTCPBase")
    ap.add_argument("--variant", choices=["bare", "traced", "export"], default="bare")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--load", type=int, default=0, help="busy-looping processes in the background")
    ap.add_argument("--grace", type=float, default=3.0, help="seconds after shutdown() returns")
    ap.add_argument("--prior", action="store_true", help="a Convention up and down before each run")
    ap.add_argument("--pattern", choices=["retire", "eager"], default="retire",
                    help="retire: the test's pattern (three children, retire one, then shutdown); "
                         "eager: create a child and exit in the same handler (the race every time)")
    ap.add_argument("--evidence", action="store_true",
                    help="install tests/thespian_races.py's observer and report whether it explains "
                         "every survivor (observation only: behaviour unchanged)")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--status", action="store_true",
                    help="send SIGUSR1 to survivors first (Thespian writes their status to THESPLOG_FILE)")
    args = ap.parse_args(argv)

    tracker = SessionTracker().start()
    evidence = None
    if args.evidence:
        import tempfile
        import thespian_races
        evidence = os.path.join(tempfile.mkdtemp(prefix="shutdown-repro-"), "evidence")
        thespian_races.install(evidence)
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    receiver = None
    try:
        from thespian.actors import ActorSystem
        if args.variant == "bare" or args.pattern == "eager":
            import shutdown_actors
            parent_cls = (shutdown_actors.BareParent if args.pattern == "retire"
                          else shutdown_actors.EagerParent)
            if args.variant == "bare":
                assert "thespian_trace" not in sys.modules
        else:
            import shutdown_traced_actors
            parent_cls = (shutdown_traced_actors.WatchedTracedParent if os.environ.get("TT_EXIT_WATCHDOG")
                          else shutdown_traced_actors.TracedParent)
            if args.variant == "export":
                from thespian_trace.testing import OTLPReceiver, configure_otlp_export
                receiver = OTLPReceiver().start()
                configure_otlp_export(receiver)

        results = []
        for run in range(args.runs):
            if args.prior:
                p1 = free_port()
                leader = ActorSystem(args.base, {"Admin Port": p1}, logDefs=LOG_DEFS, transientUnique=True)
                member = ActorSystem(args.base, {"Admin Port": free_port(),
                                                 "Convention Address.IPv4": ("127.0.0.1", p1)},
                                     logDefs=LOG_DEFS, transientUnique=True)
                member.shutdown()
                leader.shutdown()
                tracker.kill(tracker.wait_gone({}, 3.0))
            before = tracker.processes()
            caps = {"Admin Port": free_port()} if args.base == "multiprocTCPBase" else {}
            asys = ActorSystem(args.base, caps, logDefs=LOG_DEFS, transientUnique=True)
            answer = asys.ask(asys.createActor(parent_cls), "go", 10)
            tree = snapshot_tree(tracker.processes())
            t0 = time.monotonic()
            asys.shutdown()
            shutdown_s = time.monotonic() - t0
            left = tracker.wait_gone(before, args.grace)
            parent_pid = answer[-1] if isinstance(answer, tuple) else -1
            record = {"run": run, "answer_ok": isinstance(answer, tuple) and bool(answer[1]),
                      "shutdown_s": round(shutdown_s, 3),
                      "survivors": sorted(classify(pid, parent_pid, tree) for pid, _ in left)}
            if left and evidence:
                import thespian_races
                from leakcheck import session_id
                pids = [pid for pid, _ in left]
                record["explained"] = sorted(thespian_races.explained(
                    pids, {pid: session_id(pid) for pid in pids}, evidence)) == sorted(pids)
            if left and args.status:
                import signal
                for pid, _ in left:
                    os.kill(pid, signal.SIGUSR1)
                time.sleep(0.5)
            if left and os.environ.get("TT_GDB_STACKS"):
                for pid, _ in left:  # Python stacks of the survivors, through gdb
                    out = "/tmp/shutdown_repro_stack_%d.txt" % pid
                    code = ("import faulthandler; f = open(%r, 'w'); "
                            "faulthandler.dump_traceback(f, all_threads=True); f.close()" % out)
                    subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (int)PyGILState_Ensure()",
                                    "-ex", "call (int)PyRun_SimpleString(%s)" % json.dumps(code),
                                    "-ex", "call (void)PyGILState_Release($1)"],
                                   capture_output=True, timeout=60)
                    record.setdefault("stacks", []).append(out)
            if left:
                record["states"] = [proc_stat(pid)[0] if proc_stat(pid) else "-" for pid, _ in left]
                tracker.kill(left)
            results.append(record)
            if args.verbose or left:
                print(json.dumps(record), flush=True)
        bad = [r for r in results if r["survivors"]]
        times = sorted(r["shutdown_s"] for r in results)
        summary = {
            "base": args.base, "variant": args.variant, "runs": len(results), "load": args.load,
            "prior": args.prior, "runs_with_survivors": len(bad),
            "survivor_roles": sorted({role for r in bad for role in r["survivors"]}),
            "answers_wrong": sum(1 for r in results if not r["answer_ok"]),
            "pattern": args.pattern,
            "survivors_not_explained": (sum(1 for r in bad if not r.get("explained"))
                                        if evidence else None),
            "shutdown_s_median": times[len(times) // 2] if times else None,
            "shutdown_s_max": times[-1] if times else None,
            "shutdowns_over_5s": sum(1 for t in times if t > 5),
        }
        print("SUMMARY " + json.dumps(summary), flush=True)
        return 0
    finally:
        for p in load:
            p.kill()
            p.wait()
        if receiver is not None:
            receiver.stop()
        tracker.kill(tracker.wait_gone({}, 3.0))
        tracker.stop()
        if evidence:
            import shutil
            shutil.rmtree(os.path.dirname(evidence), ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
