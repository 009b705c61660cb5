"""Actors of the two-system Convention example (``convention_demo.py``).

A module of its own so that every process can import the classes by module path: the leader's and the
member's Admins and actor processes all have ``examples/`` on ``sys.path`` (the script's directory).
"""
import os

from opentelemetry import trace
from thespian.actors import requireCapability

from thespian_trace import TracedActor

#: The capability only the member system has: ``Greeter`` can only be placed there.
MEMBER_CAPABILITY = "convention-demo member"
#: Environment variable naming the system a process belongs to (set by the script before it starts
#: its actor system, inherited by the Admin and every actor process forked from it).
SYSTEM_ENV = "CONVENTION_DEMO_SYSTEM"


def system_name():
    return os.environ.get(SYSTEM_ENV, "?")


def _mark():
    span = trace.get_current_span()
    span.set_attribute("demo.system", system_name())
    span.set_attribute("demo.pid", os.getpid())


class Request:
    def __init__(self, text, reply_to=None):
        self.text = text
        self.reply_to = reply_to


class Reply:
    def __init__(self, text, path):
        self.text = text
        self.path = path  # [(system, pid, actor class), ...] in the order the request visited them


class Registrar(TracedActor):
    """Leader side: subscribes to Convention updates; "members?" -> capabilities of the members."""

    def receiveMsg_str(self, msg, sender):
        if msg == "watch":
            self.members = {}
            self.notifyOnSystemRegistrationChanges(True)
            self.send(sender, "watching")
        elif msg == "members?":
            self.send(sender, [dict(caps) for caps in getattr(self, "members", {}).values()])

    def receiveMsg_ActorSystemConventionUpdate(self, msg, sender):
        members = self.__dict__.setdefault("members", {})
        if msg.remoteAdded:
            members[str(msg.remoteAdminAddress)] = dict(msg.remoteCapabilities or {})
        else:
            members.pop(str(msg.remoteAdminAddress), None)


@requireCapability(MEMBER_CAPABILITY)
class Greeter(TracedActor):
    """Runs on the member system only (Thespian places it there by capability)."""

    def receiveMsg_Request(self, msg, sender):
        _mark()
        self.traced_send(sender, Reply(msg.text.upper(), [(system_name(), os.getpid(), "Greeter")]))


class Front(TracedActor):
    """Runs on the leader: hands each request to a Greeter (on the member) and relays the reply."""

    def receiveMsg_Request(self, msg, sender):
        _mark()
        if not hasattr(self, "greeter"):
            self.greeter = self.createActor(Greeter)
            self.waiting = []
        self.waiting.append(sender)
        self.traced_send(self.greeter, Request(msg.text))

    def receiveMsg_Reply(self, msg, sender):
        _mark()
        if self.waiting:
            path = [(system_name(), os.getpid(), "Front")] + msg.path
            self.traced_send(self.waiting.pop(0), Reply(msg.text, path))
