"""Order handling."""
import functools
import threading

from thespian.troupe import troupe

from shop.common import *  # noqa: F403
from shop.messages import Invoice, Order, Outbox


@troupe(max_count=4)
class OrderActor(ShopActor):  # noqa: F405
    """Accepts orders and fans them out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outbox = Outbox()
        self.watchers = []

    def receiveMsg_Order(self, order, sender):
        self.traced_send(sender, "accepted")
        for watcher in self.watchers:
            self.traced_send(watcher, order)  # tell every watcher
        pending = [(w, order.order_id) for w in self.watchers]
        for each in pending:
            self.traced_send(*each)
        [self.traced_send(w, "done") for w in self.watchers]
        self.traced_send(
            sender,
            Invoice(order.order_id,
                    total=sum(i for i in order.items)),  # the bill
        )
        self.outbox.send(sender, "shadow copy")
        self.send_samples(order)

        def notify(target):
            self.traced_send(target, order)

        notify(sender)
        list(map(lambda w: self.traced_send(w, order), self.watchers))

    def receiveMsg_str(self, text, sender):
        if text == "watch":
            self.watchers.append(sender)
        elif text == "legacy":
            self.send(sender, "legacy reply")  # thespian-trace: ignore[kept bare for the old client]
        else:
            self.reply(sender, text.upper())

    def receiveMsg_tuple(self, pair, sender):
        send = self.send
        send(sender, pair)
        later = functools.partial(self.send, sender)
        later(pair)
        self.schedule(callback=self.send)

    def receiveMsg_int(self, count, sender):
        def pump():
            for i in range(count):
                self.send(sender, i)
        threading.Thread(target=pump, daemon=True).start()

    def send_samples(self, order):
        """Look-alike name: not a send."""
        return [order]

    def schedule(self, callback):
        return callback
