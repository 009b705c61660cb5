"""Actors of the guild fanout demo: a Guild fans each chat message out to its Session actors."""
import logging

from thespian_trace import TracedActor


class Setup:
    def __init__(self, sessions: int) -> None:
        self.sessions = sessions


class ChatMessage:
    def __init__(self, seq: int, text: str) -> None:
        self.seq = seq
        self.text = text


class Deliver:
    """What every session receives for one chat message."""

    def __init__(self, seq: int, text: str) -> None:
        self.seq = seq
        self.text = text


class Delivered:
    def __init__(self, seq: int) -> None:
        self.seq = seq


class ChatAck:
    def __init__(self, seq: int, delivered: int) -> None:
        self.seq = seq
        self.delivered = delivered


class Session(TracedActor):
    """One connected member: renders the message (here: counts it) and acknowledges."""

    start_traces = True  # may start traces for its own work, never for a fanned-out message
    measure_duration = True  # messaging.process.duration for this class (when actor metrics are on)

    def receiveMsg_Deliver(self, msg, sender):
        self.rendered = getattr(self, "rendered", 0) + 1
        self.traced_send(sender, Delivered(msg.seq))


class Guild(TracedActor):
    """Owns the sessions; answers the API caller once every session acknowledged the message."""

    def receiveMsg_Setup(self, msg, sender):
        self.sessions = [self.createActor(Session) for _ in range(msg.sessions)]
        self.pending = {}
        self.send(sender, len(self.sessions))

    def receiveMsg_ChatMessage(self, msg, sender):
        self.pending[msg.seq] = [sender, 0]
        # getLogger inside the handler, not at import: in a multi-process actor Thespian replaces the
        # logging manager, so a logger made before the fork would bypass its forwarding to logDefs.
        logging.getLogger("guild").warning("chat %d: fanning out to %d sessions", msg.seq,
                                           len(self.sessions))
        self.traced_fanout(self.sessions, Deliver(msg.seq, msg.text))

    def receiveMsg_Delivered(self, msg, sender):
        entry = self.pending[msg.seq]
        entry[1] += 1
        if entry[1] == len(self.sessions):
            del self.pending[msg.seq]
            self.traced_send(entry[0], ChatAck(msg.seq, entry[1]))
