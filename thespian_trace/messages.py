"""Control messages that traced actors consume themselves (user handlers never see them)."""
from __future__ import annotations

from typing import Optional

__all__ = ["SetTraceMode", "TraceModeChanged"]


class SetTraceMode:
    """Switch the rollout mode of the receiving actor's process (``off``/``receive``/``on``).

    The receiving actor answers its sender with ``TraceModeChanged``. With ``recursive`` (default) a
    traced actor forwards the request to the children it created, so one message to the top of a tree
    flips every process below it.
    """

    def __init__(self, mode: str, recursive: bool = True) -> None:
        self.mode = mode
        self.recursive = recursive

    def __repr__(self) -> str:
        return "SetTraceMode(%r, recursive=%r)" % (self.mode, self.recursive)


class TraceModeChanged:
    """Reply to ``SetTraceMode``: the mode now in force, the previous one, and any error."""

    def __init__(self, mode: str, previous: str, actor_class: str, error: Optional[str] = None) -> None:
        self.mode = mode
        self.previous = previous
        self.actor_class = actor_class
        self.error = error

    def __repr__(self) -> str:
        return "TraceModeChanged(%r, previous=%r, actor_class=%r, error=%r)" % (
            self.mode, self.previous, self.actor_class, self.error)
