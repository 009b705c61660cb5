"""Actors for the multi-host tests (test_multihost.py), placed on hosts by capability.

Every host's actor system advertises ``host_<name>: True``; ``@requireCapability`` makes the
Convention create each class on its host, whoever asks for it.

Steady pipeline (one connected trace across three hosts)::

    edge (A, traced_ask) -> Entry (B) -> Worker (C) -> Sink (A)
                            `-- Accepted reply to the edge

Fanout: edge (A) -> Fanner (B) -> traced_fanout to FanWorkerB x4 (B) and FanWorkerC x4 (C), each
acking to the Fanner, which answers the edge once all eight acked.

Every actor counts what it handled (per ``(run, seq)``), records its host and PID and the longest
time one of its handlers took, and answers ``Report`` with that.
"""
import os
import time

from opentelemetry import trace
from thespian.actors import ActorExitRequest, requireCapability

from thespian_trace import TracedActor, get_mode


def host_name():
    return os.environ.get("TT_HOST", "?")


class Request:
    def __init__(self, run, seq):
        self.run, self.seq = run, seq


class Accepted:
    def __init__(self, run, seq, host):
        self.run, self.seq, self.host = run, seq, host


class Work:
    def __init__(self, run, seq, sink):
        self.run, self.seq, self.sink = run, seq, sink


class Done:
    def __init__(self, run, seq, host, mode):
        self.run, self.seq, self.host, self.mode = run, seq, host, mode


class FanRequest:
    def __init__(self, run, seq):
        self.run, self.seq = run, seq


class Fan:
    def __init__(self, run, seq):
        self.run, self.seq = run, seq


class FanAck:
    def __init__(self, run, seq, host):
        self.run, self.seq, self.host = run, seq, host


class FanDone:
    def __init__(self, run, seq, hosts):
        self.run, self.seq, self.hosts = run, seq, hosts


class Setup:
    def __init__(self, sink=None):
        self.sink = sink


class Report:
    """Answered with {"host", "pid", "mode", "cls", "handled": {"run:seq": count},
    "times": {"run:seq": wall-clock time first handled}, "max_handler_s"}."""


class Counted(TracedActor):
    """Counts every handled message by (run, seq) and times every handler."""

    def receiveMessage(self, msg, sender):
        if isinstance(msg, ActorExitRequest):
            return super().receiveMessage(msg, sender)
        t0 = time.monotonic()
        try:
            return super().receiveMessage(msg, sender)
        finally:
            took = time.monotonic() - t0
            if took > self.__dict__.get("max_handler_s", 0.0):
                self.max_handler_s = took

    def count(self, msg):
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("tt.run", msg.run)
            span.set_attribute("tt.seq", msg.seq)
            span.set_attribute("tt.mode", get_mode())
        handled = self.__dict__.setdefault("handled", {})
        key = "%s:%s" % (msg.run, msg.seq)
        handled[key] = handled.get(key, 0) + 1
        self.__dict__.setdefault("times", {}).setdefault(key, time.time())  # first handling, wall clock

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, {"host": host_name(), "pid": os.getpid(), "mode": get_mode(),
                           "cls": type(self).__name__, "handled": dict(self.__dict__.get("handled", {})),
                           "times": dict(self.__dict__.get("times", {})),
                           "max_handler_s": self.__dict__.get("max_handler_s", 0.0)})


@requireCapability("host_a")
class Sink(Counted):
    def receiveMsg_Done(self, msg, sender):
        self.count(msg)


@requireCapability("host_c")
class Worker(Counted):
    def receiveMsg_Work(self, msg, sender):
        self.count(msg)
        self.traced_send(msg.sink, Done(msg.run, msg.seq, host_name(), get_mode()))


@requireCapability("host_b")
class Entry(Counted):
    """Accepts each Request at once (the edge never waits for C) and passes it on to C."""

    def receiveMsg_Setup(self, msg, sender):
        self.sink = msg.sink
        self.worker = self.createActor(Worker)
        self.send(sender, {"worker": self.worker})

    def receiveMsg_Request(self, msg, sender):
        self.count(msg)
        self.traced_send(self.worker, Work(msg.run, msg.seq, self.sink))
        self.send(sender, Accepted(msg.run, msg.seq, host_name()))


class FanWorker(Counted):
    def receiveMsg_Fan(self, msg, sender):
        self.count(msg)
        self.traced_send(sender, FanAck(msg.run, msg.seq, host_name()))


@requireCapability("host_b")
class FanWorkerB(FanWorker):
    pass


@requireCapability("host_c")  # (requirements accumulate along the bases: not a FanWorkerB subclass)
class FanWorkerC(FanWorker):
    pass


@requireCapability("host_b")
class Fanner(Counted):
    """Fans each request out to four workers on B and four on C (all traced: keep = N)."""

    def receiveMsg_Setup(self, msg, sender):
        self.workers = ([self.createActor(FanWorkerB) for _ in range(4)]
                        + [self.createActor(FanWorkerC) for _ in range(4)])
        self.pending = {}
        self.send(sender, {"workers": list(self.workers)})

    def receiveMsg_FanRequest(self, msg, sender):
        self.count(msg)
        self.pending[(msg.run, msg.seq)] = (sender, [])
        self.traced_fanout(self.workers, Fan(msg.run, msg.seq), keep=len(self.workers))

    def receiveMsg_FanAck(self, msg, sender):
        asker, hosts = self.pending.get((msg.run, msg.seq), (None, None))
        if asker is None:
            return
        hosts.append(msg.host)
        if len(hosts) == len(self.workers):
            del self.pending[(msg.run, msg.seq)]
            self.send(asker, FanDone(msg.run, msg.seq, sorted(hosts)))


class Registrar(TracedActor):
    """Follows Convention membership; answers "members?" with the capabilities of every member."""

    def receiveMsg_str(self, msg, sender):
        if msg == "watch":
            self.members = {}
            self.notifyOnSystemRegistrationChanges(True)
            self.send(sender, "watching")
        elif msg == "members?":
            self.send(sender, [dict(caps) for caps in self.__dict__.get("members", {}).values()])

    def receiveMsg_ActorSystemConventionUpdate(self, msg, sender):
        members = self.__dict__.setdefault("members", {})
        if msg.remoteAdded:
            members[str(msg.remoteAdminAddress)] = dict(msg.remoteCapabilities or {})
        else:
            members.pop(str(msg.remoteAdminAddress), None)
