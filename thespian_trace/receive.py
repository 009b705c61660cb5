"""The receive side: normalize every incoming message and run its handler in the right trace context.

This module owns the receive side of the delivery protocol. ``deliver`` is the one code path for
messages that need more than a plain delivery (``SPECIAL_TYPES``; the hook delivers bare messages
itself, and on simpleSystemBase hands Envelopes to ``deliver_envelope``, whose fanout-marker path is
one check and one call). It is called by the data plane (``hook.py``)
below the actor class, so Thespian's class decorators and not-yet-migrated actors see unwrapped
messages too, and by ``TracedActor.receiveMessage`` itself when the hook is not installed. Unwrapping
happens whatever the observation plane says; spans only while the mode in force is not ``off``.

For each delivery:
  * an ``Envelope`` is unwrapped; so are the Envelopes inside ``WakeupMessage.payload``,
    ``PoisonMessage.poisonMessage``, ``DeadEnvelope.deadMessage`` and troupe work items;
  * a sampled carrier is extracted (the sieve rejects unsampled ones without parsing) and a CONSUMER
    span is started as its child, current for exactly the duration of the handler; exceptions are
    recorded on it and re-raised, so Thespian's retry and ``PoisonMessage`` behave as before;
  * a message without a context to continue runs under an explicit empty context where an ambient one
    exists: ``simpleSystemBase`` runs actors synchronously on the thread that called ``tell``/``ask``,
    so the caller's span would otherwise leak into every actor (Thespian 4.0.1, simpleSystemBase.py,
    ``_runSingleSend``);
  * an enveloped delivery without a trace to continue (a fanout marker of any size, an unsampled or
    dropped carrier) runs with the "no root" flag set (or, under an ambient context, a context marked
    "no root"), so its recipient never starts a trace: roots start only on bare messages.
"""
from __future__ import annotations

import logging
from functools import partial
from typing import Any, Callable, Dict, Optional, Tuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from thespian.actors import ChildActorExited, DeadEnvelope, PoisonMessage, WakeupMessage

from . import semconv
from ._state import (OFF, ON, counters, counting, delivery, observers, received_bare, received_enveloped,
                     settings)
from ._tracing import get_tracer
from .config import set_mode
from .envelope import Envelope
from .messages import SetTraceMode, TraceModeChanged
from .propagation import extract_any, extract_if_sampled
from .sending import get_current

try:  # Thespian's troupe work item carries the message to a worker; unwrap inside it too.
    from thespian.troupe import _TroupeWork
except Exception:  # pragma: no cover - very old Thespian
    _TroupeWork = None

__all__ = ["deliver", "SPECIAL_TYPES", "NO_ROOT_CONTEXT", "EMPTY_CONTEXT",
           "start_root_span", "run_in_span", "run_under", "run_without_roots", "unwrap_reply",
           "may_start_root", "record_error", "get_current", "observed",
           "count", "simple_receive", "deliver_bare", "deliver_envelope", "with_receive_wrapped"]

_attach = otel_context.attach
_detach = otel_context.detach


_NO_ROOT_KEY = otel_context.create_key("thespian_trace.no_root")
#: Context attached for a fanout delivery that carries no sampled parent: not empty, so a recipient
#: that may start traces knows it must not.
NO_ROOT_CONTEXT = Context({_NO_ROOT_KEY: True})
#: The context a delivery runs under when it has no trace to continue (never an inherited one).
EMPTY_CONTEXT = _EMPTY = Context()

#: Message types that need more than a plain delivery (everything else takes the fast path).
SPECIAL_TYPES = frozenset(t for t in (Envelope, WakeupMessage, PoisonMessage, DeadEnvelope, _TroupeWork,
                                      SetTraceMode, TraceModeChanged, ChildActorExited)
                          if t is not None)


