"""Shared plumbing: the tracer, cheap process-local counters, flushing.

Counters are plain ints and dicts bumped on the message path; they are exported through observable
instruments of the OpenTelemetry metrics API (see ``telemetry.py``), never by a metric call per message.
"""
from __future__ import annotations

import logging
from typing import Dict, Optional

from opentelemetry import trace

from .config import settings
from .semconv import INSTRUMENTATION_NAME

__all__ = ["get_tracer", "reset_tracer", "stats", "reset_stats", "flush", "log_once"]

__version__ = "0.1.0"

_tracer: Optional[trace.Tracer] = None
log = logging.getLogger("thespian_trace")


def get_tracer() -> trace.Tracer:
    """The library's tracer: from the provider given to ``configure``/``instrument``, else the global one.

    Without a configured provider this is the API's proxy tracer, which picks up an SDK provider set
    later and is a no-op until then.
    """
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(INSTRUMENTATION_NAME, __version__,
                                   tracer_provider=settings.tracer_provider)
    return _tracer


def reset_tracer() -> None:
    """Forget the cached tracer (after the tracer provider changed)."""
    global _tracer
    _tracer = None


class _Counters:
    __slots__ = ("carriers_built", "carriers_sieved", "carriers_extracted", "carriers_invalid",
                 "carriers_oversized", "fanout_kept", "fanout_dropped", "roots_started")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


counters = _Counters()
# Messages received per actor class: enveloped ones and bare ones (rollout telemetry).
received_enveloped: Dict[type, int] = {}
received_bare: Dict[type, int] = {}


def stats() -> Dict[str, object]:
    """A snapshot of this process's counters (carriers built/sieved, messages per actor class, ...)."""
    out: Dict[str, object] = {name: getattr(counters, name) for name in _Counters.__slots__}
    per_class: Dict[str, Dict[str, int]] = {}
    for table, key in ((received_enveloped, "enveloped"), (received_bare, "bare")):
        for cls, n in list(table.items()):
            per_class.setdefault(cls.__name__, {"enveloped": 0, "bare": 0})[key] += n
    out["received"] = per_class
    return out


def reset_stats() -> None:
    """Zero every counter of this process."""
    for name in _Counters.__slots__:
        setattr(counters, name, 0)
    received_enveloped.clear()
    received_bare.clear()


def flush(timeout_millis: int = 5000) -> bool:
    """Export every finished span still queued in this process (no-op without an SDK provider).

    Actor processes of the multi-process bases end with ``os._exit``, which skips ``atexit`` handlers,
    so a batching span processor would lose its queue; the receive hook calls this on
    ``ActorExitRequest``.
    """
    provider = settings.tracer_provider or trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is None:
        return True
    try:
        return bool(force_flush(timeout_millis))
    except Exception:  # an exporter failure must never break an actor
        log.debug("thespian-trace: force_flush failed", exc_info=True)
        return False


_logged_once: set = set()


def log_once(key: str, msg: str, *args: object) -> None:
    """Log a warning the first time ``key`` is seen in this process, and never again."""
    if key in _logged_once:
        return
    _logged_once.add(key)
    log.warning(msg, *args)
