"""Actor metrics through the OpenTelemetry metrics API: per actor class, what Kamon and Proto.Actor record.

Switched on by :func:`enable_actor_metrics` (or ``ThespianInstrumentor().instrument(meter_provider=...)``);
until then, and whenever no meter provider is configured, nothing is installed and the message path is
one attribute read (``_state.observers``). Once on, a delivery observer (the data plane's contract,
``_state.Observers``) sees every delivery to an actor instance in this process:

  * **counters, always on** (plain ints per class and message type, read by observable instruments at
    collection time, so no metric call per message): ``messaging.thespian.messages.handled`` (handler
    invocations; Thespian's retries of a failed message are invocations too),
    ``messaging.thespian.messages.failed`` (invocations that raised, with ``error.type``),
    ``messaging.thespian.poison_messages`` (PoisonMessage returns: messages given up on, counted at the
    sender they come back to), ``messaging.thespian.dead_letters`` (DeadEnvelope deliveries to a
    dead-letter handler), ``messaging.thespian.actors.created`` / ``.exited``, and the gauge
    ``messaging.thespian.actors.live`` (created minus exited in this process);
  * **processing duration, opt-in per class** (a synchronous histogram costs microseconds per message):
    ``messaging.process.duration`` in seconds, for classes with ``measure_duration = True`` or matched by
    ``THESPIAN_TRACE_METRICS_DURATION_INCLUDE`` and not by ``..._EXCLUDE`` (comma-separated ``fnmatch``
    patterns on the class name or ``module.QualName``; exclude wins, then include, then the class
    attribute). It is recorded inside the handler's span, so with the SDK a sampled handler leaves an
    exemplar pointing at its trace.

Attributes are low-cardinality: ``messaging.system``, ``messaging.destination.template`` (the actor
class), ``messaging.thespian.message.type``, ``error.type``. Processes: each process counts its own
actors. Forked actor processes inherit the meter provider and this module's switch; their counts start
from zero (reset at fork), and ``per_process`` gives each its own provider (a distinct resource, so the
series of different processes never collide at the backend). Providers are flushed when an actor process
ends, like spans (``_tracing.flush_at_exit``). The package never imports the SDK.
"""
from __future__ import annotations

import fnmatch
import os
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from thespian.actors import ActorExitRequest, DeadEnvelope, PoisonMessage

from . import _tracing, semconv
from ._state import observers, settings
from ._tracing import __version__
from .receive import with_receive_wrapped
from .semconv import INSTRUMENTATION_NAME, SCHEMA_URL

__all__ = ["enable_actor_metrics", "disable_actor_metrics", "actor_metrics_enabled", "measures_duration",
           "reset_actor_metrics",
           "METRIC_DURATION", "METRIC_HANDLED", "METRIC_FAILED", "METRIC_POISON", "METRIC_DEAD_LETTERS",
           "METRIC_CREATED", "METRIC_EXITED", "METRIC_LIVE", "DURATION_INCLUDE_VARIABLE",
           "DURATION_EXCLUDE_VARIABLE", "DURATION_BUCKETS"]

METRIC_DURATION = "messaging.process.duration"
METRIC_HANDLED = "messaging.thespian.messages.handled"
METRIC_FAILED = "messaging.thespian.messages.failed"
METRIC_POISON = "messaging.thespian.poison_messages"
METRIC_DEAD_LETTERS = "messaging.thespian.dead_letters"
METRIC_CREATED = "messaging.thespian.actors.created"
METRIC_EXITED = "messaging.thespian.actors.exited"
METRIC_LIVE = "messaging.thespian.actors.live"

DURATION_INCLUDE_VARIABLE = "THESPIAN_TRACE_METRICS_DURATION_INCLUDE"
DURATION_EXCLUDE_VARIABLE = "THESPIAN_TRACE_METRICS_DURATION_EXCLUDE"

#: Seconds. The messaging conventions' advisory buckets start at 5 ms; actor handlers often take tens of
#: microseconds, so finer buckets come first.
DURATION_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                    0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

_perf_counter = time.perf_counter


