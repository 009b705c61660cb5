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


class Flush:
    """Export every span this actor's process (and its peers' or children's) still holds; reply
    FlushDone when done. The benchmarks use it so no side's export work lands in another's run."""


class FlushDone:
    pass


def flush_spans():
    """Flush this process's SDK span processors (a no-op without an SDK provider)."""
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush(30000)


class _Flushing:
    """Flush handling shared by every benchmark actor, bare or traced (plain ``send`` on both sides,
    so the flush costs the same): flush here, then flush ``self._flush_peers()`` and reply once every
    one of them answered."""

    def _flush_peers(self):
        return []

    def receiveMsg_Flush(self, msg, sender):
        flush_spans()
        peers = list(self._flush_peers())
        if not peers:
            self.send(sender, FlushDone())
            return
        self._flush_asker, self._flush_pending = sender, len(peers)
        for peer in peers:
            self.send(peer, Flush())

    def receiveMsg_FlushDone(self, msg, sender):
        self._flush_pending -= 1
        if self._flush_pending == 0:
            self.send(self._flush_asker, FlushDone())


# -------------------------------------------------------------------------------------------------
# ping-pong


class BarePonger(_Flushing, ActorTypeDispatcher):
    def receiveMsg_Ping(self, msg, sender):
        self.send(sender, Pong(msg.left - 1))


class BarePinger(_Flushing, ActorTypeDispatcher):
    def _flush_peers(self):
        return [self.peer]

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


class TracedPonger(_Flushing, TracedActor):
    def receiveMsg_Ping(self, msg, sender):
        self.traced_send(sender, Pong(msg.left - 1))


class TracedPinger(_Flushing, TracedActor):
    def _flush_peers(self):
        return [self.peer]

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


class BareRecipient(_Flushing, ActorTypeDispatcher):
    def receiveMsg_Work(self, msg, sender):
        self.send(sender, Ack())


class BareFanner(_Flushing, ActorTypeDispatcher):
    recipient_class = BareRecipient

    def _flush_peers(self):
        return self.children

    def receiveMsg_Setup(self, msg, sender):
        self.children = children = [self.createActor(self.recipient_class) for _ in range(msg.distinct)]
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


class TracedRecipient(_Flushing, TracedActor):
    def receiveMsg_Work(self, msg, sender):
        self.traced_send(sender, Ack())


class TracedFanner(_Flushing, TracedActor):
    def _flush_peers(self):
        return self.children

    def receiveMsg_Setup(self, msg, sender):
        self.children = children = [self.createActor(TracedRecipient) for _ in range(msg.distinct)]
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


# -------------------------------------------------------------------------------------------------
# exporter down


class Echo(TracedActor):
    """Replies to an int with a traced send of it; "pid" -> its process id; "tm-start"/"tm"/"tm-stop"
    run tracemalloc in its own process (where its spans queue up); ("exporter", kind) switches its
    process's spans to that endpoint's processor (``benchmarks.exporter_down``) and replies True."""

    def receiveMsg_int(self, msg, sender):
        self.traced_send(sender, msg)

    def receiveMsg_tuple(self, msg, sender):
        if msg[0] == "exporter":
            from benchmarks.exporter_down import switch_exporter

            switch_exporter(msg[1])
            self.send(sender, True)

    def receiveMsg_str(self, msg, sender):
        import os
        import tracemalloc

        if msg == "pid":
            self.send(sender, os.getpid())
        elif msg == "tm-start":
            tracemalloc.start()
            self.send(sender, True)
        elif msg == "tm":
            self.send(sender, tracemalloc.get_traced_memory()[0])
        elif msg == "tm-stop":
            tracemalloc.stop()
            self.send(sender, True)
