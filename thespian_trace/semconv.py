"""Span names and attribute keys: the OpenTelemetry messaging semantic conventions, version 1.30.0.

``SCHEMA_URL`` names that version on the tracer and the meter. Span names are
``{messaging.operation.name} {destination}``: for a process span the destination is the receiving
actor's class (``messaging.destination.template``); a sender does not know the receiving actor's class
(a Thespian address does not carry it), so PRODUCER spans name the message class instead. Names stay
low-cardinality: class names only, never addresses or ids. Project attributes live under
``messaging.thespian.*``.
"""
from __future__ import annotations

SEMCONV_VERSION = "1.30.0"
SCHEMA_URL = "https://opentelemetry.io/schemas/" + SEMCONV_VERSION

SYSTEM = "thespian"
INSTRUMENTATION_NAME = "thespian_trace"

MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"      # "send" | "process" (spec enum)
MESSAGING_OPERATION_NAME = "messaging.operation.name"      # ours: send, fanout, ask, tell, process
MESSAGING_DESTINATION_NAME = "messaging.destination.name"  # only a stable name: the globalName
MESSAGING_DESTINATION_TEMPLATE = "messaging.destination.template"  # the receiving actor's class
MESSAGING_DESTINATION_ANONYMOUS = "messaging.destination.anonymous"  # an actor without globalName
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
ERROR_TYPE = "error.type"

OPERATION_SEND = "send"
OPERATION_PROCESS = "process"

MESSAGE_TYPE = "messaging.thespian.message.type"
ACTOR_ADDRESS = "messaging.thespian.actor.address"
DELIVERY = "messaging.thespian.delivery"  # "message", "wakeup", "poison", "dead_letter", "troupe_work"
FANOUT_SIZE = "messaging.thespian.fanout.size"
FANOUT_KEPT = "messaging.thespian.fanout.kept"
SAMPLING_PROBABILITY = "messaging.thespian.sampling.probability"

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


def producer_attributes(operation_name: str, message_type: str) -> dict:
    """Attributes every PRODUCER span starts with."""
    return {MESSAGING_SYSTEM: SYSTEM, MESSAGING_OPERATION_TYPE: OPERATION_SEND,
            MESSAGING_OPERATION_NAME: operation_name, MESSAGE_TYPE: message_type}


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: its qualified class name (``builtins.`` left out)."""
    cls = type(exc)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in ("builtins", "") else module + "." + name
