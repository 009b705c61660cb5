"""Span names and attribute keys (OpenTelemetry messaging conventions, status Development).

Names stay low-cardinality: class names only, never addresses or ids.
"""
from __future__ import annotations

SYSTEM = "thespian"
INSTRUMENTATION_NAME = "thespian_trace"

MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"

MESSAGE_TYPE = "thespian.message.type"
ACTOR_ADDRESS = "thespian.actor.address"
ACTOR_CLASS = "thespian.actor.class"
DELIVERY = "thespian.delivery"  # "message", "wakeup", "poison", "dead_letter", "troupe_work"
FANOUT_SIZE = "thespian.fanout.size"
FANOUT_KEPT = "thespian.fanout.kept"
SAMPLING_PROBABILITY = "thespian.sampling.probability"

# Carrier key a fanout uses to tell a kept recipient the probability it was kept with.
CARRIER_PROBABILITY_KEY = "thespian-p"


def process_span_name(actor_class: str) -> str:
    """CONSUMER span name for handling a message in an actor of this class."""
    return "process " + actor_class


def send_span_name(message_type: str) -> str:
    """PRODUCER span name for an opt-in single send."""
    return "send " + message_type


def fanout_span_name(message_type: str) -> str:
    """PRODUCER span name for a fanout of one message to many recipients."""
    return "fanout " + message_type


def external_span_name(operation: str, message_type: str) -> str:
    """Span name for ``traced_ask``/``traced_tell`` from outside the actor system."""
    return operation + " " + message_type
