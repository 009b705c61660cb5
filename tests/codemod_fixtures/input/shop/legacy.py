"""Odd corners: unresolved bases, module-level helpers, opted-out classes, already traced code."""
from plugins import *  # noqa: F403
from thespian.actors import ActorTypeDispatcher
from thespian_trace import TracedActor


class PluginActor(PluginBase):  # noqa: F405
    def receiveMsg_str(self, text, sender):
        self.send(sender, text)


def forward(self, target, message):
    """Called with an actor as `self` from elsewhere."""
    self.send(target, message)


class Frozen(ActorTypeDispatcher):  # thespian-trace: ignore reason="owned by team B" until=2099-01-01
    def receiveMsg_str(self, text, sender):
        self.send(sender, text)


class AlreadyTraced(TracedActor):
    def receiveMsg_str(self, text, sender):
        self.traced_send(sender, text)
        self.send(sender, "second")


class Overriding(ActorTypeDispatcher):
    def send(self, target, message):
        super().send(target, ("wrapped", message))

    def receiveMsg_str(self, text, sender):
        self.send(sender, text)
