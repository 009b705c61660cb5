"""The traced twin of ``shutdown_actors.BareParent`` (same logic, TracedActor)."""
import os

from thespian.actors import ActorExitRequest

from thespian_trace import TracedActor


class TracedKid(TracedActor):
    def receiveMsg_str(self, msg, sender):
        self.traced_send(sender, msg)


class TracedParent(TracedActor):
    def receiveMsg_str(self, msg, sender):
        if msg == "go":
            self.asker = sender
            self.kids = [self.createActor(TracedKid) for _ in range(3)]
            self.send(self.kids[0], ActorExitRequest())

    def receiveMsg_ChildActorExited(self, msg, sender):
        self.send(self.asker, ("exited", msg.childAddress == self.kids[0], os.getpid()))


def _arm_exit_watchdog(seconds=1.5):
    """Diagnostics (TT_EXIT_WATCHDOG=DIR): if this process still runs ``seconds`` after its
    ActorExitRequest, write the stacks of all its threads to DIR/exit-<pid>.txt."""
    import faulthandler
    import threading

    directory = os.environ.get("TT_EXIT_WATCHDOG")
    if not directory:
        return

    def dump():
        with open(os.path.join(directory, "exit-%d.txt" % os.getpid()), "w") as f:
            faulthandler.dump_traceback(f, all_threads=True)

    timer = threading.Timer(seconds, dump)
    timer.daemon = True
    timer.start()


class WatchedTracedParent(TracedParent):
    def receiveMessage(self, msg, sender):
        if isinstance(msg, ActorExitRequest):
            _arm_exit_watchdog()
        return super().receiveMessage(msg, sender)


class TracedBoss(TracedActor):
    """The traced twin of shutdown_actors.BareBoss."""

    def receiveMsg_str(self, msg, sender):
        if msg == "ping" and not hasattr(self, "kids"):
            self.asker, self.answers = sender, 0
            self.kids = [self.createActor(TracedKid) for _ in range(4)]
            for kid in self.kids:
                self.traced_send(kid, "ping")
        elif msg == "ping":
            self.answers += 1
            if self.answers == len(self.kids):
                self.traced_send(self.asker, "ping")
