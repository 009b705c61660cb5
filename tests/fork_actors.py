"""Actors for the fork-safety stress (test_fork_safety.py): a Spawner forks many children from
inside a traced handler while its own span export thread is busy, each child answers in its own
traced handler, and every span must reach the collector."""
import os

from opentelemetry import trace

from thespian_trace import TracedActor


class Spawn:
    def __init__(self, n, noise):
        self.n, self.noise = n, noise


class Hello:
    def __init__(self, i):
        self.i = i


class Ack:
    def __init__(self, i, pid):
        self.i, self.pid = i, pid


class ForkChild(TracedActor):
    def receiveMsg_Hello(self, msg, sender):
        trace.get_current_span().set_attribute("tt.i", msg.i)
        stacks = os.environ.get("TT_FORK_STACKS")  # diagnostics: SIGUSR2 dumps this process's threads
        if stacks:
            import faulthandler
            import signal
            self._stacks = open(os.path.join(stacks, "stack-%d.txt" % os.getpid()), "w")
            faulthandler.register(signal.SIGUSR2, file=self._stacks, all_threads=True)
        self.traced_send(sender, Ack(msg.i, os.getpid()))


class Spawner(TracedActor):
    """Creates ``n`` children; before each fork, ends ``noise`` spans so the batch exporter always
    has work in flight when the process forks. Answers ("done", acks, distinct child pids)."""

    def receiveMsg_Spawn(self, msg, sender):
        self.asker, self.n, self.pids = sender, msg.n, {}
        tracer = trace.get_tracer("tt.fork")
        for i in range(msg.n):
            for _ in range(msg.noise):
                with tracer.start_as_current_span("noise"):
                    pass
            self.traced_send(self.createActor(ForkChild), Hello(i))

    def receiveMsg_Ack(self, msg, sender):
        self.pids[msg.i] = msg.pid
        if len(self.pids) == self.n:
            self.send(self.asker, ("done", len(self.pids), len(set(self.pids.values())), os.getpid(),
                                   dict(self.pids)))
