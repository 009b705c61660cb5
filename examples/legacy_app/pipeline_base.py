"""The project's base class for pipeline actors (lives in its own module)."""
from thespian.actors import ActorTypeDispatcher


class PipelineActor(ActorTypeDispatcher):
    """Adds a forwarding helper used by every pipeline stage."""

    def forward(self, target, message):
        self.send(target, message)
