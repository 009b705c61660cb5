"""Project base classes for every shop actor."""
from thespian.actors import ActorExitRequest
from thespian_trace import TracedActor

__all__ = ["ShopActor", "ActorExitRequest"]


class ShopActor(TracedActor):
    """Base of all shop actors: adds reply helpers."""

    def reply(self, to, message):
        # a helper every subclass uses
        self.traced_send(to, message)

    def receiveMsg_ActorExitRequest(self, message, sender):
        pass
