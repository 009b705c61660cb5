"""Code outside actors: ask/tell through the ActorSystem."""
from thespian.actors import ActorSystem

from shop.orders import OrderActor
from shop.messages import Order


def run(order_id):
    asys = ActorSystem("simpleSystemBase")
    try:
        orders = asys.createActor(OrderActor)
        answer = asys.ask(orders, Order(order_id), 1.0)
        ActorSystem().tell(orders, "watch")
        return answer
    finally:
        asys.shutdown()


class Notifier:
    def __init__(self, system: ActorSystem):
        self.system = system

    def ping(self, addr):
        self.system.tell(addr, "ping")
