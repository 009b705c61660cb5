"""Billing, built on the project's own Actor (which shadows Thespian's)."""
from shop.compat import Actor
from shop.messages import Invoice


class BillingActor(Actor):
    def receiveMsg_Invoice(self, invoice: Invoice, sender):
        total = invoice.total
        self.send(sender, ("billed", total))

    @staticmethod
    def fmt(value):
        return "%.2f" % value


class Ledger:
    """Not an actor."""

    def __init__(self, pipe):
        self.pipe = pipe

    def record(self, entry):
        self.pipe.send(entry)
