"""Actor classes for the two-system Convention tests (a module, so every process can import it by path).

Which actor system an actor runs in is read from ``TT_SYSTEM_NAME``: the test sets it in the pytest
process just before it creates each system, so each Admin (forked then) and every actor that Admin or
its actors fork inherit their own system's name. Handlers record it on their span (``tt.system``) and in
their replies, so a test can prove that one trace really crossed both systems.
"""
import os

from opentelemetry import trace
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
# Rollout under load: Producer (system A) -> Head (B) -> Tail (B) -> Ack -> Producer (A)


class Setup:
    def __init__(self, heads):
        self.heads = heads


class Tick:
    """From the test driver to the Producer: send work item ``seq``."""

    def __init__(self, seq):
        self.seq = seq


class Work:
    def __init__(self, seq, producer, head_mode=None):
        self.seq = seq
        self.producer = producer
        self.head_mode = head_mode


class Ack:
    def __init__(self, seq, head_mode, tail_mode):
        self.seq = seq
        self.head_mode = head_mode
        self.tail_mode = tail_mode


class Report:
    """Asked of any rollout actor: what it handled (``handled`` maps seq -> how many times)."""


class Producer(TracedActor):
    """System A. Creates the Heads on system B (by capability); turns each Tick into a Work."""

    def receiveMsg_Setup(self, msg, sender):
        self.heads = [self.createActor(Head) for _ in range(msg.heads)]
        self.handled = {}
        self.acks = {}
        self.send(sender, list(self.heads))

    def receiveMsg_Tick(self, msg, sender):
        _mark(seq=msg.seq)
        self.handled[msg.seq] = self.handled.get(msg.seq, 0) + 1
        head = self.heads[msg.seq % len(self.heads)]
        self.traced_send(head, Work(msg.seq, self.myAddress))

    def receiveMsg_Ack(self, msg, sender):
        _mark(seq=msg.seq)
        self.acks[msg.seq] = (self.acks.get(msg.seq, (0,))[0] + 1, msg.head_mode, msg.tail_mode)

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, {"system": system_name(), "mode": get_mode(), "handled": dict(self.handled),
                           "acks": dict(self.acks)})


@requireCapability(SINK_CAPABILITY)
class Head(TracedActor):
    """System B. Forwards each Work to its own Tail child (so SetTraceMode must recurse to reach it)."""

    def receiveMsg_Work(self, msg, sender):
        mode = get_mode()
        _mark(seq=msg.seq, mode=mode)
        if not hasattr(self, "tail"):
            self.tail = self.createActor(Tail)
        self.handled = getattr(self, "handled", {})
        self.handled[msg.seq] = self.handled.get(msg.seq, 0) + 1
        self.traced_send(self.tail, Work(msg.seq, msg.producer, mode))

    def receiveMsg_Report(self, msg, sender):
        if not hasattr(self, "tail"):
            self.tail = self.createActor(Tail)
        self.send(sender, {"system": system_name(), "mode": get_mode(),
                           "handled": dict(getattr(self, "handled", {})), "tail": self.tail})


class Tail(TracedActor):
    """System B (child of a Head, created locally). Records the work and acks it to the Producer."""

    def receiveMsg_Work(self, msg, sender):
        mode = get_mode()
        _mark(seq=msg.seq, mode=mode)
        self.handled = getattr(self, "handled", {})
        self.handled[msg.seq] = self.handled.get(msg.seq, 0) + 1
        self.traced_send(msg.producer, Ack(msg.seq, msg.head_mode, mode))

    def receiveMsg_Report(self, msg, sender):
        self.send(sender, {"system": system_name(), "mode": get_mode(),
                           "handled": dict(getattr(self, "handled", {}))})