# Thespian messages that carry another message: the attribute holding it and the delivery kind.
# (PoisonMessage.poisonMessage is a read-only property over ``_poison``, Thespian 4.0.1 actors.py.)
_CONTAINERS = {WakeupMessage: ("payload", "wakeup"), PoisonMessage: ("_poison", "poison"),
               DeadEnvelope: ("deadMessage", "dead_letter")}
if _TroupeWork is not None:
    _CONTAINERS[_TroupeWork] = ("message", "troupe_work")


def _unwrap(msg: Any) -> Tuple[Any, Optional[Envelope], str]:
    """(message for the handler, the Envelope that carried it or None, delivery kind)."""
    t = type(msg)
    if t is Envelope:
        return msg.message, msg, "message"
    container = _CONTAINERS.get(t)
    if container is None:
        return msg, None, "message"
    attr, kind = container
    env = getattr(msg, attr, None)
    if type(env) is Envelope:
        # A container is never shared between recipients, so it is safe to mutate; a retry of the same
        # container on simpleSystemBase then arrives already unwrapped and runs without a span.
        setattr(msg, attr, env.message)
        return msg, env, kind
    return msg, None, kind


def unwrap_reply(reply: Any) -> Any:
    """What an external ``ask``/``listen`` caller should see: never an Envelope."""
    t = type(reply)
    if t is Envelope:
        return reply.message
    if t in SPECIAL_TYPES:
        return _unwrap(reply)[0]
    return reply


def _address(inst: Any) -> str:
    try:
        return str(inst.myAddress)
    except Exception:
        return ""


_span_names: dict = {}


def _span_attributes(inst: Any, inner: Any, kind: str) -> dict:
    # The actor's own attributes built once per instance: 0.46 µs per span instead of 4.3 µs
    # (timeit, a TracedActor, 0fc7018).
    d = getattr(inst, "__dict__", None)
    base = d.get("_tt_span_attrs") if d is not None else None
    if base is None:
        base = _span_attributes_uncached(inst)
        if d is not None:
            d["_tt_span_attrs"] = base
    attributes = dict(base)
    attributes[semconv.MESSAGE_TYPE] = type(inner).__name__
    attributes[semconv.DELIVERY] = kind
    return attributes


def _span_attributes_uncached(inst: Any) -> dict:
    cls_name = type(inst).__name__
    attributes = {
        semconv.MESSAGING_SYSTEM: semconv.SYSTEM,
        semconv.MESSAGING_OPERATION_TYPE: semconv.OPERATION_PROCESS,
        semconv.MESSAGING_OPERATION_NAME: semconv.OPERATION_PROCESS,
        semconv.MESSAGING_DESTINATION_TEMPLATE: cls_name,
        semconv.ACTOR_ADDRESS: _address(inst),
    }
    try:  # the one stable destination name an actor may have
        global_name = inst.globalName
    except Exception:
        global_name = None
    if isinstance(global_name, str) and global_name:
        attributes[semconv.MESSAGING_DESTINATION_NAME] = global_name
    else:
        attributes[semconv.MESSAGING_DESTINATION_ANONYMOUS] = True
    return attributes


def record_error(span: trace.Span, exc: BaseException) -> None:
    """A failed operation: the exception event, ``error.type`` (the exception's qualified class name)
    and status ERROR whose description is the exception's message."""
    if span.is_recording():
        span.record_exception(exc)
        span.set_attribute(semconv.ERROR_TYPE, semconv.error_type(exc))
        span.set_status(Status(StatusCode.ERROR, str(exc)))


def run_in_span(span: trace.Span, parent: Context, call: Callable[[], Any],
                guard_instance: Any = None) -> Any:
    """Run ``call()`` with ``span`` current; record exceptions on it; always end it and detach.

    ``guard_instance``: Thespian's multi-process ActorManager catches handler exceptions itself (it
    retries once and then returns a PoisonMessage), so they never reach us; for that path the actor's
    ``receiveMessage`` is wrapped on the instance for the duration of this one delivery.
    """
    token = _attach(trace.set_span_in_context(span, parent))
    try:
        if guard_instance is None:
            try:
                return call()
            except BaseException as exc:
                record_error(span, exc)
                raise
        return _call_guarded(guard_instance, span, call)
    finally:
        span.end()
        _detach(token)


