"""The send side of the delivery protocol: what goes on the wire for a message, in one place.

Used by every sender (``TracedActor.traced_send``/``traced_wakeup_after``/``traced_fanout``, the
external ``traced_ask``/``traced_tell`` and the troupe patch of the receive hook), so they can never
disagree about when a message travels wrapped. The observation plane decides: with the mode in force
not ``on``, or the ``suppress_instrumentation`` context key set (read through ``opentelemetry.context``,
so only ``opentelemetry-api`` is needed), the message is sent bare: 0 extra bytes, no carrier, no span.
"""
from __future__ import annotations

from typing import Any, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from thespian.actors import ActorSystemMessage

from . import semconv
from ._state import ON, settings
from .envelope import Envelope
from .propagation import inject_current as inject

__all__ = ["outgoing", "wrap", "fanout_marker", "fanout_envelope", "observing", "suppressed",
           "get_current", "inject"]

# The key every OpenTelemetry instrumentation honours (opentelemetry-instrumentation's
# ``suppress_instrumentation()`` sets both); the plain string is its backward-compatible twin.
_SUPPRESS_KEY = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", "suppress_instrumentation")
_SUPPRESS_PLAIN = "suppress_instrumentation"


def _bind_get_current():
    """``opentelemetry.context.get_current`` without its two Python frames, when the runtime context
    is the default contextvars one (its ``get_current`` is exactly ``ContextVar.get``)."""
    try:
        runtime = otel_context._RUNTIME_CONTEXT
        var = runtime._current_context
        if type(runtime).get_current.__qualname__ == "ContextVarsRuntimeContext.get_current":
            return var.get
    except Exception:
        pass
    return otel_context.get_current


#: The current OpenTelemetry context (a ContextVar read; 0.3 µs of 4.5 µs per message saved, make bench).
get_current = _bind_get_current()


def suppressed(ctx: Context) -> bool:
    """Is instrumentation suppressed in ``ctx`` (``opentelemetry.instrumentation.utils.suppress_instrumentation``)?"""
    return bool(ctx.get(_SUPPRESS_KEY) or ctx.get(_SUPPRESS_PLAIN))


def observing(ctx: Optional[Context] = None) -> bool:
    """Is the observation plane on for sends made now: mode ``on`` in force and not suppressed?"""
    if settings.active_mode is not ON:
        return False
    if ctx is None:
        ctx = get_current()
    return not (ctx and suppressed(ctx))


def wrap(ctx: Context, msg: Any) -> Any:
    """``msg`` as it must travel under the non-empty context ``ctx`` in mode ``on``.

    An Envelope with a carrier when the current span is sampled (or valid, with propagate-unsampled),
    unless instrumentation is suppressed; the message itself otherwise. Thespian's own messages and
    messages already wrapped are never wrapped.
    """
    if ctx.get(_SUPPRESS_KEY) or ctx.get(_SUPPRESS_PLAIN):
        return msg
    span_context = trace.get_current_span(ctx).get_span_context()
    if span_context.trace_flags.sampled or (settings.propagate_unsampled and span_context.is_valid):
        if isinstance(msg, (Envelope, ActorSystemMessage)):
            return msg
        return Envelope(msg, inject(ctx))
    return msg


def outgoing(msg: Any) -> Any:
    """What to send for ``msg`` now: an Envelope only when the current context must travel."""
    if settings.active_mode is not ON:
        return msg
    ctx = get_current()
    if not ctx:  # no context at all: the common unsampled case in an actor process
        return msg
    return wrap(ctx, msg)


def fanout_marker(msg: Any, n: int) -> Envelope:
    """What a fanout sends to a recipient it does not trace: no carrier, only the fanout's size, so
    the recipient may not start a root for it (one object shared by all of them)."""
    return Envelope(msg, None, n)


def fanout_envelope(msg: Any, n: int, p: float) -> Envelope:
    """What a fanout sends to a kept recipient (one object shared by all of them): the current
    context's carrier, with the sampling probability ``p`` when it is below 1."""
    carrier = inject()
    if p < 1.0:
        carrier[semconv.CARRIER_PROBABILITY_KEY] = repr(p)
    return Envelope(msg, carrier, n)
