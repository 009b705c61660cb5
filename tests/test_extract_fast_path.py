"""extract_if_sampled's fast path (a dict carrier holding a 55-character version-00 traceparent, at most
with the fanout probability) parses the traceparent itself: it must agree with the W3C propagator on
every value, and step aside whenever the global propagator is not W3C trace context (+ baggage)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from thespian_trace import extract_if_sampled, reset_stats, stats

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
W3C = TraceContextTextMapPropagator()


def reference(carrier):
    """What the general path returns: the propagator's span context when valid and sampled, else None."""
    sc = trace.get_current_span(W3C.extract(carrier, context=Context())).get_span_context()
    return sc if sc.is_valid and sc.trace_flags.sampled else None


def got(carrier):
    ctx = extract_if_sampled(carrier)
    return None if ctx is None else trace.get_current_span(ctx).get_span_context()


@pytest.mark.parametrize("value", [
    "00-%s-%s-01" % (TID, SID),
    "00-%s-%s-03" % (TID, SID),
    "00-%s-%s-ff" % (TID, SID),
    "00-%s-%s-01" % ("0" * 32, SID),          # all-zero trace id: invalid
    "00-%s-%s-01" % (TID, "0" * 16),          # all-zero span id: invalid
    "00-%s-%s-01" % (TID.upper(), SID),       # upper-case hex: the W3C pattern refuses it
    "00-%s-%s-0x" % (TID, SID),
    "00_%s-%s-01" % (TID, SID),
    "ff-%s-%s-01" % (TID, SID),               # version ff is forbidden (not the fast path's version)
    "01-%s-%s-01" % (TID, SID),               # a future version: the general path
    " 0-%s-%s-01" % (TID, SID),
])
@pytest.mark.parametrize("extra", [{}, {"thespian-p": "0.001"}])
def test_fast_path_agrees_with_the_w3c_propagator(value, extra):
    carrier = dict({"traceparent": value}, **extra)
    want = reference(carrier)
    assert got(carrier) == want, value
    if want is not None:
        assert got(carrier).is_remote


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="0123456789abcdefABx-", min_size=55, max_size=55))
def test_any_55_character_value_agrees(value):
    carrier = {"traceparent": value}
    assert got(carrier) == reference(carrier), value


def test_counts_extracted_and_invalid_like_the_general_path():
    reset_stats()
    extract_if_sampled({"traceparent": "00-%s-%s-01" % (TID, SID)})
    extract_if_sampled({"traceparent": "00-%s-%s-01" % ("0" * 32, SID)})
    s = stats()
    assert (s["carriers_extracted"], s["carriers_invalid"]) == (1, 1)


class _Stamp(TextMapPropagator):
    """A propagator that leaves a mark in every context it extracts."""

    def extract(self, carrier, context=None, getter=None):
        from opentelemetry.context import set_value
        return set_value("stamp", carrier.get("traceparent"), context or Context())

    def inject(self, carrier, context=None, setter=None):
        pass

    @property
    def fields(self):
        return set()


def test_a_custom_global_propagator_is_honoured():
    carrier = {"traceparent": "00-%s-%s-01" % (TID, SID)}
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([W3C, _Stamp()]))
    try:
        ctx = extract_if_sampled(carrier)
        assert ctx is not None and ctx.get("stamp") == carrier["traceparent"]
    finally:
        propagate.set_global_textmap(previous)
    assert extract_if_sampled(carrier).get("stamp") is None  # the default again: the fast path
