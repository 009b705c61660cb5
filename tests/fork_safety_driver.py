"""Fork stress in a fresh process with a given exporter set-up (run by test_fork_safety.py).

    python tests/fork_safety_driver.py BASE SETUP N

SETUP:
  default    TracerProvider + BatchSpanProcessor(OTLPSpanExporter(endpoint)) exactly as the OTel
             docs show it: the exporter's own requests session, which keeps connections alive.
  close      the same exporter given a session that sends ``Connection: close`` (one connection per
             export, nothing pooled to inherit across a fork).
  forksafe   the same exporter given a forksafe.ForkSafeSession (the documented recommendation).

A Spawner actor creates N children while its export thread is busy (fork_actors.py); the driver
then waits up to 60 s for the receiver (in this process) to hold every span. Prints one JSON line:
the children that answered and the spans expected and received, by name.
"""
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

LOG_DEFS = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"level": "CRITICAL", "handlers": ["null"]},
}
NOISE = 5


def main(base, setup, n):
    import requests
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from thespian_trace.testing import OTLPReceiver, spans_named

    from leakcheck import SessionTracker

    tracker = SessionTracker().start()
    rx = OTLPReceiver().start()
    kwargs = {}
    if setup == "close":
        session = requests.Session()
        session.headers["Connection"] = "close"
        kwargs["session"] = session
    elif setup == "forksafe":
        from thespian_trace.forksafe import ForkSafeSession
        kwargs["session"] = ForkSafeSession()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=rx.traces_endpoint, **kwargs),
                                                   schedule_delay_millis=100))
    trace.set_tracer_provider(provider)

    from thespian.actors import ActorSystem

    import fork_actors as fa
    from thespian_trace import traced_ask
    caps = {}
    if base == "multiprocTCPBase":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            caps["Admin Port"] = s.getsockname()[1]
    before = tracker.processes()
    asys = ActorSystem(base, caps, logDefs=LOG_DEFS, transientUnique=True)
    try:
        reply = traced_ask(asys, asys.createActor(fa.Spawner), fa.Spawn(n, NOISE), 240)
        want = {"ask Spawn": 1, "process Spawner": 1 + n, "noise": n * NOISE, "process ForkChild": n}
        provider.force_flush()
        deadline = time.monotonic() + 60
        while True:
            got = rx.spans()
            have = {name: len(spans_named(got, name)) for name in want}
            if have == want or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        missing = sorted(set(range(n)) - {s.attributes.get("tt.i") for s in spans_named(got, "process ForkChild")})
        if missing and os.environ.get("TT_FORK_STACKS"):
            import signal
            for i in missing:
                os.kill(reply[4][i], signal.SIGUSR2)
            time.sleep(1)
    finally:
        asys.shutdown()
        tracker.kill(tracker.wait_gone(before, 10))
        rx.stop()
        tracker.stop()
    print(json.dumps({"base": base, "setup": setup, "n": n, "answered": reply[1] if reply else None,
                      "want": want, "have": have, "missing": missing,
                      "missing_pids": [reply[4][i] for i in missing]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
