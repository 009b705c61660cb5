"""Actor classes for the two-system Convention tests (a module, so every process can import it by path).

Which actor system an actor runs in is read from ``TT_SYSTEM_NAME``: the test sets it in the pytest
process just before it creates each system, so each Admin (forked then) and every actor that Admin or
its actors fork inherit their own system's name. Handlers record it on their span (``tt.system``) and in
their replies, so a test can prove that one trace really crossed both systems.
"""
import os
import time
from datetime import timedelta

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from thespian.actors import requireCapability

from thespian_trace import TracedActor, get_mode

MEMBER_CAPABILITY = "TT Convention Member"
SINK_CAPABILITY = "TT Rollout Sink"


def system_name():
    return os.environ.get("TT_SYSTEM_NAME", "?")


def _mark(**attrs):
    """Put test attributes on the current span (no-op when no span is recording)."""
    span = trace.get_current_span()
    span.set_attribute("tt.system", system_name())
    span.set_attribute("tt.pid", os.getpid())
    for key, value in attrs.items():
        span.set_attribute("tt." + key, value)


# --------------------------------------------------------------------------------------------------
# Convention membership


class Registrar(TracedActor):
    """Subscribes to Convention updates; answers "members?" with the remote admins' capabilities."""

    def receiveMsg_str(self, msg, sender):
        if msg == "watch":
            self.members = {}
            self.notifyOnSystemRegistrationChanges(True)
            self.send(sender, "watching")
        elif msg == "members?":
            self.send(sender, [dict(caps) for caps in getattr(self, "members", {}).values()])

    def receiveMsg_ActorSystemConventionUpdate(self, msg, sender):
        members = self.__dict__.setdefault("members", {})
        key = str(msg.remoteAdminAddress)
        if msg.remoteAdded:
            members[key] = dict(msg.remoteCapabilities or {})
        else:
            members.pop(key, None)


# --------------------------------------------------------------------------------------------------
# One request crossing both systems: ask -> LeaderFront -> MemberWorker -> LeaderFront -> reply


class Request:
    def __init__(self, n, reply_to=None):
        self.n = n
        self.reply_to = reply_to


class Answer:
    def __init__(self, n, path):
        self.n = n
        self.path = path  # [(system, pid, actor class), ...] in the order the request visited them


@requireCapability(MEMBER_CAPABILITY)
class MemberWorker(TracedActor):
    """Lives on the member system only (placed there by capability)."""

    def receiveMsg_Request(self, msg, sender):
        _mark(n=msg.n)
        self.traced_send(sender, Answer(msg.n, [(system_name(), os.getpid(), "MemberWorker")]))


class LeaderFront(TracedActor):
    """Lives on the leader; forwards each request to a MemberWorker and relays the answer back."""

    def receiveMsg_Request(self, msg, sender):
        _mark(n=msg.n)
        if not hasattr(self, "worker"):
            self.worker = self.createActor(MemberWorker)
            self.waiting = {}
        self.waiting[msg.n] = sender
        self.traced_send(self.worker, Request(msg.n))

    def receiveMsg_Answer(self, msg, sender):
        _mark(n=msg.n)
        asker = self.waiting.pop(msg.n, None)
        if asker is not None:
            path = [(system_name(), os.getpid(), "LeaderFront")] + msg.path
            self.traced_send(asker, Answer(msg.n, path))


# --------------------------------------------------------------------------------------------------
# Rollout under load: Producer (system A) -> Head (B) -> Tail (B) -> Ack -> Collector (A)


class Setup:
    def __init__(self, heads):
        self.heads = heads


class Start:
    """Start the traffic: one Work message every ``interval`` seconds, at most ``limit`` of them."""

    def __init__(self, limit, interval):
        self.limit = limit
        self.interval = interval


class Stop:
    """Stop the traffic; the Producer answers with how many messages it sent."""


class Work:
    def __init__(self, seq, reply_to, sent, head_mode=None):
        self.seq = seq
        self.reply_to = reply_to
        self.sent = sent
        self.head_mode = head_mode


class Ack:
    def __init__(self, seq, sent, head_mode, tail_mode):
        self.seq = seq
        self.sent = sent
        self.head_mode = head_mode
        self.tail_mode = tail_mode


