"""Actors and the probe for tests/test_stack_headroom.py (module-level so forked processes have them)."""
import os
import resource

from thespian.actors import ActorTypeDispatcher

from thespian_trace import TracedActor


def _excursion(n):
    a = b = c = d = e = f = g = h = 0  # noqa: F841 - locals size the frame
    return 0 if n == 0 else _excursion(n - 1)


def _at_depth(pad, fn):
    a = b = c = d = e = f = g = h = 0  # noqa: F841
    return fn() if pad == 0 else _at_depth(pad - 1, fn)


def chunk_crossings(calls=300, pads=range(0, 90, 2)):
    """The pads (extra frames below a loop of ``calls`` short call chains) at which the loop kept
    faulting in fresh memory: the chain crossed a data-stack chunk boundary on every call.

    Pads of 0 to 88 frames (about 180 bytes each) under a 20-frame chain span more than one 16 KiB
    chunk, so without headroom some pad lands the loop on a boundary whatever depth the probe starts
    at; with 30 KB of headroom none does. "Kept faulting": on more than a third of the calls."""
    def loop():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            _excursion(20)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    return [pad for pad in pads if _at_depth(pad, loop) > calls // 3]


class Probe(TracedActor):
    """Replies to "probe" with :func:`chunk_crossings` measured in its own process."""

    def receiveMsg_str(self, msg, sender):
        if msg == "probe":
            self.send(sender, chunk_crossings())


class Spawner(TracedActor):
    """Creates a Probe inside its handler, forked at that depth ("spawn") or 100 frames (about 18 KB)
    deeper ("spawn deep", as from helpers far down a handler), and replies with its address."""

    def receiveMsg_str(self, msg, sender):
        if msg == "spawn":
            self.send(sender, self.createActor(Probe))
        elif msg == "spawn deep":
            self.send(sender, _at_depth(100, lambda: self.createActor(Probe)))


class BareProbe(ActorTypeDispatcher):
    """Probe without thespian-trace's base class (the hook still starts its process)."""

    def receiveMsg_str(self, msg, sender):
        if msg == "probe":
            self.send(sender, chunk_crossings())


class Echo(ActorTypeDispatcher):
    """Replies with what it got (external asks to it are relayed by the Admin on multiprocQueueBase),
    and to "pids" with its process id and its parent's (the Admin, which forked it)."""

    def receiveMsg_str(self, msg, sender):
        self.send(sender, (os.getpid(), os.getppid()) if msg == "pids" else msg)
