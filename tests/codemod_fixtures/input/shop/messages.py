"""Plain message classes: nothing here is an actor."""
from dataclasses import dataclass


@dataclass
class Order:
    order_id: str
    items: tuple = ()


@dataclass
class Invoice:
    order_id: str
    total: float


class Outbox:
    """Not an actor, although it has a send method."""

    def __init__(self):
        self.sent = []

    def send(self, target, message):
        self.sent.append((target, message))

    def flush(self, target):
        for m in list(self.sent):
            self.send(target, m)
