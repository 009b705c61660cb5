"""One host of the multi-host test bed: run inside a network namespace by netbed.py.

``python netbed_host.py ROLE`` with ROLE one of

  collector  the OTLP/HTTP receiver (thespian_trace.testing.OTLPReceiver) on this host's address;
  leader     the Convention leader, plus the edge that drives traffic with ``traced_ask``;
  member     a Convention member (its actors are created there by capability).

Environment: ``TT_HOST`` (host name; the actor system advertises ``host_<name>``),
``THESPIAN_BASE_IPADDR`` (this host's address, which Thespian advertises), ``TT_LEADER`` (the
leader's address, for members), ``TT_COLLECTOR`` (OTLP base URL), ``TT_EXPORT_TIMEOUT`` (seconds)
and ``TT_QUEUE`` (the span queue bound). Each host sets its own ``service.name``
(``netbed-<host>``) and ``host.name``; its actor processes inherit the SDK set up here when they fork.

Commands arrive as JSON lines on stdin and are answered with ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": traceback}``. End of input shuts the actor system down and exits.
"""
import json
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

ADMIN_PORT = 1900
COLLECTOR_PORT = 4318
LOG_DEFS = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"level": "CRITICAL", "handlers": ["null"]},
}


def setup_tracing(host):
    """SDK provider with this host's resource, batch export to the collector host."""
    import multiprocessing.util as mp_util

    import requests
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create(
        {"service.name": "netbed-%s" % host, "host.name": "host-%s" % host}))
    session = requests.Session()
    session.headers["Connection"] = "close"  # never share a pooled connection with forked actors
    exporter = OTLPSpanExporter(endpoint=os.environ["TT_COLLECTOR"] + "/v1/traces", session=session,
                                timeout=float(os.environ.get("TT_EXPORT_TIMEOUT", "10")))
    queue = int(os.environ.get("TT_QUEUE", "2048"))
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=200, max_queue_size=queue,
                                   max_export_batch_size=min(512, queue))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)

    def flush_at_child_exit(proc):  # actor processes leave with os._exit: flush their queue first
        mp_util.Finalize(None, proc.force_flush, args=(3000,), exitpriority=100)

    mp_util.register_after_fork(processor, flush_at_child_exit)
    return provider


class Collector:
    def __init__(self, host, ip):
        from thespian_trace.testing import OTLPReceiver
        self.rx = OTLPReceiver(host=ip, port=COLLECTOR_PORT).start()

    def cmd_spans(self):
        return [{"name": r.name, "trace_id": r.trace_id, "span_id": r.span_id,
                 "parent_span_id": r.parent_span_id, "kind": r.kind, "status": r.status,
                 "attributes": r.attributes, "start_ns": r.start_ns, "end_ns": r.end_ns,
                 "resource": r.resource} for r in self.rx.spans()]

    def cmd_count(self):
        return len(self.rx.spans())

    def cmd_clear(self):
        self.rx.clear()

    def close(self):
        self.rx.stop()


class Member:
    def __init__(self, host, ip, leader=None):
        self.provider = setup_tracing(host)
        from thespian.actors import ActorSystem
        import thespian_trace  # noqa: F401  (the receive hook, before any actor forks)
        caps = {"Admin Port": ADMIN_PORT, "host_%s" % host: True}
        if leader:
            caps["Convention Address.IPv4"] = (leader, ADMIN_PORT)
        self.asys = ActorSystem("multiprocTCPBase", caps, logDefs=LOG_DEFS)

    def cmd_ping(self):
        return os.getpid()

    def cmd_flush(self):
        return self.provider.force_flush(5000)

    def close(self):
        self.asys.shutdown()
        self.provider.shutdown()


