"""A project-local `Actor` that shadows Thespian's plain Actor."""
from thespian_trace import TracedActor


class Actor(TracedActor):
    """Our own Actor: a dispatcher with a default for unknown messages."""

    def receiveUnrecognizedMessage(self, message, sender):
        self.traced_send(sender, ("unknown", type(message).__name__))
