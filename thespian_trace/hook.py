"""The data plane: Envelope normalization below the actor class, on every Thespian base.

Installed when the package is imported and never removed by a switch: ``uninstrument()``, mode changes,
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` and suppression only switch the observation plane (spans,
carriers, metrics), so whatever they say no actor ever receives an Envelope. ``uninstall()`` exists for
tests and benchmarks only (to measure or exercise bare Thespian).

Thespian's class decorators (``@troupe``, ``@transient``, ``@transient_idle``,
``@initializing_messages``) replace ``receiveMessage`` and inspect the raw message before the class
sees it (``isinstance(msg, WakeupMessage)``, ``isinstance(message, each[1])``...), so unwrapping inside
``TracedActor.receiveMessage`` would come too late for them. The hook unwraps where Thespian hands a
message to an actor instance instead:

  * ``simpleSystemBase``: ``actor_base_receive`` (bound to each instance as ``_receive`` when it is
    created, Thespian 4.0.1 simpleSystemBase.py) is replaced, so it applies to actors created after
    ``install()``; importing ``thespian_trace`` installs it, which a ``TracedActor`` subclass implies.
  * ``multiprocQueueBase``/``multiprocTCPBase``: ``ActorManager._handleOneMessage`` is wrapped; it is
    looked up per message, so an actor process that imports ``thespian_trace`` while loading its class
    is covered even if its parent process was not. On ``ActorExitRequest`` it arranges a bounded
    flush of the span processor at process exit, because actor processes end with ``os._exit`` and
    would lose queued spans.
  * ``ActorSystem.ask``/``listen`` return replies unwrapped, so untraced external callers are safe
    when an actor replies with ``traced_send``.

Context hygiene (every delivery runs under the carrier's context or an empty one, never an inherited
one): the multi-process bases fork an actor from inside its creator's handler (``createActor``), so
the child would start with the creator's span current and keep it for its ``__init__`` and every bare
message; the child's entry point (``startChild``) is wrapped to start under an empty context, and
bare deliveries clear any context a handler left attached. On ``simpleSystemBase`` an actor's
``__init__`` runs inside its creator's ``createActor`` call, so actor creation runs under an empty
context too.

Stack headroom (CPython 3.11+): the same ``startChild`` wrapper runs the actor's message loop at the
base of a fresh data-stack chunk (``_stack``), so the frames the data plane and actor metrics add
cannot put a message path across a chunk boundary, which cost up to 150 µs per message in a mapped
and unmapped chunk. ``startAdmin`` is wrapped the same way: the Admin relays external asks and tells,
and it forks at whatever depth the caller of ``ActorSystem()`` is at.

It also makes actors that were not migrated yet Envelope-safe during a rollout, which is why the
rollout order is: install the library (mode ``receive``) everywhere first, then turn sending ``on``.
Guarded by Thespian version and by the presence of each patched attribute; when a guard fails the hook
stays out and ``TracedActor`` normalizes in its own ``receiveMessage`` (decorators then see Envelopes).
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from opentelemetry.context import attach as _attach, detach as _detach
from thespian.actors import ActorExitRequest, ActorSystem

from ._stack import with_headroom
from ._state import counting, data_plane, observers, received_bare, settings
from ._tracing import flush_at_exit
from .envelope import Envelope
from .receive import (EMPTY_CONTEXT as _EMPTY, SPECIAL_TYPES, debug_enabled,
                      thespian_log, count, deliver, deliver_bare, deliver_envelope,
                      get_current, simple_receive,
                      observed, run_under, unwrap_reply)
from .sending import outgoing

__all__ = ["install", "uninstall", "installed", "SUPPORTED_THESPIAN", "SUPPORTED_THESPIAN_SPEC"]

log = logging.getLogger("thespian_trace")
#: [min, max) of the Thespian versions whose internals the hook patches: the one statement of the range.
SUPPORTED_THESPIAN = ((3, 10), (5, 0))
#: The same range as a requirement specifier (``instrumentation_dependencies()``).
SUPPORTED_THESPIAN_SPEC = "thespian >= %d.%d, < %d" % (SUPPORTED_THESPIAN[0] + SUPPORTED_THESPIAN[1][:1])


def _thespian_version() -> tuple:
    try:
        from importlib.metadata import version
        parts = version("thespian").split(".")
        return tuple(int(p) for p in parts[:2] if p.isdigit())
    except Exception:
        return ()


def installed() -> bool:
    """Is the data plane (the process-wide receive hook) installed in this process?"""
    return data_plane.installed


def _patch(owner: Any, name: str, new: Any) -> None:
    data_plane.saved.append((owner, name, owner.__dict__[name]))
    setattr(owner, name, new)


def install() -> bool:
    """Install the hook (idempotent). Returns whether it is active; logs why when it cannot be."""
    if data_plane.installed:
        return True
    if not settings.hook_enabled:
        return False
    ver = _thespian_version()
    if not ver or not (SUPPORTED_THESPIAN[0] <= ver < SUPPORTED_THESPIAN[1]):
        log.warning("thespian-trace: Thespian %s is outside the versions the receive hook supports "
                    "(%s); falling back to normalization inside TracedActor only",
                    ".".join(map(str, ver)) or "?", SUPPORTED_THESPIAN)
        return False
    try:
        from thespian.system import multiprocCommon as mpc
        from thespian.system import simpleSystemBase as ssb
        from thespian.system.actorManager import ActorManager
        from thespian.system.transport import ReceiveEnvelope
    except Exception as exc:  # pragma: no cover - layout changed
        log.warning("thespian-trace: cannot install the receive hook (%s)", exc)
        return False
    if (not callable(getattr(ssb, "actor_base_receive", None))
            or "_handleOneMessage" not in ActorManager.__dict__
            or "_createInstance" not in ActorManager.__dict__
            or not callable(getattr(ssb.ActorSystemBase, "_newRefAndActor", None))
            or not callable(getattr(mpc, "startChild", None))
            or "_message" not in ReceiveEnvelope(None, None).__dict__):
        log.warning("thespian-trace: Thespian internals differ from what the receive hook expects; "
                    "falling back to normalization inside TracedActor only")
        return False

    handle_one = ActorManager._handleOneMessage
    External = getattr(ssb, "External", None)
    special = SPECIAL_TYPES

    # Thespian's own actor_base_receive is replaced, not wrapped: the same debug line and the same
    # call (receive.simple_receive), with the data-plane checks inline: one Python frame less per
    # message (about 0.15 µs of the 4.8 µs a bare message costs on this machine, make bench), and
    # Thespian's per-message logging.getLogger (a lock, ~0.35 µs) becomes one lookup at import.
    DEBUG = logging.DEBUG

    def actor_base_receive(actorInst, msg, sender):
        t = type(msg)
        if t not in special:  # the common case: a bare message
            if counting.received:  # only while a reader exists (0.08 µs a message otherwise)
                count(received_bare, actorInst)
            if observers.delivery is None and not get_current():
                if debug_enabled(DEBUG):
                    thespian_log.debug('Actor "%s" got message "%s" from "%s"', actorInst, msg, sender)
                actorInst.receiveMessage(msg, sender)
                return None
            return deliver_bare(actorInst, msg, sender)
        if t is Envelope:
            # Straight to the Envelope path: a fanout marker is this check and one call (with the other
            # issue-11 changes: unsampled 10,000-recipient fanout 1.12 -> 0.98 of bare, performance.md).
            return deliver_envelope(actorInst, msg, sender, type(actorInst) is not External)
        return deliver(actorInst, msg, sender, lambda m, s: simple_receive(actorInst, m, s),
                       spans=type(actorInst) is not External)

    def _handleOneMessage(self, envelope):
        msg = envelope.message
        t = type(msg)
        if t in special:
            def call(m, s):
                envelope._message = m  # so Thespian's retry and PoisonMessage carry the inner message
                return handle_one(self, envelope)
            return deliver(self.actorInst, msg, envelope.sender, call, guard_instance=True)
        inst = self.actorInst
        if t is ActorExitRequest:
            flush_at_exit(2000)  # when the process ends, not here (see flush_at_exit)
            if inst is not None and observers.delivery is not None:
                return observed(inst, lambda m, s: handle_one(self, envelope), True)(msg, envelope.sender)
            return handle_one(self, envelope)
        if inst is not None:
            if counting.received:
                count(received_bare, inst)
            if observers.delivery is not None:  # metrics: the observed path
                call = observed(inst, lambda m, s: handle_one(self, envelope), True)
                if get_current():
                    return run_under(_EMPTY, lambda: call(msg, envelope.sender))
                return call(msg, envelope.sender)
        if get_current():  # a context some handler left attached: never hand it to the next message
            return run_under(_EMPTY, lambda: handle_one(self, envelope))
        return handle_one(self, envelope)

    # simpleSystemBase delivers every message synchronously inside tell/ask/listen, on the caller's
    # thread: run them under an empty context once, instead of clearing the caller's span for each
    # of the (possibly thousands of) deliveries. The caller's context is already in the Envelope.
    # (An attach/detach pair costs 0.57 µs, timeit, 0fc7018: once per ask instead of per delivery.)
    def ask(self, actorAddr, msg, timeout=None):
        token = _attach(_EMPTY)
        try:
            return unwrap_reply(orig_ask(self, actorAddr, msg, timeout))
        finally:
            _detach(token)

    def tell(self, actorAddr, msg):
        token = _attach(_EMPTY)
        try:
            return orig_tell(self, actorAddr, msg)
        finally:
            _detach(token)

    def listen(self, timeout=None):
        token = _attach(_EMPTY)
        try:
            return unwrap_reply(orig_listen(self, timeout))
        finally:
            _detach(token)

    new_ref_and_actor = ssb.ActorSystemBase._newRefAndActor

    def _newRefAndActor(self, *args, **kwargs):
        # The new actor's __init__ runs here, inside its creator's handler or the caller's span.
        if get_current():
            ref = run_under(_EMPTY, lambda: new_ref_and_actor(self, *args, **kwargs))
        else:
            ref = new_ref_and_actor(self, *args, **kwargs)
        lifecycle = observers.lifecycle
        if lifecycle is not None:
            inst = getattr(ref, "instance", None)
            if inst is not None:
                lifecycle(inst, "created")
        return ref

    create_instance = ActorManager._createInstance

    def _createInstance(self):
        # Multi-process bases: the actor's instance is made in its own process.
        result = create_instance(self)
        lifecycle = observers.lifecycle
        if lifecycle is not None and getattr(self, "actorInst", None) is not None:
            lifecycle(self.actorInst, "created")
        return result

    orig_ask = ActorSystem.ask
    orig_tell = ActorSystem.tell
    orig_listen = ActorSystem.listen
    _patch(ssb, "actor_base_receive", actor_base_receive)
    _patch(ActorManager, "_handleOneMessage", _handleOneMessage)
    _patch(ActorSystem, "ask", ask)
    _patch(ActorSystem, "tell", tell)
    _patch(ActorSystem, "listen", listen)
    _patch(ssb.ActorSystemBase, "_newRefAndActor", _newRefAndActor)
    _patch(ActorManager, "_createInstance", _createInstance)
    _patch(mpc, "startChild", _starting_empty(mpc.startChild))
    if callable(getattr(mpc, "startAdmin", None)):  # the Admin relays every external ask and tell
        _patch(mpc, "startAdmin", with_headroom(mpc.startAdmin))
    _install_troupe_patch()
    data_plane.installed = True
    return True


def _starting_empty(entry: Callable[..., Any]) -> Callable[..., Any]:
    """``entry`` (the target of a forked actor process) run under an empty context, with data-stack
    headroom for its message loop (``_stack``: a loop straddling a chunk boundary maps and unmaps a
    chunk on every crossing).

    A forked process starts with the context of the thread that forked it: the creator's handler span.
    Only the OpenTelemetry context is reset (other context variables are the application's business).
    ``functools.wraps`` keeps the name, so a ``spawn`` start method still pickles the target by
    reference (and the spawned process, which starts empty anyway, loads Thespian's original).
    """
    @functools.wraps(entry)
    def start(*args: Any, **kwargs: Any) -> Any:
        _attach(_EMPTY)  # never detached: the process ends with this call
        return entry(*args, **kwargs)

    return with_headroom(start)


def _install_troupe_patch() -> None:
    """Troupe managers forward work as ``_TroupeWork(message, ...)`` with a bare ``send``; wrap the
    message when the manager's span is sampled so the worker's span continues the sender's trace."""
    try:
        from thespian import troupe
        work_cls = troupe._TroupeWork
        original_init = work_cls.__init__
    except Exception:  # pragma: no cover
        return
    def __init__(self, message, orig_sender, troupe_mgr):
        original_init(self, outgoing(message), orig_sender, troupe_mgr)

    _patch(work_cls, "__init__", __init__)


def uninstall() -> None:
    """Remove the data plane: for tests and benchmarks only (no switch calls this).

    Actors created meanwhile keep what they were bound to.
    """
    while data_plane.saved:
        owner, name, value = data_plane.saved.pop()
        setattr(owner, name, value)
    data_plane.installed = False