class Progress:
    """How many messages sent after ``since`` (wall clock) were acked having met ``mode`` on B?"""

    def __init__(self, since, mode):
        self.since = since
        self.mode = mode


class Report:
    """Asked of any rollout actor: what it handled (``handled`` maps seq -> how many times)."""


class Producer(TracedActor):
    """System A. Creates the Heads on system B (by capability) and a Collector on A, then emits Work
    at a steady rate on its own (paced by wakeups), each message in a new root span, so traffic never
    pauses while the test flips B's mode. Records when each message was sent (wall clock)."""

    def receiveMsg_Setup(self, msg, sender):
        self.heads = [self.createActor(Head) for _ in range(msg.heads)]
        self.collector = self.createActor(Collector)
        self.sent = {}
        self.limit = 0
        self.send(sender, (list(self.heads), self.collector))

    def receiveMsg_Start(self, msg, sender):
        self.limit, self.interval, self.t0 = msg.limit, msg.interval, time.time()
        self._emit()
        self.send(sender, "started")

    def receiveMsg_Stop(self, msg, sender):
        self.limit = len(self.sent)
        self.send(sender, len(self.sent))

    def receiveMsg_WakeupMessage(self, msg, sender):
        self._emit()

    def _emit(self):
        due = min(self.limit, int((time.time() - self.t0) / self.interval) + 1)
        tracer = trace.get_tracer("tt.rollout")
        while len(self.sent) < due:
            seq = len(self.sent)
            with tracer.start_as_current_span("emit Work", kind=SpanKind.PRODUCER,
                                              attributes={"tt.seq": seq, "tt.system": system_name()}):
                sent = self.sent[seq] = time.time()  # before the send: anything later is causally after
                self.traced_send(self.heads[seq % len(self.heads)], Work(seq, self.collector, sent))
        if len(self.sent) < self.limit:
            self.wakeupAfter(timedelta(seconds=self.interval))

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, {"system": system_name(), "mode": get_mode(), "sent": dict(self.sent)})


class Collector(TracedActor):
    """System A. Receives every Ack from B's Tails."""

    def receiveMsg_Ack(self, msg, sender):
        _mark(seq=msg.seq)
        acks = self.__dict__.setdefault("acks", {})
        count = acks.get(msg.seq, (0,))[0] + 1
        acks[msg.seq] = (count, msg.head_mode, msg.tail_mode, msg.sent, time.time())

    def receiveMsg_Progress(self, msg, sender):
        acks = getattr(self, "acks", {})
        self.send(sender, sum(1 for _, h, _, sent, _ in acks.values()
                              if sent > msg.since and h == msg.mode))

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, {"system": system_name(), "mode": get_mode(),
                           "acks": dict(getattr(self, "acks", {}))})


@requireCapability(SINK_CAPABILITY)
class Head(TracedActor):
    """System B. Forwards each Work to its own Tail child (so SetTraceMode must recurse to reach it)."""

    def _tail(self):
        if not hasattr(self, "tail"):
            self.tail = self.createActor(Tail)
        return self.tail

    def receiveMsg_Work(self, msg, sender):
        mode = get_mode()
        _mark(seq=msg.seq, mode=mode)
        self.handled = getattr(self, "handled", {})
        self.handled[msg.seq] = self.handled.get(msg.seq, 0) + 1
        self.traced_send(self._tail(), Work(msg.seq, msg.reply_to, msg.sent, mode))

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, {"system": system_name(), "mode": get_mode(),
                           "handled": dict(getattr(self, "handled", {})), "tail": self._tail()})


class Tail(TracedActor):
    """System B (child of a Head, created locally). Records the work and acks it to the Collector."""

    def receiveMsg_Work(self, msg, sender):
        mode = get_mode()
        _mark(seq=msg.seq, mode=mode)
        self.handled = getattr(self, "handled", {})
        self.handled[msg.seq] = self.handled.get(msg.seq, 0) + 1
        self.traced_send(msg.reply_to, Ack(msg.seq, msg.sent, msg.head_mode, mode))

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, {"system": system_name(), "mode": get_mode(),
                           "handled": dict(getattr(self, "handled", {}))})
