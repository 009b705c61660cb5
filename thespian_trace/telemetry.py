"""Rollout telemetry through the OpenTelemetry metrics API: observable counters, no per-message call.

The message path only bumps plain ints and dicts in ``_tracing`` (per process). ``enable_metrics``
registers observable counters whose callbacks read those at collection time, so telemetry costs nothing
per message. The per-class received counts are kept only while a reader exists (``enable_metrics``,
or ``count_received()`` for ``stats()["received"]``): counting is a dict update per message. What an operator watches during a rollout:

  * ``messaging.thespian.messages.received`` (``messaging.destination.template``: the actor class,
    ``messaging.thespian.message.enveloped``): when the ``enveloped=false`` series of a class stops
    growing while traffic flows, its last untraced sender is gone (only bare messages from untraced
    senders, or unsampled traffic, remain).
  * ``messaging.thespian.trace.carriers`` (``messaging.thespian.carrier.outcome`` = built | sieved |
    extracted | invalid | oversized): carriers built by senders, dropped by the sieve, extracted,
    rejected.
  * ``messaging.thespian.fanout.recipients`` (``messaging.thespian.fanout.decision`` = kept | dropped).
  * ``messaging.thespian.trace.roots_started``: root traces started by ``start_traces`` actors.

Counters are per process: in multi-process bases each actor process reports its own (configure a
meter provider there, e.g. through ``opentelemetry-instrument``). ``reset_stats()`` (tests) breaks
monotonicity of the cumulative sums.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, Iterable, List, Optional, Set

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from . import _tracing
from ._state import counting, settings
from .semconv import INSTRUMENTATION_NAME, SCHEMA_URL

__all__ = ["enable_metrics", "disable_metrics", "metrics_enabled", "count_received", "METRIC_RECEIVED", "METRIC_CARRIERS", "METRIC_FANOUT", "METRIC_ROOTS",
           "ACTOR_CLASS", "ENVELOPED", "CARRIER_OUTCOME", "FANOUT_DECISION"]

METRIC_RECEIVED = "messaging.thespian.messages.received"
METRIC_CARRIERS = "messaging.thespian.trace.carriers"
METRIC_FANOUT = "messaging.thespian.fanout.recipients"
METRIC_ROOTS = "messaging.thespian.trace.roots_started"

ACTOR_CLASS = "messaging.destination.template"  # the actor class, as on spans and actor metrics
ENVELOPED = "messaging.thespian.message.enveloped"
CARRIER_OUTCOME = "messaging.thespian.carrier.outcome"
FANOUT_DECISION = "messaging.thespian.fanout.decision"

_CARRIER_OUTCOMES = ("built", "sieved", "extracted", "invalid", "oversized")

_lock = threading.Lock()
# Registrations are per process and per meter provider (the OpenTelemetry API cannot unregister an
# observable instrument, so a disabled one stays registered and reports nothing).
_enabled: Set[int] = set()     # id() of each meter provider we registered with (0: the global one)
_active: Set[int] = set()      # those whose callbacks report (see disable_metrics)
_keep_alive: List[Any] = []    # the providers and instruments, so ids stay unique while registered
_requested = [False]           # count_received() asked for the per-class counts


def _sync_counting() -> None:
    counting.received = bool(_active) or _requested[0]


def count_received(enabled: bool = True) -> bool:
    """Keep (or stop keeping) the per-class received counts (``stats()["received"]``) in this process.

    ``enable_metrics`` keeps them while it reports; without a reader they are not counted, since a
    dict update per message is measurable on simpleSystemBase. Returns the previous request.
    """
    with _lock:
        previous = _requested[0]
        _requested[0] = bool(enabled)
        _sync_counting()
    return previous


def _reporting(options: CallbackOptions, key: int) -> bool:
    """Observations are made only while this registration is active and the plane is not disabled."""
    return key in _active and not settings.disabled


def _received(options: CallbackOptions) -> Iterable[Observation]:
    per_class: Dict[tuple, int] = {}
    for table, enveloped in ((_tracing.received_enveloped, True), (_tracing.received_bare, False)):
        for cls, n in list(table.items()):
            # Class names as on spans (low cardinality); two classes sharing a name are summed.
            key = (cls.__name__, enveloped)
            per_class[key] = per_class.get(key, 0) + n
    return [Observation(n, {ACTOR_CLASS: name, ENVELOPED: enveloped})
            for (name, enveloped), n in per_class.items()]


def _carriers(options: CallbackOptions) -> Iterable[Observation]:
    c = _tracing.counters
    return [Observation(getattr(c, "carriers_" + outcome), {CARRIER_OUTCOME: outcome})
            for outcome in _CARRIER_OUTCOMES]


def _fanout(options: CallbackOptions) -> Iterable[Observation]:
    c = _tracing.counters
    return [Observation(c.fanout_kept, {FANOUT_DECISION: "kept"}),
            Observation(c.fanout_dropped, {FANOUT_DECISION: "dropped"})]


def _roots(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(_tracing.counters.roots_started)]


def enable_metrics(meter_provider: Optional[Any] = None) -> None:
    """Register the rollout-telemetry observable counters with ``meter_provider`` (default: global).

    Idempotent per provider: calling it again for the same provider registers nothing new. Without an
    OpenTelemetry SDK the API's no-op (or proxy) provider makes this free.
    """
    key = 0 if meter_provider is None else id(meter_provider)
    with _lock:
        _active.add(key)
        _sync_counting()
        if key in _enabled:
            return
        meter = metrics.get_meter(INSTRUMENTATION_NAME, _tracing.__version__,
                                  meter_provider=meter_provider, schema_url=SCHEMA_URL)

        def gated(callback):
            return lambda options: callback(options) if _reporting(options, key) else []

        instruments = [
            meter.create_observable_counter(
                METRIC_RECEIVED, callbacks=[gated(_received)], unit="{message}",
                description="Messages delivered to actors, per actor class, enveloped (trace context "
                            "or fanout marker) or bare"),
            meter.create_observable_counter(
                METRIC_CARRIERS, callbacks=[gated(_carriers)], unit="{carrier}",
                description="Trace carriers built by senders, and received ones sieved (unsampled), "
                            "extracted, invalid or oversized"),
            meter.create_observable_counter(
                METRIC_FANOUT, callbacks=[gated(_fanout)], unit="{recipient}",
                description="Fanout recipients kept for tracing or dropped by fanout sampling"),
            meter.create_observable_counter(
                METRIC_ROOTS, callbacks=[gated(_roots)], unit="{trace}",
                description="Root traces started by actors whose class allows it (start_traces)"),
        ]
        _enabled.add(key)
        _keep_alive.append((meter_provider, instruments))


def disable_metrics(meter_provider: Optional[Any] = None) -> None:
    """Stop reporting to ``meter_provider`` (default: global); its instruments then observe nothing."""
    with _lock:
        _active.discard(0 if meter_provider is None else id(meter_provider))
        _sync_counting()


def metrics_enabled(meter_provider: Optional[Any] = None) -> bool:
    """Are the rollout-telemetry instruments reporting to ``meter_provider`` (default: global)?"""
    return (0 if meter_provider is None else id(meter_provider)) in _active
