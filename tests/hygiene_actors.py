"""Actors for the context-hygiene tests (a module, so multi-process bases can import them by path).

Shaped like the benchmark driver that exposed the bug: a coordinator creates workers inside a traced
handler; the workers later handle untraced messages, open client spans of their own with the tracer
(as an HTTP or database instrumentation would), run timers and thread pools.
"""
import contextvars
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from thespian.actors import WakeupMessage

from thespian_trace import TracedActor

tracer = trace.get_tracer("hygiene.app")


def current_ids():
    """(trace id, span id) of the span current right now, as hex, or None when there is none."""
    sc = trace.get_current_span().get_span_context()
    if not sc.is_valid:
        return None
    return format(sc.trace_id, "032x"), format(sc.span_id, "016x")


class Spawn:
    """Ask a Coordinator to create a worker of ``cls`` (created inside its traced handler)."""

    def __init__(self, cls):
        self.cls = cls


class Spawned:
    def __init__(self, child, creator_ids):
        self.child = child
        self.creator_ids = creator_ids


class Fetch:
    """Make the worker do its work: a client span, a timer or a thread pool, as ``how`` says."""

    def __init__(self, how="client", name="GET"):
        self.how = how
        self.name = name


class Fetched:
    def __init__(self, seen):
        self.seen = seen


class Coordinator(TracedActor):
    """Creates workers inside its (traced) handler, as a benchmark driver creates its load generators."""

    def receiveMsg_Spawn(self, msg, sender):
        child = self.createActor(msg.cls)
        self.send(sender, Spawned(child, current_ids()))


class Worker(TracedActor):
    """Records the context it runs under: at __init__, in handlers, in wakeups and pool threads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.init_ids = current_ids()
        # A span opened at start-up (a connection pool warming up): must not join the creator's trace.
        with tracer.start_as_current_span("warm-up " + type(self).__name__, kind=SpanKind.CLIENT):
            pass

    def _client_call(self, name):
        with tracer.start_as_current_span(name, kind=SpanKind.CLIENT):
            return current_ids()

    def receiveMsg_Fetch(self, msg, sender):
        seen = {"init": self.init_ids, "handler": current_ids()}
        if msg.how == "client":
            seen["client"] = self._client_call(msg.name)
            self.send(sender, Fetched(seen))
        elif msg.how in ("wakeup", "traced_wakeup"):
            self.asker = sender
            self.pending = seen
            if msg.how == "wakeup":
                self.wakeupAfter(timedelta(milliseconds=20), msg.name)
            else:
                self.traced_wakeup_after(timedelta(milliseconds=20), msg.name)
        elif msg.how == "pool":
            with ThreadPoolExecutor(max_workers=2) as pool:
                # Without carrying the context: the thread starts empty (never the creator's span).
                seen["pool_bare"] = pool.submit(self._client_call, msg.name + " bare").result()
                # The documented way to carry it: run the job in a copy of this handler's context.
                ctx = contextvars.copy_context()
                seen["pool_carried"] = pool.submit(ctx.run, self._client_call, msg.name).result()
            self.send(sender, Fetched(seen))

    def receiveMsg_WakeupMessage(self, msg, sender):
        seen = dict(getattr(self, "pending", {}))
        seen["wakeup_handler"] = current_ids()
        seen["client"] = self._client_call(msg.payload)
        self.send(self.asker, Fetched(seen))


class Leaky(TracedActor):
    """A handler that attaches a context and never detaches it (a begin/end-request hook pair whose end
    never runs): the next message must not inherit it."""

    def receiveMsg_str(self, msg, sender):
        if msg == "leak":
            from opentelemetry import context
            span = tracer.start_span("begin-request")
            context.attach(trace.set_span_in_context(span))   # the matching detach never comes
            span.end()
            self.send(sender, current_ids())
        elif msg == "state":
            self.send(sender, current_ids())


class RootWorker(Worker):
    """A worker that starts a root trace for each untraced message (an entry point of its own)."""

    start_traces = True


class Idle(TracedActor):
    """Exists only to be created; answers its init-time context."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.init_ids = current_ids()

    def receiveMsg_str(self, msg, sender):
        if msg == "state":
            self.send(sender, ("init", self.init_ids, "now", current_ids()))


__all__ = ["Coordinator", "Worker", "RootWorker", "Idle", "Spawn", "Spawned", "Fetch", "Fetched",
           "WakeupMessage", "current_ids"]
