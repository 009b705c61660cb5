"""A plain Actor that overrides receiveMessage."""
from thespian.actors import Actor, ActorExitRequest


class Auditor(Actor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = []

    def receiveMessage(self, message, sender):
        if isinstance(message, ActorExitRequest):
            return
        self.log.append(message)
        self.send(sender, len(self.log))
