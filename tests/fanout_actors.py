"""Actor classes for the cost-control tests (a module, so multi-process bases can import them by path)."""
from opentelemetry import trace

from thespian_trace import Envelope, TracedActor, get_mode


class Announcement:
    """The fanned-out message; equality by value so handlers can prove they saw the identical one."""

    def __init__(self, text, serial):
        self.text = text
        self.serial = serial

    def __eq__(self, other):
        return type(other) is Announcement and (other.text, other.serial) == (self.text, self.serial)

    def __repr__(self):
        return "Announcement(%r, %r)" % (self.text, self.serial)


class Fanout:
    """Ask a Broadcaster to fan an Announcement out to ``targets`` (optionally exactly ``keep`` kept)."""

    def __init__(self, targets, text, keep=None):
        self.targets = list(targets)
        self.text = text
        self.keep = keep


class Ack:
    """What one recipient's handler saw."""

    def __init__(self, member, message, sampled, span_id, trace_id, is_envelope, obj_id):
        self.member = member
        self.message = message
        self.sampled = sampled
        self.span_id = span_id
        self.trace_id = trace_id
        self.is_envelope = is_envelope
        self.obj_id = obj_id


class Report:
    """Broadcaster's answer once every recipient acknowledged."""

    def __init__(self, kept, sent, sent_id, acks, trace_id):
        self.kept = kept
        self.sent = sent
        self.sent_id = sent_id
        self.acks = acks
        self.trace_id = trace_id


def _hex_ids():
    sc = trace.get_current_span().get_span_context()
    if not sc.is_valid:
        return False, None, None
    return bool(sc.trace_flags.sampled), format(sc.span_id, "016x"), format(sc.trace_id, "032x")


class Member(TracedActor):
    """A fanout recipient: acknowledges (with a bare ``send``) what its handler saw."""

    def receiveMsg_Announcement(self, msg, sender):
        sampled, span_id, trace_id = _hex_ids()
        self.send(sender, Ack(str(self.myAddress), msg, sampled, span_id, trace_id,
                              isinstance(msg, Envelope), id(msg)))


class RootMember(Member):
    """A recipient whose class may start root traces: it still must not for a fanned-out message."""

    start_traces = True


class Broadcaster(TracedActor):
    """Fans an Announcement out with ``traced_fanout`` and reports every recipient's Ack to the asker."""

    def receiveMsg_Fanout(self, msg, sender):
        self.asker = sender
        self.expected = len(msg.targets)
        self.acks = []
        announcement = Announcement(msg.text, 7)
        self.sent = announcement
        _, _, self.trace_id = _hex_ids()
        self.kept = self.traced_fanout(msg.targets, announcement, keep=msg.keep)
        if self.expected == 0:
            self._report()

    def receiveMsg_Grow(self, msg, sender):
        self.send(sender, [self.createActor(msg.cls) for _ in range(msg.n)])

    def receiveMsg_Ack(self, msg, sender):
        self.acks.append(msg)
        if len(self.acks) == self.expected:
            self._report()

    def _report(self):
        self.send(self.asker, Report(self.kept, self.sent, id(self.sent), self.acks, self.trace_id))


class Grow:
    """Ask a Broadcaster to create ``n`` recipients of ``cls`` as its own children (one actor tree)."""

    def __init__(self, cls, n):
        self.cls = cls
        self.n = n


class RootBroadcaster(Broadcaster):
    start_traces = True


# ------------------------------------------------------------------------------------------------
# Envelope / rollout-mode helpers

KEPT = []  # simpleSystemBase only: what Keeper's handler received (same process, same objects)


class Forward:
    def __init__(self, target, payload):
        self.target = target
        self.payload = payload


class Keeper(TracedActor):
    """Remembers every object its handler gets (simpleSystemBase: in this very process)."""

    def receiveMsg_object(self, msg, sender):
        sampled, span_id, trace_id = _hex_ids()
        KEPT.append((msg, sampled, span_id, trace_id))


class Relay(TracedActor):
    """Forwards ``payload`` to ``target`` with ``traced_send``; replies "sent". May start roots."""

    start_traces = True

    def receiveMsg_Forward(self, msg, sender):
        self.traced_send(msg.target, msg.payload)
        self.send(sender, "sent")


class ModeProbe(TracedActor):
    """Records every message its handlers see; reports its process's mode; can spawn a child."""

    def receiveMsg_str(self, msg, sender):
        if msg == "spawn":
            self.send(sender, self.createActor(ModeProbe))
        elif msg == "mode":
            self.send(sender, get_mode())
        elif msg == "seen":
            self.send(sender, list(self.__dict__.get("seen", [])))
        else:
            return self.SUPER
        return None

    def receiveMsg_object(self, msg, sender):
        self.__dict__.setdefault("seen", []).append(type(msg).__name__)

    def receiveUnrecognizedMessage(self, msg, sender):
        self.__dict__.setdefault("seen", []).append("unrecognized:" + type(msg).__name__)
