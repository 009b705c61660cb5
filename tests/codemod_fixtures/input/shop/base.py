"""Project base classes for every shop actor."""
from thespian.actors import ActorTypeDispatcher as ATD, ActorExitRequest

__all__ = ["ShopActor", "ActorExitRequest"]


class ShopActor(ATD):
    """Base of all shop actors: adds reply helpers."""

    def reply(self, to, message):
        # a helper every subclass uses
        self.send(to, message)

    def receiveMsg_ActorExitRequest(self, message, sender):
        pass
