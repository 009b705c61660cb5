"""Shared plumbing of the observation plane: the tracer, the counters' snapshot, flushing, log-once.

Counters are plain ints and dicts (in ``_state``) bumped on the message path; they are exported through
observable instruments of the OpenTelemetry metrics API (see ``telemetry.py``), never by a metric call
per message.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Dict, List, Optional

from opentelemetry import trace

from . import _state
from ._state import Counters, counters, logged_once, received_bare, received_enveloped, settings
from .semconv import INSTRUMENTATION_NAME, SCHEMA_URL

__all__ = ["get_tracer", "stats", "reset_stats", "flush", "flush_at_exit", "log_once", "counters",
           "received_enveloped", "received_bare", "exit_flushers"]

__version__ = "0.1.0"

log = logging.getLogger("thespian_trace")
_logged_once = logged_once  # the same set (tests reset it)


class _TracerCache:
    __slots__ = ("tracer", "provider")

    def __init__(self) -> None:
        self.tracer: Optional[trace.Tracer] = None
        self.provider: Any = None


_cache = _TracerCache()


def get_tracer() -> trace.Tracer:
    """The library's tracer: from the provider given to ``configure``/``instrument``, else the global one.

    Without a configured provider this is the API's proxy tracer, which picks up an SDK provider set
    later and is a no-op until then. Obtained once per provider, with the semantic-conventions schema.
    """
    provider = settings.tracer_provider
    if _cache.tracer is None or _cache.provider is not provider:
        _cache.tracer = trace.get_tracer(INSTRUMENTATION_NAME, __version__, tracer_provider=provider,
                                         schema_url=SCHEMA_URL)
        _cache.provider = provider
    return _cache.tracer


def reset_tracer() -> None:
    """Forget the cached tracer (it is also refreshed whenever the configured provider changes)."""
    _cache.tracer = None


def stats() -> Dict[str, object]:
    """A snapshot of this process's counters (carriers built/sieved, messages per actor class, ...).

    ``received`` (messages per actor class) is kept only while a reader asks for it:
    ``telemetry.enable_metrics()`` or ``telemetry.count_received()``; otherwise it is empty, because a
    dict update per message is measurable on simpleSystemBase.
    """
    out: Dict[str, object] = {name: getattr(counters, name) for name in Counters.__slots__}
    per_class: Dict[str, Dict[str, int]] = {}
    for table, key in ((received_enveloped, "enveloped"), (received_bare, "bare")):
        for cls, n in list(table.items()):
            per_class.setdefault(cls.__name__, {"enveloped": 0, "bare": 0})[key] += n
    out["received"] = per_class
    return out


def reset_stats() -> None:
    """Zero every counter of this process."""
    for name in Counters.__slots__:
        setattr(counters, name, 0)
    received_enveloped.clear()
    received_bare.clear()


def flush(timeout_millis: int = 5000) -> bool:
    """Export every finished span still queued in this process (no-op without an SDK provider).

    Returns within ``timeout_millis`` whatever the exporter does: the SDK's ``force_flush`` ignores
    its timeout (SDK 1.45: it blocks for the exporter's own timeout, 10 s by default, when the
    collector accepts connections but never answers), so it runs in a daemon thread that is left
    behind if it takes longer (``os._exit`` ends it with the process).
    """
    provider = settings.tracer_provider or trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is None:
        return True
    done = []

    def run() -> None:
        try:
            done.append(bool(force_flush(timeout_millis)))
        except Exception:  # an exporter failure must never break an actor
            log.debug("thespian-trace: force_flush failed", exc_info=True)
            done.append(False)

    worker = threading.Thread(target=run, name="thespian-trace-flush", daemon=True)
    worker.start()
    worker.join(timeout_millis / 1000.0)
    return bool(done and done[0])


def flush_at_exit(timeout_millis: int = 2000) -> None:
    """Flush once this actor process ends (a ``multiprocessing`` finalizer, registered once).

    Actor processes end with ``os._exit``, which skips ``atexit``, so a batching span processor would
    lose its queue. The flush runs after Thespian's run loop has ended and sent ``ChildActorExited``:
    flushing inside the ``ActorExitRequest`` handler instead held a parent there, unable to take its
    children's exits, for as long as the exporter hung (``shutdown()`` then gave up after 10 s).
    """
    import multiprocessing.util as mp_util
    if _exit_flush.get("pid") == os.getpid():  # a forked child starts without its parent's finalizers
        return
    _exit_flush["pid"] = os.getpid()
    mp_util.Finalize(None, _flush_all, args=(timeout_millis,), exitpriority=100)


_exit_flush: Dict[str, int] = {}
#: More providers to flush at actor process exit, each ``fn(timeout_millis)`` (``metrics.py`` adds the
#: meter provider's): run after the spans' flush, in a daemon thread, within the same bound.
exit_flushers: List[Callable[[int], Any]] = []


def _flush_all(timeout_millis: int) -> None:
    """The exit flush: spans (bounded by ``flush``), then every ``exit_flushers`` entry, all within
    ``timeout_millis`` of starting (a hanging exporter cannot hold the process up any longer)."""
    import time
    deadline = time.monotonic() + timeout_millis / 1000.0
    flush(timeout_millis)
    if not exit_flushers:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        return

    def run() -> None:
        for fn in list(exit_flushers):
            try:
                fn(max(1, int((deadline - time.monotonic()) * 1000)))
            except Exception:  # an exporter failure must never break an actor
                log.debug("thespian-trace: exit flush failed", exc_info=True)

    worker = threading.Thread(target=run, name="thespian-trace-exit-flush", daemon=True)
    worker.start()
    worker.join(left)


def log_once(key: str, msg: str, *args: object) -> None:
    """Log a warning the first time ``key`` is seen in this process, and never again."""
    if key in _state.logged_once:
        return
    _state.logged_once.add(key)
    log.warning(msg, *args)
