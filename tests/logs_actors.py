"""Actors for tests/test_logs.py: they log inside their handlers (and answer with their pid)."""
import logging
import os

from thespian_trace import TracedActor


class Chatty(TracedActor):
    """Logs the message it got, then answers with this process's pid."""

    def receiveMsg_str(self, msg, sender):
        logging.getLogger("chatty").warning("chatty got %s", msg)
        self.traced_send(sender, os.getpid())
