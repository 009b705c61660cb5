"""Actor classes for the runtime tests (a module, so multi-process bases can import them by path)."""
from datetime import timedelta

from opentelemetry import trace
from thespian.actors import (Actor, ActorExitRequest, ActorTypeDispatcher, ChildActorExited,
                             DeadEnvelope, PoisonMessage, WakeupMessage)
from thespian.initmsgs import initializing_messages
from thespian.transient import transient, transient_idle
from thespian.troupe import troupe

from thespian_trace import Envelope, TracedActor, TracedActorMixin, TracedPlainActor


class Ping:
    def __init__(self, n, reply_to=None):
        self.n = n
        self.reply_to = reply_to


class Pong:
    def __init__(self, n, seen):
        self.n = n
        self.seen = seen


class Hop(TracedActor):
    """Second hop: answers the original asker directly."""

    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(msg.reply_to, Pong(msg.n, [type(msg).__name__]))


class Front(TracedActor):
    """First hop: forwards to Hop with the asker's address."""

    def receiveMsg_Ping(self, msg, sender):
        if not hasattr(self, "hop"):
            self.hop = self.createActor(Hop)
        self.traced_send(self.hop, Ping(msg.n, reply_to=sender))


def _describe(msg):
    if isinstance(msg, WakeupMessage):
        return ("WakeupMessage", _describe(msg.payload))
    if isinstance(msg, PoisonMessage):
        return ("PoisonMessage", _describe(msg.poisonMessage))
    if isinstance(msg, DeadEnvelope):
        return ("DeadEnvelope", _describe(msg.deadMessage))
    if isinstance(msg, Envelope):
        return ("ENVELOPE-LEAKED",)
    if isinstance(msg, (str, int, tuple)):
        return msg
    return type(msg).__name__


class Recorder(TracedActor):
    """Records what its handlers see; answers "report" with the list and whether a span was current."""

    def receiveMsg_str(self, msg, sender):
        if msg == "report":
            self.send(sender, list(getattr(self, "seen", [])))
            return
        return self.SUPER

    def receiveMsg_object(self, msg, sender):
        sc = trace.get_current_span().get_span_context()
        self.__dict__.setdefault("seen", []).append((_describe(msg), bool(sc.trace_flags.sampled)))


class StartEngine:
    pass


class Crasher(TracedActor):
    def receiveMsg_StartEngine(self, msg, sender):
        raise RuntimeError("engine on fire")


class PoisonWatcher(TracedActor):
    """Sends a traced StartEngine to a Crasher and reports what the PoisonMessage held."""

    def receiveMsg_str(self, msg, sender):
        if msg == "go":
            self.asker = sender
            self.traced_send(self.createActor(Crasher), StartEngine())

    def receiveMsg_PoisonMessage(self, msg, sender):
        self.send(self.asker, ("poison", isinstance(msg.poisonMessage, StartEngine),
                               type(msg.poisonMessage).__name__))


class DeadLetterWatcher(TracedActor):
    """Handles dead letters; reports what DeadEnvelope.deadMessage held."""

    def receiveMsg_str(self, msg, sender):
        if msg == "watch":
            self.handleDeadLetters()
            self.send(sender, "watching")
        elif msg == "go":
            self.asker = sender
            self.victim = self.createActor(Recorder)
            self.send(self.victim, ActorExitRequest())

    def receiveMsg_ChildActorExited(self, msg, sender):
        self.traced_send(self.victim, StartEngine())

    def receiveMsg_DeadEnvelope(self, msg, sender):
        if hasattr(self, "asker"):
            self.send(self.asker, ("dead", isinstance(msg.deadMessage, StartEngine),
                                   type(msg.deadMessage).__name__))


class Sleeper(TracedActor):
    """Schedules a traced wakeup; reports the payload it got back."""

    def receiveMsg_str(self, msg, sender):
        if msg == "nap":
            self.asker = sender
            self.traced_wakeup_after(timedelta(milliseconds=50), ("payload", 7))

    def receiveMsg_WakeupMessage(self, msg, sender):
        sc = trace.get_current_span().get_span_context()
        self.send(self.asker, ("woke", msg.payload, bool(sc.trace_flags.sampled)))


@troupe(max_count=3, idle_count=1)
class TroupeWorker(TracedActor):
    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.n, ["troupe"]))


@transient(timedelta(seconds=3))
class TransientWorker(TracedActor):
    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.n, ["transient"]))


