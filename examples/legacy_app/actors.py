"""Frontdoor -> Workers -> Auditor: an untraced legacy Thespian pipeline."""
from thespian.actors import Actor, ActorExitRequest

from messages import Audit, Audited, Order, PriceRequest, Priced, Receipt
from pipeline_base import PipelineActor

PRICES = {"apple": 0.5, "bread": 2.25, "cheese": 7.0, "dates": 4.75}


class Worker(PipelineActor):
    """Prices one item."""

    def receiveMsg_PriceRequest(self, request, sender):
        price = PRICES.get(request.item, 1.0)
        self.send(sender, Priced(request.order_id, request.item, price))


class Auditor(Actor):
    """A plain Actor that numbers every audited order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seq = 0

    def receiveMessage(self, message, sender):
        if isinstance(message, Audit):
            self.seq += 1
            self.send(sender, Audited(message.order_id, self.seq))


class Frontdoor(PipelineActor):
    """Accepts orders from outside, fans the items out to workers, audits, replies."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending = {}
        self.auditor = None

    def receiveMsg_Order(self, order, sender):
        if self.auditor is None:
            self.auditor = self.createActor(Auditor)
        self.pending[order.order_id] = {"client": sender, "want": len(order.items), "prices": []}
        for item in order.items:
            worker = self.createActor(Worker)
            self.send(worker, PriceRequest(order.order_id, item))

    def receiveMsg_Priced(self, priced, sender):
        state = self.pending[priced.order_id]
        state["prices"].append(priced.price)
        self.send(sender, ActorExitRequest())
        if len(state["prices"]) == state["want"]:
            self.forward(self.auditor, Audit(priced.order_id, sum(state["prices"])))

    def receiveMsg_Audited(self, audited, sender):
        state = self.pending.pop(audited.order_id)
        receipt = Receipt(audited.order_id, state["want"], sum(state["prices"]), audited.seq)
        self.send(state["client"], receipt)
