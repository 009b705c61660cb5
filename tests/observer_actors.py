"""Actors for tests/test_observers.py: a recording delivery/lifecycle observer installed at import,
so it is in force in every actor process of the multi-process bases too (they import this module)."""
from thespian.actors import ActorTypeDispatcher

from thespian_trace import TracedActor
from thespian_trace._state import observers

SEEN = []  # (event, actor class name, message type name, guarded) in this process


def _delivery(inst, message, sender, call, guarded):
    SEEN.append(("delivery", type(inst).__name__, type(message).__name__, guarded))
    return call(message, sender)


def _lifecycle(inst, event):
    SEEN.append((event, type(inst).__name__, None, None))


def install():
    observers.delivery = _delivery
    observers.lifecycle = _lifecycle


install()


class Report:
    """Ask a Recorder for what this process observed."""


class Ping:
    pass


class Recorder(TracedActor):
    def receiveMsg_Report(self, msg, sender):
        self.send(sender, list(SEEN))

    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, "pong")


class BareRecorder(ActorTypeDispatcher):
    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, "pong")


class Fanner(TracedActor):
    """Fans a Ping out to ``n`` BareRecorders (markers for the recipients not kept)."""

    def receiveMsg_int(self, n, sender):
        children = [self.createActor(BareRecorder) for _ in range(n)]
        self.traced_fanout(children, Ping())
        self.send(sender, len(children))
