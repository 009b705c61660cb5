"""A benchmark driver traced end to end: one connected trace per race, HTTP calls under their handlers.

The shape of a real load-testing application: a Driver actor runs one race per request; inside its
traced handler it creates LoadWorker actors (forked processes on the multi-process bases), which fire
HTTP requests at a service on loopback, one per timer tick (``traced_wakeup_after``); the driver
verifies the results in a thread pool and answers. Handlers sit under decorators. The HTTP client is
``requests``, traced by the OpenTelemetry requests instrumentation, so every request is a CLIENT span
under the handler that made it. After the races a monitoring client asks each worker for statistics
with a plain ``ask``: those requests belong to no race and must not appear in one.

    python examples/bench_driver.py                                 # multiprocTCPBase, 2 races
    python examples/bench_driver.py --base simpleSystemBase --races 3 --workers 4 --rounds 5
    python examples/bench_driver.py --json spans.json               # every span, for a test or a look

Exits 1 when a check fails: a race's spans are not one connected trace, an HTTP span is not under the
handler that made it, or a span is parented to a handler that was not running.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import socket
import sys
import threading
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from opentelemetry.instrumentation.requests import RequestsInstrumentor  # noqa: E402
from thespian.actors import ActorSystem  # noqa: E402

from thespian_trace import traced_ask  # noqa: E402
from thespian_trace.testing import (OTLPReceiver, SpanRecord, configure_otlp_export,  # noqa: E402
                                    force_flush, format_tree)

from bench_driver_actors import Driver, GetStats, RaceReport, RunRace, Stats  # noqa: E402

LOG_DEFS = {"version": 1, "disable_existing_loggers": False,
            "handlers": {"null": {"class": "logging.NullHandler"}},
            "root": {"level": "CRITICAL", "handlers": ["null"]}}
ASK_TIMEOUT = 60


# ------------------------------------------------------------------------------------------------
# The service under test (loopback)


class _Service(http.server.BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def _json(self, code: int, body: Dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        parts = self.path.strip("/").split("/")
        if parts[0] == "item" and len(parts) == 2 and parts[1].isdigit():
            self._json(200, {"item": int(parts[1])})
        elif parts[0] == "verify":
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": self.path})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._json(200 if self.path == "/stats" else 404, {})


def start_service() -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="service", daemon=True).start()
    return server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------
# Checks (what the test asserts too)


def check(spans: List[SpanRecord], races: int) -> List[str]:
    """Problems with the trace shape, as readable lines (empty when all is well)."""
    problems = []
    by_id = {r.span_id: r for r in spans}
    roots = [r for r in spans if r.name == "ask RunRace"]
    if len(roots) != races:
        problems.append("expected %d 'ask RunRace' roots, found %d" % (races, len(roots)))
    for root in roots:
        mine = [r for r in spans if r.trace_id == root.trace_id]
        orphans = [r.name for r in mine if r.parent_span_id is not None and r.parent_span_id not in by_id]
        if orphans or [r for r in mine if r.parent_span_id is None] != [root]:
            problems.append("race trace %s is not connected (orphans: %s)" % (root.trace_id, orphans))
    for rec in spans:
        parent = by_id.get(rec.parent_span_id or "")
        if parent is None:
            continue
        if rec.start_ns < parent.start_ns:
            problems.append("%s started before its parent %s" % (rec.name, parent.name))
        if rec.kind in ("CLIENT", "INTERNAL") and (rec.end_ns or 0) > (parent.end_ns or 0):
            problems.append("%s (%s) outlived its parent %s: parented to a handler that was not running"
                            % (rec.name, rec.kind, parent.name))
        if rec.kind == "CLIENT" and parent.kind != "CONSUMER":
            problems.append("HTTP span %s is under %s, not under a handler" % (rec.name, parent.name))
    for rec in spans:
        url = str(rec.attributes.get("url.full") or rec.attributes.get("http.url") or "")
        if rec.kind == "CLIENT" and url.endswith("/stats") and rec.parent_span_id is not None:
            problems.append("the monitoring client's untraced request joined a trace (parent %s)"
                            % by_id.get(rec.parent_span_id, rec).name)
    return problems


# ------------------------------------------------------------------------------------------------


def run(base: str, races: int, workers: int, rounds: int, receiver: OTLPReceiver) -> Optional[List[SpanRecord]]:
    service = start_service()
    url = "http://127.0.0.1:%d" % service.server_address[1]
    caps = {"Admin Port": _free_port()} if base == "multiprocTCPBase" else {}
    asys = ActorSystem(base, caps, logDefs=LOG_DEFS, transientUnique=True)
    try:
        driver = asys.createActor(Driver)
        all_workers = []
        for race_id in range(1, races + 1):
            report = traced_ask(asys, driver, RunRace(race_id, workers, rounds, url), ASK_TIMEOUT)
            if not isinstance(report, RaceReport):
                print("FAILED: race %d answered %r" % (race_id, getattr(report, "__dict__", report)))
                return None
            print("race %d: %d workers, %d requests, verified %s%s" % (
                race_id, len(report.workers), report.requests_made, all(report.verified),
                ", failures: %s" % report.failures if report.failures else ""))
            all_workers.extend(report.workers)
        for worker in all_workers:          # the monitoring client: plain, untraced asks
            stats = asys.ask(worker, GetStats(), ASK_TIMEOUT)
            if not isinstance(stats, Stats) or stats.pushed_status != 200:
                print("FAILED: a worker's statistics: %r" % (getattr(stats, "__dict__", stats),))
                return None
    finally:
        asys.shutdown()
        service.shutdown()
    force_flush()
    # Per race: the ask, the driver's RunRace, and per worker StartLoad, a tick and a GET per round,
    # LoadDone at the driver and one verify GET; then one stats POST per worker (a trace of its own).
    want = races * (2 + workers * (3 + 2 * rounds)) + len(all_workers)
    try:
        receiver.wait_for(count=want, timeout=30)
    except TimeoutError as exc:
        print("FAILED: spans did not arrive: %s" % exc)
        return None
    return receiver.spans()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="multiprocTCPBase",
                    choices=["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"])
    ap.add_argument("--races", type=int, default=2, help="races (requests to the driver), default 2")
    ap.add_argument("--workers", type=int, default=3, help="load workers per race, default 3")
    ap.add_argument("--rounds", type=int, default=3, help="HTTP requests per worker, default 3")
    ap.add_argument("--json", metavar="FILE", help="write every captured span as JSON")
    args = ap.parse_args(argv)
    if min(args.races, args.workers, args.rounds) < 1:
        ap.error("--races, --workers and --rounds must be at least 1")

    receiver = OTLPReceiver().start()
    try:
        # Before the actor system forks, so every actor process inherits the exporter and the
        # instrumented requests library.
        configure_otlp_export(receiver, resource_attrs={"service.name": "bench-driver"})
        RequestsInstrumentor().instrument()
        spans = run(args.base, args.races, args.workers, args.rounds, receiver)
    finally:
        receiver.stop()
    if spans is None:
        return 1
    roots = sorted((r for r in spans if r.name == "ask RunRace"), key=lambda r: r.start_ns)
    for root in roots[:1]:
        print("\nrace trace %s:" % root.trace_id)
        print(format_tree([r for r in spans if r.trace_id == root.trace_id], max_lines=40))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([{"name": r.name, "trace_id": r.trace_id, "span_id": r.span_id,
                        "parent_span_id": r.parent_span_id, "kind": r.kind, "status": r.status,
                        "start_ns": r.start_ns, "end_ns": r.end_ns, "scope": r.scope,
                        "attributes": {k: (list(v) if isinstance(v, tuple) else v)
                                       for k, v in r.attributes.items()}} for r in spans], fh, indent=1)
        print("\nwrote %d spans to %s" % (len(spans), args.json))
    problems = check(spans, args.races)
    print("\n%d spans, %d race traces: %s" % (len(spans), len(roots), "OK" if not problems else "FAILED"))
    for line in problems[:20]:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