class _ClassStats:
    """Counts of one actor class in this process (bumped by the observer, read by the callbacks)."""

    __slots__ = ("name", "timed", "skip", "handled", "failed", "poison", "dead", "created", "exited",
                 "attrs")

    def __init__(self, cls: type, timed: bool, skip: bool) -> None:
        self.name = cls.__name__
        self.timed = timed
        self.skip = skip
        self.handled: Dict[type, int] = {}                 # message type -> invocations
        self.failed: Dict[Tuple[type, str], int] = {}      # (message type, error.type) -> invocations
        self.poison: Dict[type, int] = {}                  # poisoned message type -> returns
        self.dead: Dict[type, int] = {}                    # dead message type -> deliveries
        self.created = 0
        self.exited = 0
        self.attrs: Dict[Any, Dict[str, Any]] = {}         # histogram attributes, made once per key

    def attributes(self, msg_type: type, error: Optional[str] = None) -> Dict[str, Any]:
        key = (msg_type, error)
        attrs = self.attrs.get(key)
        if attrs is None:
            attrs = self.attrs[key] = _attributes(self.name, msg_type.__name__, error)
        return attrs


def _attributes(cls_name: str, msg_type: Optional[str] = None, error: Optional[str] = None) -> Dict[str, Any]:
    attrs: Dict[str, Any] = {semconv.MESSAGING_SYSTEM: semconv.SYSTEM,
                             semconv.MESSAGING_DESTINATION_TEMPLATE: cls_name}
    if msg_type is not None:
        attrs[semconv.MESSAGING_OPERATION_NAME] = semconv.OPERATION_PROCESS
        attrs[semconv.MESSAGE_TYPE] = msg_type
    if error is not None:
        attrs[semconv.ERROR_TYPE] = error
    return attrs


