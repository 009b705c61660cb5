"""Actors for the shutdown investigation (tools/shutdown_repro.py) and the shutdown tests.

The pattern of ``tt_actors.Parent`` (the test that occasionally left an actor system alive): a parent
creates three children, retires the first with ``ActorExitRequest`` and answers once it sees
``ChildActorExited``; the caller then shuts the system down right away. The same logic exists twice:
on Thespian alone (``BareParent`` here; this module never imports thespian_trace) and traced
(``TracedParent`` in ``shutdown_traced_actors``).
The answer carries the parent's PID so survivors can be classified (admin, logger, parent, child).
"""
import os

from thespian.actors import ActorExitRequest, ActorTypeDispatcher


class BareKid(ActorTypeDispatcher):
    def receiveMsg_str(self, msg, sender):
        self.send(sender, msg)


class BareParent(ActorTypeDispatcher):
    kid_class = BareKid

    def receiveMsg_str(self, msg, sender):
        if msg == "go":
            self.asker = sender
            self.kids = [self.createActor(self.kid_class) for _ in range(3)]
            self.send(self.kids[0], ActorExitRequest())

    def receiveMsg_ChildActorExited(self, msg, sender):
        self.send(self.asker, ("exited", msg.childAddress == self.kids[0], os.getpid()))


class EagerParent(ActorTypeDispatcher):
    """Creates a child and retires itself in the same handler: the child cannot have connected yet,
    so Thespian's createActor/exit race happens every time (see thespian_races.py)."""

    def receiveMsg_str(self, msg, sender):
        if msg == "go":
            self.kid = self.createActor(BareKid)
            self.send(sender, ("going", os.getpid()))
            self.send(self.myAddress, ActorExitRequest())


class BareBoss(ActorTypeDispatcher):
    """A small tree: creates four BareKids on "ping" and answers once all four answered (so no
    child is still starting when the system shuts down)."""

    kid_class = BareKid

    def receiveMsg_str(self, msg, sender):
        if msg == "ping" and not hasattr(self, "kids"):
            self.asker, self.answers = sender, 0
            self.kids = [self.createActor(self.kid_class) for _ in range(4)]
            for kid in self.kids:
                self.send(kid, "ping")
        elif msg == "ping":
            self.answers += 1
            if self.answers == len(self.kids):
                self.send(self.asker, "ping")
