"""A project-local `Actor` that shadows Thespian's plain Actor."""
import thespian.actors as ta


class Actor(ta.ActorTypeDispatcher):
    """Our own Actor: a dispatcher with a default for unknown messages."""

    def receiveUnrecognizedMessage(self, message, sender):
        self.send(sender, ("unknown", type(message).__name__))