class _Registry:
    """This process's switch and counts (one per process, like every other observation-plane state)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.classes: Dict[type, _ClassStats] = {}
        self.enabled = False
        self.provider: Any = None          # the meter provider recording now
        self.histogram: Any = None         # the histogram while recording, else None
        self.made_histogram: Any = None    # the histogram made for ``provider`` (kept while disabled)
        self.include: Tuple[str, ...] = ()
        self.exclude: Tuple[str, ...] = ()
        self.per_process: Optional[Callable[[], Any]] = None
        self.owner_pid = os.getpid()       # the process whose provider ``provider`` is
        self.keep_alive: List[Any] = []    # instruments: observable callbacks live as long as these
        self.fork_hook = False


_reg = _Registry()


# --------------------------------------------------------------------------------------------------
# Which classes are timed


def _patterns(value: Any) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(p.strip() for p in value if p and p.strip())


def _matches(cls: type, patterns: Sequence[str]) -> bool:
    names = (cls.__name__, getattr(cls, "__qualname__", cls.__name__),
             "%s.%s" % (cls.__module__, getattr(cls, "__qualname__", cls.__name__)))
    return any(fnmatch.fnmatchcase(name, p) for p in patterns for name in names)


def measures_duration(cls: type) -> bool:
    """Is ``messaging.process.duration`` recorded for actors of ``cls`` in this process?

    An exclude pattern wins, then an include pattern, then the class attribute ``measure_duration``
    (default False).
    """
    if _reg.exclude and _matches(cls, _reg.exclude):
        return False
    if _reg.include and _matches(cls, _reg.include):
        return True
    return getattr(cls, "measure_duration", False) is True


def _class_stats(cls: type) -> _ClassStats:
    st = _reg.classes.get(cls)
    if st is None:
        # Thespian's own pseudo-actors (simpleSystemBase's External, which collects replies for ask(),
        # and its BadActor placeholder) are not the user's actors.
        skip = (cls.__module__ or "").startswith("thespian.")
        st = _reg.classes[cls] = _ClassStats(cls, measures_duration(cls), skip)
    return st


# --------------------------------------------------------------------------------------------------
# The observers (the hot path: keep every line here justified)


def _on_delivery(inst: Any, message: Any, sender: Any, call: Callable[[Any, Any], Any],
                 guarded: bool) -> Any:
    # 0.25 µs per delivery with counters only (observer called directly, Python 3.11); about 1 µs in a
    # simpleSystemBase ping-pong with the hook's routing (make bench, "metrics" rows). A synchronous
    # OpenTelemetry counter would add about 12 µs here (SDK 1.45), hence plain ints.
    cls = type(inst)
    st = _reg.classes.get(cls)
    if st is None:
        st = _class_stats(cls)
    if st.skip or settings.disabled:
        return call(message, sender)
    t = type(message)
    if t is ActorExitRequest:
        st.exited += 1
    elif t is PoisonMessage:
        pt = type(message.poisonMessage)
        st.poison[pt] = st.poison.get(pt, 0) + 1
    elif t is DeadEnvelope:
        dt = type(message.deadMessage)
        st.dead[dt] = st.dead.get(dt, 0) + 1
    if guarded:
        # Thespian's ActorManager catches handler exceptions (and retries once): count each invocation
        # of the instance's receiveMessage instead, for this one delivery.
        return _call_guarded(st, inst, message, sender, call)
    return _invoke(st, t, call, message, sender)


def _invoke(st: _ClassStats, t: type, call: Callable[[Any, Any], Any], message: Any, sender: Any) -> Any:
    """One handler invocation: counted, failures with ``error.type``, timed for opted-in classes."""
    try:
        st.handled[t] += 1
    except KeyError:
        st.handled[t] = 1
    if not st.timed:
        try:
            return call(message, sender)
        except BaseException as exc:
            _failed(st, t, exc)
            raise
    start = _perf_counter()
    try:
        result = call(message, sender)
    except BaseException as exc:
        elapsed = _perf_counter() - start
        error = _failed(st, t, exc)
        _record(elapsed, st.attributes(t, error))
        raise
    _record(_perf_counter() - start, st.attributes(t))
    return result


def _record(seconds: float, attrs: Dict[str, Any]) -> None:
    # About 12 µs per call with SDK 1.45 (exemplar filter on or off): why durations are opt-in per class.
    histogram = _reg.histogram
    if histogram is not None:
        histogram.record(seconds, attrs)  # under the handler's span: the SDK's exemplar points at it


def _failed(st: _ClassStats, t: type, exc: BaseException) -> str:
    error = semconv.error_type(exc)
    key = (t, error)
    st.failed[key] = st.failed.get(key, 0) + 1
    return error


def _call_guarded(st: _ClassStats, inst: Any, message: Any, sender: Any,
                  call: Callable[[Any, Any], Any]) -> Any:
    if st.timed:
        def wrap(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
            def receiveMessage(msg: Any, snd: Any) -> Any:  # noqa: N802 - Thespian's name
                return _invoke(st, type(msg), original, msg, snd)
            return receiveMessage
    else:
        handled = st.handled

        # Counters only: the count inline, not through _invoke, one frame fewer on the message path.
        # Through _invoke each actor process paid 100-150 µs of CPU per message on multiprocTCPBase
        # (pinger/ponger 718/676 vs 631/507 µs with metrics off). That fits the data-stack cliff found
        # later (_stack.py: a few frames more put a ponger's message path across a chunk boundary, 5
        # faults per message; faults were not counted then). Actor processes now start with headroom
        # (hook._starting_empty), so a frame here costs what a frame costs: the multiprocTCPBase
        # counters run 1,982,848 instructions per message against 1,986,142 with metrics off (make
        # bench-instructions), with 0.21 vs 0.24 minor faults.
        def wrap(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
            def receiveMessage(msg: Any, snd: Any) -> Any:  # noqa: N802 - Thespian's name
                t = type(msg)
                handled[t] = handled.get(t, 0) + 1
                try:
                    return original(msg, snd)
                except BaseException as exc:
                    _failed(st, t, exc)
                    raise
            return receiveMessage

    if getattr(inst, "__dict__", None) is None:  # pragma: no cover - no __dict__: count the delivery only
        return _invoke(st, type(message), call, message, sender)
    return with_receive_wrapped(inst, wrap, lambda: call(message, sender))


def _on_lifecycle(inst: Any, event: str) -> None:
    if event != "created":
        return
    if _reg.per_process is not None and _reg.owner_pid != os.getpid():
        _switch_to_own_provider()
    st = _class_stats(type(inst))
    if not st.skip:
        st.created += 1


# --------------------------------------------------------------------------------------------------
# Instruments


def _reporting(owner: Any) -> bool:
    """Do the instruments made for ``owner`` report now? Only the current provider's do: a forked
    process that switched to its own provider (``per_process``) still holds the inherited one, whose
    periodic reader the SDK restarts after fork, and must not report its counts there too."""
    return _reg.enabled and _reg.provider is owner and not settings.disabled


def _observe_counts(attr: str, owner: Any) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        if not _reporting(owner):
            return []
        totals: Dict[Tuple[str, str], int] = {}
        for st in list(_reg.classes.values()):
            for t, n in list(getattr(st, attr).items()):
                key = (st.name, t.__name__)  # classes sharing a name are summed, as on spans
                totals[key] = totals.get(key, 0) + n
        return [Observation(n, _attributes(cls, msg)) for (cls, msg), n in totals.items()]
    return callback


def _observe_failures(owner: Any) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        if not _reporting(owner):
            return []
        totals: Dict[Tuple[str, str, str], int] = {}
        for st in list(_reg.classes.values()):
            for (t, error), n in list(st.failed.items()):
                key = (st.name, t.__name__, error)
                totals[key] = totals.get(key, 0) + n
        return [Observation(n, _attributes(cls, msg, error)) for (cls, msg, error), n in totals.items()]
    return callback


def _observe_lifecycle(what: Callable[[_ClassStats], int], owner: Any
                       ) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        if not _reporting(owner):
            return []
        totals: Dict[str, int] = {}
        for st in list(_reg.classes.values()):
            if not st.skip and (st.created or st.exited):
                totals[st.name] = totals.get(st.name, 0) + what(st)
        return [Observation(n, _attributes(name)) for name, n in totals.items()]
    return callback


def _make_instruments(provider: Any) -> None:
    """Create this module's instruments on ``provider``'s meter; sets ``_reg.histogram``."""
    meter = metrics.get_meter(INSTRUMENTATION_NAME, __version__, meter_provider=provider,
                              schema_url=SCHEMA_URL)
    try:  # explicit_bucket_boundaries_advisory: opentelemetry-api >= 1.23
        histogram = meter.create_histogram(
            METRIC_DURATION, unit="s", description="Duration of handling a message in an actor "
            "(classes opted in with measure_duration or THESPIAN_TRACE_METRICS_DURATION_INCLUDE)",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
    except TypeError:  # pragma: no cover - older API
        histogram = meter.create_histogram(METRIC_DURATION, unit="s",
                                           description="Duration of handling a message in an actor")
    _reg.keep_alive.append([
        histogram,
        meter.create_observable_counter(
            METRIC_HANDLED, callbacks=[_observe_counts("handled", provider)], unit="{message}",
            description="Handler invocations per actor class and message type (retries included)"),
        meter.create_observable_counter(
            METRIC_FAILED, callbacks=[_observe_failures(provider)], unit="{message}",
            description="Handler invocations that raised, per actor class, message type and error.type"),
        meter.create_observable_counter(
            METRIC_POISON, callbacks=[_observe_counts("poison", provider)], unit="{message}",
            description="PoisonMessage returns (messages Thespian gave up on) per receiving actor class "
                        "and poisoned message type"),
        meter.create_observable_counter(
            METRIC_DEAD_LETTERS, callbacks=[_observe_counts("dead", provider)], unit="{message}",
            description="Dead letters delivered to a dead-letter handler, per handler class and "
                        "message type"),
        meter.create_observable_counter(
            METRIC_CREATED, callbacks=[_observe_lifecycle(lambda st: st.created, provider)], unit="{actor}",
            description="Actors created in this process, per class"),
        meter.create_observable_counter(
            METRIC_EXITED, callbacks=[_observe_lifecycle(lambda st: st.exited, provider)], unit="{actor}",
            description="Actors that received ActorExitRequest in this process, per class"),
        meter.create_observable_gauge(
            METRIC_LIVE, callbacks=[_observe_lifecycle(lambda st: st.created - st.exited, provider)],
            unit="{actor}", description="Actors alive in this process (created minus exited), per class"),
    ])
    _reg.histogram = _reg.made_histogram = histogram
    _reg.provider = provider


def provider_records(provider: Any) -> bool:
    """Is ``provider`` one that records? (not the API's no-op, nor its proxy before an SDK is set)"""
    return type(provider).__name__ not in ("NoOpMeterProvider", "_ProxyMeterProvider", "_DefaultMeterProvider")


def _flush_meters(timeout_millis: int) -> None:
    """Export what this process's meter provider holds (at actor process exit: ``flush_at_exit``)."""
    if not _reg.enabled:
        return
    force_flush = getattr(_reg.provider, "force_flush", None)
    if force_flush is not None:
        force_flush(timeout_millis)


def _switch_to_own_provider() -> None:
    """In a forked actor process: record through a provider of its own (``per_process``)."""
    _reg.owner_pid = os.getpid()
    try:
        provider = _reg.per_process()
    except Exception:  # a broken factory must never break an actor: keep the inherited provider
        _tracing.log.warning("thespian-trace: per_process meter provider factory failed; keeping the "
                             "inherited provider", exc_info=True)
        return
    _reg.keep_alive = []
    _make_instruments(provider)


def _after_fork_in_child() -> None:
    """A forked process counts its own actors only (the dicts were copied from the parent)."""
    _reg.lock = threading.Lock()
    for st in _reg.classes.values():
        for table in (st.handled, st.failed, st.poison, st.dead):
            table.clear()
        st.created = st.exited = 0



# --------------------------------------------------------------------------------------------------
# The switch


def enable_actor_metrics(meter_provider: Optional[Any] = None, *,
                         duration_include: Optional[Sequence[str]] = None,
                         duration_exclude: Optional[Sequence[str]] = None,
                         per_process: Optional[Callable[[], Any]] = None) -> bool:
    """Record actor metrics in this process (and the actor processes it forks later) to ``meter_provider``.

    ``meter_provider``: default the global one; when that is the API's no-op or proxy (no SDK set yet),
    nothing is installed and False is returned: no meter provider, no cost. ``duration_include`` /
    ``duration_exclude``: class-name patterns choosing which classes record ``messaging.process.duration``
    (default: ``THESPIAN_TRACE_METRICS_DURATION_INCLUDE`` / ``_EXCLUDE``, then each class's
    ``measure_duration`` attribute). ``per_process``: a zero-argument callable returning a meter provider,
    called once in each forked actor process when its actor is created (give each process its own
    resource, e.g. ``service.instance.id``, and exporter). Calling again replaces the settings.
    """
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    if not provider_records(provider):
        _tracing.log.debug("thespian-trace: no meter provider configured; actor metrics stay off")
        return False
    with _reg.lock:
        _reg.include = _patterns(duration_include if duration_include is not None
                                 else os.environ.get(DURATION_INCLUDE_VARIABLE))
        _reg.exclude = _patterns(duration_exclude if duration_exclude is not None
                                 else os.environ.get(DURATION_EXCLUDE_VARIABLE))
        for cls, st in _reg.classes.items():
            st.timed = measures_duration(cls)
        _reg.per_process = per_process
        _reg.owner_pid = os.getpid()
        if _reg.provider is not provider or _reg.made_histogram is None:
            _reg.keep_alive = []
            _make_instruments(provider)
        _reg.histogram = _reg.made_histogram  # instruments made for this provider are kept across switches
        _reg.enabled = True
        if not _reg.fork_hook and hasattr(os, "register_at_fork"):  # once per process, never undone
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _reg.fork_hook = True
        if _flush_meters not in _tracing.exit_flushers:
            _tracing.exit_flushers.append(_flush_meters)
        observers.delivery = _on_delivery
        observers.lifecycle = _on_lifecycle
    return True


def disable_actor_metrics() -> None:
    """Stop recording in this process: the observers are removed (zero cost again); counts are kept but
    no longer reported."""
    with _reg.lock:
        if observers.delivery is _on_delivery:
            observers.delivery = None
        if observers.lifecycle is _on_lifecycle:
            observers.lifecycle = None
        _reg.enabled = False
        _reg.histogram = None


def actor_metrics_enabled() -> bool:
    """Are actor metrics recording in this process?"""
    return _reg.enabled


def reset_actor_metrics() -> None:
    """Zero this process's counts (tests, demos; breaks the monotonicity of the cumulative counters)."""
    _after_fork_in_child()
    _reg.classes.clear()