_MISSING = object()


def with_receive_wrapped(inst: Any, wrap: Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]],
                         call: Callable[[], Any]) -> Any:
    """``call()`` while ``inst.receiveMessage`` is ``wrap(original)``, for this one delivery.

    Thespian's multi-process ``ActorManager`` catches handler exceptions itself, so whoever must see
    them (the span, actor metrics) wraps the instance's ``receiveMessage`` for the delivery instead.
    """
    d = getattr(inst, "__dict__", None)
    if d is None:
        return call()
    previous = d.get("receiveMessage", _MISSING)
    wrapped = wrap(inst.receiveMessage)
    d["receiveMessage"] = wrapped
    try:
        return call()
    finally:
        # A handler may replace receiveMessage itself (@initializing_messages does): keep its choice.
        if d.get("receiveMessage") is wrapped:
            if previous is _MISSING:
                del d["receiveMessage"]
            else:
                d["receiveMessage"] = previous


def _call_guarded(inst: Any, span: trace.Span, call: Callable[[], Any]) -> Any:
    def wrap(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def guarded(msg, sender):
            try:
                return original(msg, sender)
            except BaseException as exc:
                record_error(span, exc)
                raise
        return guarded

    return with_receive_wrapped(inst, wrap, call)


def run_under(ctx: Context, call: Callable[[], Any]) -> Any:
    """``call()`` with ``ctx`` attached, detached again whatever happens."""
    token = _attach(ctx)
    try:
        return call()
    finally:
        _detach(token)


def start_root_span(inst: Any, inner: Any) -> trace.Span:
    """A root CONSUMER span for a bare message in an actor that may start traces (SDK sampler decides)."""
    span = get_tracer().start_span(semconv.process_span_name(type(inst).__name__), context=_EMPTY,
                                   kind=SpanKind.CONSUMER,
                                   attributes=_span_attributes(inst, inner, "message"))
    if span.is_recording():
        counters.roots_started += 1
    return span


def _handle_control(inst: Any, msg: Any, sender: Any) -> None:
    """Consume SetTraceMode (switch, forward to children, answer) and TraceModeChanged (swallow)."""
    if type(msg) is TraceModeChanged:
        return
    previous = settings.mode
    error = None
    try:  # a peer's object: tolerate missing fields (older/newer builds)
        set_mode(getattr(msg, "mode", None))
    except ValueError as exc:
        error = str(exc)
    send = getattr(inst, "send", None)
    if send is None:
        return
    if getattr(msg, "recursive", True) and error is None:
        for child in list(getattr(inst, "__dict__", {}).get(_CHILDREN, ())):
            try:
                send(child, msg)
            except Exception:
                pass
    if sender is not None:
        try:
            send(sender, TraceModeChanged(settings.mode, previous, type(inst).__name__, error))
        except Exception:
            pass


#: Instance attribute of a traced actor: the children it created, which ``SetTraceMode`` is forwarded
#: to. Written and read only here (``remember_child``, ``_forget_child``, ``_handle_control``).
_CHILDREN = "_tt_children"


def remember_child(inst: Any, address: Any) -> None:
    """Note a child ``inst`` has just created (``TracedActorMixin.createActor``)."""
    children = inst.__dict__.get(_CHILDREN)
    if children is None:
        children = inst.__dict__[_CHILDREN] = []
    children.append(address)


def _forget_child(inst: Any, msg: ChildActorExited) -> None:
    """Drop an exited child from the ones a traced actor forwards ``SetTraceMode`` to."""
    children = getattr(inst, "__dict__", {}).get(_CHILDREN)
    if children:
        gone = msg.childAddress
        children[:] = [child for child in children if not child == gone]


def observed(inst: Any, call: Callable[[Any, Any], Any], guarded: bool = False) -> Callable[[Any, Any], Any]:
    """``call`` routed through the delivery observer (``_state.Observers``), or ``call`` itself."""
    obs = observers.delivery
    if obs is None:
        return call
    return lambda m, s: obs(inst, m, s, call, guarded)


def deliver(inst: Any, msg: Any, sender: Any, call: Callable[[Any, Any], Any],
            guard_instance: bool = False, spans: bool = True) -> Any:
    """Deliver ``msg`` (a SPECIAL_TYPES instance, or anything on the fallback path) to ``inst``.

    ``call(message, sender)`` performs Thespian's own delivery of the normalized message.
    ``spans=False`` only unwraps (used for simpleSystemBase's External pseudo-actor, which collects
    replies for ``ask``: a ``TraceModeChanged`` reply must reach the asker).
    """
    inner, env, kind = _unwrap(msg)
    t = type(inner)
    if (t is SetTraceMode or t is TraceModeChanged) and spans:  # not for the External pseudo-actor
        _handle_control(inst, inner, sender)
        return True
    if spans and observers.delivery is not None:
        call = observed(inst, call, guard_instance)
    cls = type(inst)
    if env is None:
        if t is ChildActorExited:
            _forget_child(inst, inner)
        if counting.received:
            count(received_bare, inst)
        if get_current():
            return run_under(_EMPTY, lambda: call(inner, sender))
        return call(inner, sender)
    if counting.received:
        count(received_enveloped, inst)
    carrier = env.carrier
    fanout = is_fanout(env)
    parent = None
    if carrier is not None and spans and settings.active_mode is not OFF:
        parent = extract_any(carrier) if settings.propagate_unsampled else extract_if_sampled(carrier)
    if parent is None:
        # Enveloped but nothing to continue: a fanout marker (whatever its size, one recipient too),
        # an unsampled carrier, or one that was dropped. The sender was tracing, so never a root here:
        # roots start only on bare messages.
        if get_current():
            return run_under(NO_ROOT_CONTEXT, lambda: call(inner, sender))
        return run_without_roots(call, inner, sender)
    if settings.propagate_unsampled and not trace.get_current_span(
            parent).get_span_context().trace_flags.sampled:
        # Standard (propagate-unsampled) mode: honour the upstream "not sampled" decision, no span.
        # (extract_if_sampled only ever returns sampled contexts: no second check needed.)
        return run_under(parent, lambda: call(inner, sender))
    attributes = _span_attributes(inst, inner, kind)
    if fanout:
        attributes[semconv.FANOUT_SIZE] = env.approximate_num_recipients
        try:  # the carrier passed the checks, but it is still a peer's object
            p = carrier.get(semconv.CARRIER_PROBABILITY_KEY)
            if p is not None:
                attributes[semconv.SAMPLING_PROBABILITY] = float(p)
        except Exception:
            pass
    name = _span_names.get(cls)
    if name is None:
        name = _span_names[cls] = semconv.process_span_name(cls.__name__)
    if settings.use_span_links:
        # A trace of its own, linked to the sender's span (celery's use_span_links): the sampler
        # decides afresh, and the handler's own sends continue the new trace.
        links = [Link(trace.get_current_span(parent).get_span_context())]
        parent = _EMPTY
        span = get_tracer().start_span(name, context=parent, kind=SpanKind.CONSUMER,
                                       attributes=attributes, links=links)
    else:
        span = get_tracer().start_span(name, context=parent,
                                       kind=SpanKind.CONSUMER, attributes=attributes)
    return run_in_span(span, parent, lambda: call(inner, sender),
                       guard_instance=inst if guard_instance else None)


def run_without_roots(call: Callable[[Any, Any], Any], msg: Any, sender: Any) -> Any:
    """Deliver ``msg`` so that the recipient cannot start a root trace for it."""
    saved = delivery.no_root
    delivery.no_root = True
    try:
        return call(msg, sender)
    finally:
        delivery.no_root = saved


def is_fanout(env: Envelope) -> bool:
    """Did this Envelope arrive by a fanout to more than one recipient? (for the span's fanout size;
    robust to whatever an odd sender put in the field)"""
    n = env.approximate_num_recipients
    return type(n) is int and n > 1


def may_start_root(inst: Any) -> bool:
    """May a bare message start a root trace now (mode on, not a fanout delivery, no context)?

    The caller has already checked that ``inst``'s class allows roots (``start_traces``).
    """
    return settings.active_mode is ON and not delivery.no_root and not get_current()


def count(table: Dict[type, int], inst: Any) -> None:
    """One more delivery to ``inst``'s class in ``table`` (only called while ``counting.received``)."""
    cls = type(inst)
    try:
        table[cls] += 1
    except KeyError:
        table[cls] = 1


# simpleSystemBase ---------------------------------------------------------------------------------
# The hook replaces Thespian's ``actor_base_receive``; these are the paths it hands a delivery to.

thespian_log = logging.getLogger("Thespian")
# Thespian looks this logger up per message (logging.getLogger takes a lock: ~0.35 µs, cProfile of the
# 10,000 fanout); it is one object for the life of the process, so it is looked up once here.
debug_enabled = thespian_log.isEnabledFor
_DEBUG = logging.DEBUG


def simple_receive(actorInst: Any, msg: Any, sender: Any) -> None:
    """Thespian's own ``actor_base_receive`` (simpleSystemBase): its debug line, then the actor."""
    if debug_enabled(_DEBUG):
        thespian_log.debug('Actor "%s" got message "%s" from "%s"', actorInst, msg, sender)
    actorInst.receiveMessage(msg, sender)


def deliver_bare(inst: Any, msg: Any, sender: Any) -> Any:
    """A bare message on simpleSystemBase when an observer watches or a context is current."""
    obs = observers.delivery
    if obs is None:
        # simpleSystemBase runs actors on the thread of the tell/ask caller; the hook's ask/tell/
        # listen clear the caller's context, this covers other entry points and leaked contexts.
        return run_under(_EMPTY, lambda: simple_receive(inst, msg, sender))
    # The observer called directly with a partial (a C call), not through two Python closures: actor
    # metrics' counters cost +0.86 µs a message instead of +1.03 (simpleSystemBase ping-pong, 5 rounds).
    call = partial(simple_receive, inst)
    if get_current():
        return run_under(_EMPTY, lambda: obs(inst, msg, sender, call, False))
    return obs(inst, msg, sender, call, False)


def deliver_envelope(inst: Any, env: Envelope, sender: Any, spans: bool = True) -> Any:
    """An Envelope on simpleSystemBase, straight from the hook.

    The commonest one, a carrier-less fanout marker around an ordinary message with no observer and no
    context current, is delivered here with the "no root" flag set (the marker path: one type check in
    the hook, this call, then the actor); everything else goes through :func:`deliver`.
    """
    inner = env.message
    if (env.carrier is None and observers.delivery is None and type(inner) not in SPECIAL_TYPES
            and not get_current()):
        if counting.received:
            count(received_enveloped, inst)
        if debug_enabled(_DEBUG):
            thespian_log.debug('Actor "%s" got message "%s" from "%s"', inst, inner, sender)
        if delivery.no_root:
            inst.receiveMessage(inner, sender)
            return None
        delivery.no_root = True
        try:
            inst.receiveMessage(inner, sender)
        finally:
            delivery.no_root = False
        return None
    return deliver(inst, env, sender, lambda m, s: simple_receive(inst, m, s), spans=spans)
