"""The Envelope: a message plus the W3C trace carrier that travels with it.

Thespian messages are arbitrary pickled objects with no header, so trace context has to ride inside the
message itself. An Envelope is deliberately tiny on the wire: it pickles as a short dict with one-letter
keys and omits every field that holds its default; the carrier's usual fields (``traceparent``,
``tracestate``, the fanout probability) travel as plain strings under one-letter keys of their own. Unpickling is tolerant in both directions: a pickle written by an older build (fewer
fields) or a newer one (extra fields, or the plain ``__slots__`` pickle format) loads with defaults for
what is missing and ignores what it does not know, so a fleet can run mixed versions.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

__all__ = ["Envelope", "TRACEPARENT"]

TRACEPARENT = "traceparent"

# Long names accepted on unpickle too, so a build that pickled with the plain slots protocol still loads.
_LONG = {"message": "m", "carrier": "c", "approximate_num_recipients": "n"}
# Carrier fields that travel under a one-letter key of their own; any other field goes in "c".
_CARRIER_CODES = (("t", TRACEPARENT), ("s", "tracestate"), ("p", "thespian-p"))
_CODE_OF = {key: code for code, key in _CARRIER_CODES}


class Envelope:
    """A message wrapped with its trace carrier and the size of the fanout it belongs to.

    ``carrier`` is a W3C text-map carrier (``{"traceparent": ..., "tracestate": ...}``) or ``None``;
    a carrier-less Envelope with ``approximate_num_recipients > 1`` only marks a fanout, so that the
    recipient knows it must not start a root trace for it. Envelopes are treated as immutable: one
    object may be delivered to many recipients.
    """

    __slots__ = ("message", "carrier", "approximate_num_recipients")

    def __init__(self, message: Any = None, carrier: Optional[Mapping[str, str]] = None,
                 approximate_num_recipients: int = 1) -> None:
        self.message = message
        self.carrier = carrier
        self.approximate_num_recipients = approximate_num_recipients

    def __reduce__(self):
        state: Dict[str, Any] = {"m": self.message}
        carrier = self.carrier
        if carrier:
            rest = None
            for key, value in carrier.items():
                code = _CODE_OF.get(key)
                if code is not None:
                    state[code] = value
                else:
                    if rest is None:
                        rest = {}
                    rest[key] = value
            if rest is not None:
                state["c"] = rest
        if self.approximate_num_recipients != 1:
            state["n"] = self.approximate_num_recipients
        return (Envelope, (), state)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):
            # The default protocol for a __slots__ class pickles (dict_state, slot_state).
            merged: Dict[str, Any] = {}
            for part in state:
                if isinstance(part, dict):
                    merged.update(part)
            state = merged
        if not isinstance(state, dict):
            state = {}
        for long_name, short in _LONG.items():
            if long_name in state and short not in state:
                state[short] = state[long_name]
        self.message = state.get("m")
        carrier = state.get("c")
        coded = [(key, state[code]) for code, key in _CARRIER_CODES if code in state]
        if coded:
            # The receive path validates the carrier; here it is only reassembled, never rejected.
            carrier = dict(carrier) if isinstance(carrier, dict) else {}
            carrier.update(coded)
        self.carrier = carrier
        n = state.get("n", 1)
        self.approximate_num_recipients = n if type(n) is int and n >= 1 else 1

    def __eq__(self, other: object) -> bool:
        if type(other) is not Envelope:
            return NotImplemented
        return (self.message == other.message and self.carrier == other.carrier
                and self.approximate_num_recipients == other.approximate_num_recipients)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Envelope(%r, %r, approximate_num_recipients=%d)" % (
            self.message, self.carrier, self.approximate_num_recipients)
