"""The README quickstart, runnable: one trace across an external ask and two actors."""
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from thespian.actors import ActorSystem

from thespian_trace import TracedActor, traced_ask


class Worker(TracedActor):
    def receiveMsg_str(self, msg, sender):                    # sees the plain message, the real sender
        self.traced_send(sender, msg.upper())                 # instead of self.send


class Front(TracedActor):
    def receiveMsg_str(self, msg, sender):
        if sender == getattr(self, "worker", None):           # the worker's answer: pass it back
            self.traced_send(self.asker, msg)
        else:
            self.asker, self.worker = sender, self.createActor(Worker)
            self.traced_send(self.worker, msg)


if __name__ == "__main__":
    provider = TracerProvider()                                # configure the SDK first ...
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
        formatter=lambda s: "span %-16s trace=%032x\n" % (s.name, s.context.trace_id))))
    trace.set_tracer_provider(provider)
    base = sys.argv[1] if len(sys.argv) > 1 else "simpleSystemBase"
    asys = ActorSystem(base, logDefs={"version": 1, "root": {"level": "CRITICAL", "handlers": []}})
    try:                                                       # ... then start the actor system
        print(traced_ask(asys, asys.createActor(Front), "hello", 5))
    finally:
        asys.shutdown()
