"""Actors for the switch tests (a module, so multi-process bases can import them by path).

A traced chain (Front -> Hop), a fanout (Caster -> Listener x3), and two actors that were not migrated
(an ActorTypeDispatcher and a plain Actor that only answers ``str``): every one of them reports whether
it ever saw an Envelope, and what its process counted.
"""
from thespian.actors import Actor, ActorTypeDispatcher

from thespian_trace import Envelope, TracedActor, stats
from thespian_trace.config import settings


class Job:
    def __init__(self, n, suppress=False):
        self.n = n
        self.suppress = suppress


class Done:
    def __init__(self, n, leaked, path):
        self.n = n
        self.leaked = leaked
        self.path = path


def _leaked(*objs):
    return any(isinstance(o, Envelope) for o in objs)


def process_report():
    """What this actor's process made: carriers built, the mode in force."""
    s = stats()
    return {"carriers_built": s["carriers_built"], "active_mode": settings.active_mode,
            "mode": settings.mode, "disabled": settings.disabled}


class Hop(TracedActor):
    def receiveMsg_Job(self, msg, sender):
        self.traced_send(sender, Done(msg.n, _leaked(msg), ["hop"]))

    def receiveMsg_str(self, msg, sender):
        if msg == "report":
            self.send(sender, process_report())


class Front(TracedActor):
    """Forwards a Job to its Hop (optionally with instrumentation suppressed) and answers the asker."""

    def receiveMsg_Job(self, msg, sender):
        if not hasattr(self, "hop"):
            self.hop = self.createActor(Hop)
        self.asker = sender
        if msg.suppress:
            from opentelemetry.instrumentation.utils import suppress_instrumentation
            with suppress_instrumentation():
                self.traced_send(self.hop, Job(msg.n))
        else:
            self.traced_send(self.hop, Job(msg.n))
        self.leaked = _leaked(msg)

    def receiveMsg_Done(self, msg, sender):
        self.traced_send(self.asker, Done(msg.n, msg.leaked or self.leaked or _leaked(msg), ["front"] + msg.path))

    def receiveMsg_str(self, msg, sender):
        if msg == "report":
            self.send(sender, process_report())
        elif msg == "hop":
            if not hasattr(self, "hop"):
                self.hop = self.createActor(Hop)
            self.send(sender, self.hop)


class Listener(TracedActor):
    def receiveMsg_Job(self, msg, sender):
        self.send(sender, Done(msg.n, _leaked(msg), ["listener"]))


class Caster(TracedActor):
    """Fans a Job out to three Listeners it created; answers once all acknowledged."""

    def receiveMsg_Job(self, msg, sender):
        if not hasattr(self, "listeners"):
            self.listeners = [self.createActor(Listener) for _ in range(3)]
        self.asker, self.acks = sender, []
        self.traced_fanout(self.listeners, Job(msg.n), keep=1)   # one kept, two markers

    def receiveMsg_Done(self, msg, sender):
        self.acks.append(msg)
        if len(self.acks) == len(self.listeners):
            self.send(self.asker, Done(msg.n, any(a.leaked for a in self.acks), ["caster"]))


class Legacy(ActorTypeDispatcher):
    """Not migrated: an ActorTypeDispatcher with a handler for Job only."""

    def receiveMsg_Job(self, msg, sender):
        self.send(sender, Done(msg.n, _leaked(msg), ["legacy"]))


class StrOnly(Actor):
    """Not migrated: a plain Actor that answers only strings (issue 14's example)."""

    def receiveMessage(self, msg, sender):
        if isinstance(msg, str):
            self.send(sender, "got " + msg)
        elif isinstance(msg, Envelope):
            self.send(sender, "ENVELOPE")
