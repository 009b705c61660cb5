"""Actor classes for the benchmarks (a module, so multi-process bases can import them by module path).

Each scenario has a bare pair (``ActorTypeDispatcher`` + ``send``) and a traced pair (``TracedActor`` +
``traced_send`` / ``traced_fanout``) with the same logic, so the only difference is the tracing layer.
"""
from thespian.actors import ActorTypeDispatcher

from thespian_trace import TracedActor


class Setup:
    """Prepare the scenario: ``n`` fanout targets spread over ``distinct`` child actors."""

    def __init__(self, n=0, distinct=0):
        self.n = n
        self.distinct = distinct


class Ready:
    pass


class Start:
    """Run one bounded ping-pong exchange of ``n`` messages between the pair, then reply Done."""

    def __init__(self, n):
        self.n = n


class Ping:
    def __init__(self, left):
        self.left = left


class Pong:
    def __init__(self, left):
        self.left = left


class Go:
    """Fan one Work message out to every target; reply Done when every recipient acknowledged."""


class Work:
    pass


class Ack:
    pass


class Done:
    def __init__(self, count=0):
        self.count = count


# -------------------------------------------------------------------------------------------------
# ping-pong


class BarePonger(ActorTypeDispatcher):
    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, Pong(msg.left - 1))


class BarePinger(ActorTypeDispatcher):
    def receiveMsg_Setup(self, msg, sender):
        self.peer = self.createActor(BarePonger)
        self.send(sender, Ready())

    def receiveMsg_Start(self, msg, sender):
        self.asker = sender
        self.send(self.peer, Ping(msg.n - 1))

    def receiveMsg_Pong(self, msg, sender):
        if msg.left > 0:
            self.send(sender, Ping(msg.left - 1))
        else:
            self.send(self.asker, Done())


class TracedPonger(TracedActor):
    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.left - 1))


class TracedPinger(TracedActor):
    def receiveMsg_Setup(self, msg, sender):
        self.peer = self.createActor(TracedPonger)
        self.traced_send(sender, Ready())

    def receiveMsg_Start(self, msg, sender):
        self.asker = sender
        self.traced_send(self.peer, Ping(msg.n - 1))

    def receiveMsg_Pong(self, msg, sender):
        if msg.left > 0:
            self.traced_send(sender, Ping(msg.left - 1))
        else:
            self.traced_send(self.asker, Done())


# -------------------------------------------------------------------------------------------------
# fanout


class BareRecipient(ActorTypeDispatcher):
    def receiveMsg_Work(self, msg, sender):
        self.send(sender, Ack())


class BareFanner(ActorTypeDispatcher):
    recipient_class = BareRecipient

    def receiveMsg_Setup(self, msg, sender):
        children = [self.createActor(self.recipient_class) for _ in range(msg.distinct)]
        self.targets = [children[i % len(children)] for i in range(msg.n)]
        self.send(sender, Ready())

    def receiveMsg_Go(self, msg, sender):
        self.asker = sender
        self.pending = len(self.targets)
        work = Work()
        send = self.send
        for target in self.targets:
            send(target, work)

    def receiveMsg_Ack(self, msg, sender):
        self.pending -= 1
        if self.pending == 0:
            self.send(self.asker, Done(len(self.targets)))


class TracedRecipient(TracedActor):
    def receiveMsg_Work(self, msg, sender):
        self.traced_send(sender, Ack())


class TracedFanner(TracedActor):
    def receiveMsg_Setup(self, msg, sender):
        children = [self.createActor(TracedRecipient) for _ in range(msg.distinct)]
        self.targets = [children[i % len(children)] for i in range(msg.n)]
        self.traced_send(sender, Ready())

    def receiveMsg_Go(self, msg, sender):
        self.asker = sender
        self.pending = len(self.targets)
        self.kept = self.traced_fanout(self.targets, Work())

    def receiveMsg_Ack(self, msg, sender):
        self.pending -= 1
        if self.pending == 0:
            self.traced_send(self.asker, Done(len(self.targets)))
