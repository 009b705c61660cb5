"""Measure ``asys.shutdown()`` of a multiprocTCPBase system with N actors, bare or with a hanging
collector (run in a fresh process by test_shutdown_bound.py, and by hand for the figures).

    python tests/shutdown_bound_driver.py MODE [N [SHAPE]]

SHAPE: flat (N children of the Admin, the default) or tree (N/5 parents with four children each).

MODE:
  bare     Thespian alone (thespian_trace is never imported); N ActorTypeDispatcher actors.
  hanging  The usual application set-up before the actor system starts: an SDK TracerProvider with
           a BatchSpanProcessor(OTLPSpanExporter) whose endpoint accepts connections and never
           answers; N TracedActors, each handling one traced request (so every actor process has
           spans queued for the stuck exporter when the shutdown comes).
  helper   As hanging, but exporting through thespian_trace.testing.configure_otlp_export (which
           also flushes from a multiprocessing finalizer at each actor's exit).

Prints one JSON line: shutdown_s (time in ``shutdown()``), gone_s (from the start of the shutdown
until the last process of the system exited), survivors (processes still alive 20 s later; they are
killed by PID), and the number of actors that answered.
"""
import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from leakcheck import SessionTracker  # noqa: E402

LOG_DEFS = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"level": "CRITICAL", "handlers": ["null"]},
}


class HangingCollector:
    """Accepts every connection, reads whatever comes, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.held = []
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.sock.getsockname()[1]

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.held.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn):
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(mode, n, shape="flat"):
    tracker = SessionTracker().start()
    collector = None
    if mode in ("hanging", "helper"):
        collector = HangingCollector()
        if mode == "hanging":
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            provider = TracerProvider()
            provider.add_span_processor(BatchSpanProcessor(
                OTLPSpanExporter(endpoint=collector.url + "/v1/traces")))
            trace.set_tracer_provider(provider)
        else:
            from thespian_trace.testing import configure_otlp_export
            configure_otlp_export(collector.url)
        import shutdown_traced_actors as actors
        from thespian_trace import traced_ask
        kid, boss, ask = actors.TracedKid, actors.TracedBoss, traced_ask
    else:
        import shutdown_actors as actors
        kid, boss = actors.BareKid, actors.BareBoss

        def ask(asys, addr, msg, timeout):
            return asys.ask(addr, msg, timeout)

    from thespian.actors import ActorSystem
    before = tracker.processes()
    asys = ActorSystem("multiprocTCPBase", {"Admin Port": free_port()}, logDefs=LOG_DEFS,
                       transientUnique=True)
    # n actors: flat (n children of the Admin) or a tree (n/5 parents with four children each)
    addrs = [asys.createActor(boss if shape == "tree" else kid) for _ in range(n // 5 if shape == "tree" else n)]
    answered = sum(1 for a in addrs if ask(asys, a, "ping", 20) == "ping")
    if collector is not None:
        time.sleep(0.5)  # let the exporters of the first actors reach the collector and get stuck
    t0 = time.monotonic()
    asys.shutdown()
    shutdown_s = time.monotonic() - t0
    left = tracker.wait_gone(before, 20.0)
    gone_s = time.monotonic() - t0
    tracker.kill(left)
    if "thespian_trace" in sys.modules and mode == "bare":
        raise AssertionError("the bare run imported thespian_trace")
    print(json.dumps({"mode": mode, "shape": shape, "actors": n, "answered": answered, "shutdown_s": round(shutdown_s, 3),
                      "gone_s": round(gone_s, 3) if not left else None, "survivors": len(left),
                      "collector_connections": collector.accepted if collector else None}))
    tracker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50,
                  sys.argv[3] if len(sys.argv) > 3 else "flat"))