class Leader(Member):
    """The Convention leader and the edge (external code calling traced_ask)."""

    def __init__(self, host, ip):
        super().__init__(host, ip)
        self.actors = {}

    def cmd_wait_members(self, capabilities, timeout=30.0):
        import netbed_actors as na
        from thespian.actors import ActorExitRequest
        registrar = self.asys.createActor(na.Registrar)
        try:
            assert self.asys.ask(registrar, "watch", 10) == "watching"
            deadline = time.monotonic() + timeout
            members = []
            while time.monotonic() < deadline:
                members = self.asys.ask(registrar, "members?", 10) or []
                if all(any(m.get(c) for m in members) for c in capabilities):
                    return sorted(k for m in members for k in m if k.startswith("host_"))
                time.sleep(0.2)
            raise AssertionError("members %r did not all join within %.0fs: %r"
                                 % (capabilities, timeout, members))
        finally:
            self.asys.tell(registrar, ActorExitRequest())

    def cmd_setup(self):
        """Create the pipeline and the fanout group across hosts; return where each actor runs."""
        import netbed_actors as na
        a = self.actors
        a["sink"] = self.asys.createActor(na.Sink)
        a["entry"] = self.asys.createActor(na.Entry)
        a["worker"] = self.asys.ask(a["entry"], na.Setup(a["sink"]), 30)["worker"]
        a["fanner"] = self.asys.createActor(na.Fanner)
        for i, w in enumerate(self.asys.ask(a["fanner"], na.Setup(), 30)["workers"]):
            a["fan%d" % i] = w
        return {label: self._report(label)["host"] for label in a}

    def _report(self, label):
        import netbed_actors as na
        report = self.asys.ask(self.actors[label], na.Report(), 30)
        if not isinstance(report, dict):
            raise AssertionError("no report from %s: %r" % (label, report))
        return report

    def cmd_reports(self, labels=None):
        return {label: self._report(label) for label in (labels or sorted(self.actors))}

    def cmd_set_mode(self, labels, mode):
        from thespian_trace import SetTraceMode
        out = {}
        for label in labels:
            reply = self.asys.ask(self.actors[label], SetTraceMode(mode), 30)
            out[label] = getattr(reply, "mode", repr(reply))
        return out

    def cmd_traffic(self, run, n, interval, kind="steady", timeout=30.0, switch_at=None,
                    switch_labels=(), switch_mode=None):
        """``n`` requests, one every ``interval`` s, each in its own root span ``edge <kind>`` (so
        the test knows every trace id); optionally switch actors' modes after ``switch_at`` of them."""
        import netbed_actors as na
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind
        from thespian_trace import traced_ask
        tracer = trace.get_tracer("netbed.edge")
        target = self.actors["entry" if kind == "steady" else "fanner"]
        make = na.Request if kind == "steady" else na.FanRequest
        records, t0 = [], time.monotonic()
        for seq in range(n):
            delay = t0 + seq * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with tracer.start_as_current_span("edge " + kind, kind=SpanKind.CLIENT,
                                              attributes={"tt.run": run, "tt.seq": seq}) as span:
                sent, started = time.time(), time.monotonic()
                reply = traced_ask(self.asys, target, make(run, seq), timeout)
                took = time.monotonic() - started
            records.append({"seq": seq, "trace_id": format(span.get_span_context().trace_id, "032x"),
                            "reply": type(reply).__name__, "reply_seq": getattr(reply, "seq", None),
                            "reply_run": getattr(reply, "run", None),
                            "hosts": getattr(reply, "hosts", None), "ask_s": took,
                            "at": started - t0, "late": started - t0 - seq * interval, "sent": sent})
            if switch_at is not None and seq + 1 == switch_at:
                records[-1]["switched"] = self.cmd_set_mode(list(switch_labels), switch_mode)
        return records

    def cmd_wait_handled(self, label, run, n, timeout=60.0):
        """Poll an actor's report until it handled every seq of ``run`` (or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            report = self._report(label)
            done = sum(1 for k in report["handled"] if k.startswith("%s:" % run))
            if done >= n or time.monotonic() >= deadline:
                return report
            time.sleep(0.2)


def main():
    role = sys.argv[1]
    host, ip = os.environ["TT_HOST"], os.environ["THESPIAN_BASE_IPADDR"]
    try:
        if role == "collector":
            state = Collector(host, ip)
        elif role == "leader":
            state = Leader(host, ip)
        else:
            state = Member(host, ip, leader=os.environ["TT_LEADER"])
    except Exception:
        traceback.print_exc()
        return 1
    sys.stdout.write(json.dumps({"ok": True, "result": "ready"}) + "\n")
    sys.stdout.flush()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                result = getattr(state, "cmd_" + request.pop("cmd"))(**request)
                reply = {"ok": True, "result": result}
            except Exception:
                reply = {"ok": False, "error": traceback.format_exc()}
            sys.stdout.write(json.dumps(reply, default=repr) + "\n")
            sys.stdout.flush()
    finally:
        state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
