"""A plain Actor that overrides receiveMessage."""
from thespian.actors import ActorExitRequest
from thespian_trace import TracedPlainActor


class Auditor(TracedPlainActor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = []

    def receiveMessage(self, message, sender):
        if isinstance(message, ActorExitRequest):
            return
        self.log.append(message)
        self.traced_send(sender, len(self.log))