@transient_idle(timedelta(seconds=3))
class TransientIdleWorker(TracedActor):
    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.n, ["transient_idle"]))


class Config:
    def __init__(self, name):
        self.name = name


@initializing_messages([("config", Config, True)], initdone="init_done")
class InitWorker(TracedActor):
    def init_done(self):
        pass

    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.n, ["init", self.config.name]))


class PlainWorker(TracedPlainActor):
    """A plain Actor overriding receiveMessage, migrated through TracedPlainActor."""

    def receiveMessage(self, msg, sender):
        if isinstance(msg, Ping):
            self.traced_send(sender, Pong(msg.n, ["plain", type(msg).__name__]))


class MixinWorker(TracedActorMixin, Actor):
    """A plain Actor with the mixin (relies on the receive hook for normalization)."""

    def receiveMessage(self, msg, sender):
        if isinstance(msg, Ping):
            self.traced_send(sender, Pong(msg.n, ["mixin", type(msg).__name__]))


class LegacyWorker(ActorTypeDispatcher):
    """Not migrated at all: still safe to receive Envelopes while the hook is installed."""

    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, Pong(msg.n, ["legacy", type(msg).__name__]))


class RootStarter(TracedActor):
    start_traces = True

    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.n, ["root"]))


class Parent(TracedActor):
    """Creates children, retires one, reports what it saw and how many children it still tracks.

    It answers only once the two remaining children have answered too: a child that has not connected
    yet when the test shuts the system down hits Thespian's createActor/exit race (tests/thespian_races.py),
    which the test is not about.
    """

    def receiveMsg_str(self, msg, sender):
        if msg == "go":
            self.asker, self.exited, self.answered = sender, None, 0
            self.kids = [self.createActor(Recorder) for _ in range(3)]
            self.send(self.kids[0], ActorExitRequest())
            for kid in self.kids[1:]:
                self.send(kid, "report")

    def receiveMsg_list(self, msg, sender):  # a remaining child's answer: it is connected
        self.answered += 1
        self._answer_when_done()

    def receiveMsg_ChildActorExited(self, msg, sender):
        self.exited = ("exited", msg.childAddress == self.kids[0], len(self._tt_children))
        self._answer_when_done()

    def _answer_when_done(self):
        if self.exited is not None and self.answered == len(self.kids) - 1:
            self.send(self.asker, self.exited)


class ChainBase(TracedPlainActor):
    """A plain-actor base class whose subclass calls super().receiveMessage()."""

    def receiveMessage(self, msg, sender):
        if isinstance(msg, Ping):
            sc = trace.get_current_span().get_span_context()
            self.traced_send(sender, Pong(msg.n, ["base", bool(sc.trace_flags.sampled)]))


class ChainChild(ChainBase):
    def receiveMessage(self, msg, sender):
        sc = trace.get_current_span().get_span_context()
        self.child_saw_sampled = bool(sc.trace_flags.sampled)
        return super().receiveMessage(msg, sender)


class MixinDispatchWorker(TracedActorMixin, ActorTypeDispatcher):
    """The mixin on an ActorTypeDispatcher (handlers by type, no receiveMessage of its own)."""

    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.n, ["mixin-dispatch", type(msg).__name__]))


def _root_reply(tag, msg):
    sc = trace.get_current_span().get_span_context()
    return Pong(msg.n, [tag, type(msg).__name__, bool(sc.trace_flags.sampled)])


class PlainRootWorker(TracedPlainActor):
    """TracedPlainActor with start_traces: an entry point of its own."""

    start_traces = True

    def receiveMessage(self, msg, sender):
        if isinstance(msg, Ping):
            self.send(sender, _root_reply("plain", msg))


class MixinRootWorker(TracedActorMixin, Actor):
    """The mixin on a plain Actor with start_traces: must behave exactly like PlainRootWorker."""

    start_traces = True

    def receiveMessage(self, msg, sender):
        if isinstance(msg, Ping):
            self.send(sender, _root_reply("mixin", msg))


class MixinDispatchRootWorker(TracedActorMixin, ActorTypeDispatcher):
    start_traces = True

    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, _root_reply("mixin-dispatch", msg))


@transient(timedelta(seconds=3))
class TransientMixinRootWorker(TracedActorMixin, Actor):
    """A Thespian class decorator around the mixin: the decorator's receiveMessage calls ours."""

    start_traces = True

    def receiveMessage(self, msg, sender):
        if isinstance(msg, Ping):
            self.send(sender, _root_reply("transient-mixin", msg))
