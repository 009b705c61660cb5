"""Actors and hostile objects for the reliability tests (a module, so forked actor processes import it).

Everything here must be picklable by reference (module-level classes), because multiprocTCPBase sends
it between processes.
"""
import os
import time
from collections.abc import Mapping

from opentelemetry import trace
from thespian.actors import ActorExitRequest, ActorTypeDispatcher, ChildActorExited, PoisonMessage

from thespian_trace import Envelope, TracedActor, stats


# --------------------------------------------------------------------------------------------------
# Hostile carrier objects (things a peer of another version/team could put where a carrier goes)


class RaisingBool:
    """Truthiness raises (like a numpy array with more than one element)."""

    def __bool__(self):
        raise ValueError("truth value is ambiguous")

    def __len__(self):
        raise ValueError("no len")


class RaisingMapping(Mapping):
    """A Mapping whose every access raises."""

    def __getitem__(self, key):
        raise RuntimeError("getitem")

    def __iter__(self):
        raise RuntimeError("iter")

    def __len__(self):
        return 1

    def get(self, key, default=None):
        raise RuntimeError("get")


class SneakyStr(str):
    """A str subclass whose methods would run code: the carrier sieve must never call them."""

    calls = 0

    def _hit(self, *a, **k):
        # Counting only works in-process (simpleSystemBase / direct deliver), which is where it is used.
        type(self).calls += 1
        raise RuntimeError("SneakyStr method called")

    __getitem__ = _hit
    __len__ = _hit
    lstrip = _hit
    strip = _hit
    split = _hit
    encode = _hit


class RawEnvelope:
    """Pickles to ``Envelope`` with exactly ``state`` (as an older, newer or hostile build could):
    unpickling runs ``Envelope.__setstate__(state)`` in the receiving process."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return (Envelope, (), self.state)


# --------------------------------------------------------------------------------------------------
# Messages


class Item:
    """A uniquely identified payload; the handler counts deliveries per ``key``."""

    def __init__(self, key):
        self.key = key


class Boom:
    def __init__(self, n):
        self.n = n


# --------------------------------------------------------------------------------------------------
# Actors


class DeliveryCounter(TracedActor):
    """Counts deliveries per ``Item.key`` (and of anything else, by repr); answers queries.

    ("count", key) -> number of times an Item with that key reached the handler.
    ("total",)     -> (total deliveries, envelopes leaked to the handler, this process's stats()).
    """

    def receiveMsg_tuple(self, msg, sender):
        counts = self.__dict__.setdefault("counts", {})
        if msg and msg[0] == "count":
            self.send(sender, counts.get(msg[1], 0))
        elif msg and msg[0] == "total":
            self.send(sender, (sum(counts.values()), self.__dict__.get("leaked", 0), stats()))
        else:
            return self.SUPER

    def receiveMsg_object(self, msg, sender):
        counts = self.__dict__.setdefault("counts", {})
        if type(msg).__name__ == "Envelope":
            self.leaked = self.__dict__.get("leaked", 0) + 1
        key = msg.key if isinstance(msg, Item) else ("other", repr(msg)[:80])
        counts[key] = counts.get(key, 0) + 1


class _FailerBase:
    """Raises on every Boom; counts invocations; ("count",) -> invocations so far."""

    def receiveMsg_Boom(self, msg, sender):
        self.invocations = self.__dict__.get("invocations", 0) + 1
        raise RuntimeError("boom %d" % msg.n)

    def receiveMsg_tuple(self, msg, sender):
        if msg == ("count",):
            self.send(sender, self.__dict__.get("invocations", 0))


class BareFailer(_FailerBase, ActorTypeDispatcher):
    pass


class TracedFailer(_FailerBase, TracedActor):
    pass


class FailDriver(TracedActor):
    """("go", failer_class, traced): creates the failer, sends it Boom(7) bare or traced, and answers
    the asker with what came back: ("poison", type name of poisonMessage, its .n, failer invocations).
    """

    def receiveMsg_tuple(self, msg, sender):
        if msg[0] == "go":
            _, failer_cls, traced = msg
            self.asker = sender
            self.failer = self.createActor(failer_cls)
            if traced:
                self.traced_send(self.failer, Boom(7))
            else:
                self.send(self.failer, Boom(7))
        elif msg[0] == "result":
            self.send(sender, getattr(self, "result", None))

    def receiveMsg_PoisonMessage(self, msg, sender):
        inner = msg.poisonMessage
        self.poison = (type(inner).__name__, getattr(inner, "n", None))
        self.send(self.failer, ("count",))

    def receiveMsg_int(self, msg, sender):
        self.result = ("poison",) + self.poison + (msg,)
        self.send(self.asker, self.result)


class PidReporter(TracedActor):
    """"pid" -> os.getpid(); ("sleep", s) sleeps in the handler (a long traced piece of work);
    ("ping", n) -> ("pong", n, sampled?)."""

    def receiveMsg_str(self, msg, sender):
        if msg == "pid":
            self.send(sender, os.getpid())

    def receiveMsg_tuple(self, msg, sender):
        if msg[0] == "sleep":
            time.sleep(msg[1])
            self.send(sender, "slept")
        elif msg[0] == "ping":
            sc = trace.get_current_span().get_span_context()
            self.send(sender, ("pong", msg[1], bool(sc.trace_flags.sampled)))


class Victim(PidReporter):
    pass


class Survivor(PidReporter):
    pass


class Quitter(PidReporter):
    pass


class Supervisor(TracedActor):
    """Creates named children; records ChildActorExited.

    ("spawn", name, cls) -> child address; ("exited",) -> names of children that exited.
    """

    def receiveMsg_tuple(self, msg, sender):
        kids = self.__dict__.setdefault("kids", {})
        if msg[0] == "spawn":
            addr = self.createActor(msg[2])
            kids[msg[1]] = addr
            self.send(sender, addr)
        elif msg[0] == "exited":
            self.send(sender, sorted(self.__dict__.get("exited", [])))
        elif msg[0] == "stop":
            self.send(kids[msg[1]], ActorExitRequest())

    def receiveMsg_ChildActorExited(self, msg, sender):
        kids = self.__dict__.get("kids", {})
        for name, addr in kids.items():
            if addr == msg.childAddress:
                self.__dict__.setdefault("exited", []).append(name)


__all__ = ["RawEnvelope", "RaisingBool", "RaisingMapping", "SneakyStr", "Item", "Boom", "DeliveryCounter",
           "BareFailer", "TracedFailer", "FailDriver", "PidReporter", "Victim", "Survivor", "Quitter",
           "Supervisor", "ChildActorExited", "PoisonMessage"]
