"""Every piece of process-wide state thespian-trace keeps, in one place, each with why it is global.

Thespian runs one actor per process on the multi-process bases, and every actor of a system on one run
loop on simpleSystemBase, handling one message at a time: per-process state is therefore shared by the
actors of the process without locks, and the message path reads it with plain attribute reads. The
modules named beside each item are the only ones that change it.
"""
from __future__ import annotations

import random
from typing import Any, Dict, List, Set, Tuple

from .sampling import DEFAULT_TABLE, FanoutTable

__all__ = ["Settings", "settings", "Counters", "counters", "received_enveloped", "received_bare",
           "delivery", "data_plane", "logged_once", "Counting", "counting",
           "Observers", "observers"]

OFF, RECEIVE, ON = "off", "receive", "on"


class Settings:
    """This process's configuration (written by ``config.py`` and the instrumentor only)."""

    __slots__ = ("mode", "disabled", "active_mode", "propagate_unsampled", "producer_spans",
                 "use_span_links", "fanout_table", "rng", "max_carrier_bytes", "tracer_provider",
                 "hook_enabled")

    def __init__(self) -> None:
        self.mode = ON                # the rollout mode asked for (THESPIAN_TRACE_MODE, set_mode, ...)
        self.disabled = False         # OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names "thespian"
        self.active_mode = ON         # the mode in force: ``mode``, or off while ``disabled``
        self.propagate_unsampled = False
        self.producer_spans = False
        self.use_span_links = False
        self.fanout_table: FanoutTable = DEFAULT_TABLE
        self.rng = random.Random()
        self.max_carrier_bytes = 8704  # tracestate (512) + baggage (8192) per W3C limits
        self.tracer_provider: Any = None
        self.hook_enabled = True


#: Read on every message (one attribute read decides the observation plane's hot-path switch).
settings = Settings()


class Counters:
    """Plain ints bumped on the message path (``propagation.py``, ``receive.py``, ``actor.py``)."""

    __slots__ = ("carriers_built", "carriers_sieved", "carriers_extracted", "carriers_invalid",
                 "carriers_oversized", "fanout_kept", "fanout_dropped", "roots_started")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


#: Per-process counters, exported by observable instruments (``telemetry.py``): no metric call per message.
counters = Counters()
#: Messages delivered per actor class, enveloped or bare (the data plane counts them; rollout telemetry).
received_enveloped: Dict[type, int] = {}
received_bare: Dict[type, int] = {}


class Counting:
    """Is anyone reading the per-class counts above? (``telemetry.py`` only: ``count_received``)"""

    __slots__ = ("received",)

    def __init__(self) -> None:
        # Off until a reader exists: counting every message costs about 0.08 µs of the 4.8 µs a bare
        # message costs on simpleSystemBase (make bench, ping-pong), for a figure nobody may read.
        self.received = False


#: Read on every delivery: are the per-class received counts kept?
counting = Counting()


class Delivery:
    """State of the delivery in progress (``receive.py`` only)."""

    __slots__ = ("no_root",)

    def __init__(self) -> None:
        self.no_root = False


#: Set while a delivery that must not start a root runs: cheaper than a marked context for each of
#: thousands of fanout recipients, and one delivery runs at a time per process or run loop.
delivery = Delivery()


class DataPlane:
    """The receive hook (``hook.py`` only): is it installed, and what did it replace."""

    __slots__ = ("installed", "saved")

    def __init__(self) -> None:
        self.installed = False
        self.saved: List[Tuple[Any, str, Any]] = []


#: Thespian's classes and modules are process-wide, so what patches them is too.
data_plane = DataPlane()

class Observers:
    """Who watches deliveries and actor lifecycles (set by ``metrics.py``; read by the data plane).

    The contract, so the message path stays one attribute read when nothing observes:

      * ``delivery``: None, or ``fn(inst, message, sender, call, guarded)`` that must call
        ``call(message, sender)`` exactly once and return its result (re-raising what it raises). The
        data plane routes every delivery of a message to an actor instance through it (bare messages,
        fanout markers, unwrapped Envelopes and containers, Thespian's own messages such as
        ``ActorExitRequest``), with ``message`` already unwrapped, inside the handler's span when the
        delivery has one (so a histogram recorded there gets the span as exemplar). ``guarded`` is true
        where Thespian catches handler exceptions itself (the multi-process ``ActorManager``): the
        exception never reaches ``call``'s caller, so an observer that counts failures must look at the
        instance's ``receiveMessage``.
      * ``lifecycle``: None, or ``fn(inst, event)``; ``event`` is ``"created"`` once an actor instance
        exists in this process (simpleSystemBase: in its creator's ``createActor``; multi-process
        bases: in the actor's own process).
    """

    __slots__ = ("delivery", "lifecycle")

    def __init__(self) -> None:
        self.delivery: Any = None
        self.lifecycle: Any = None


#: One observer of each kind per process (``metrics.py`` composes what it needs into it).
observers = Observers()

#: Keys of the warnings already logged in this process (``_tracing.log_once``): once, not per message.
logged_once: Set[str] = set()
