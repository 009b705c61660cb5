"""Envelope: pickle round trips, tolerance to older/newer builds' pickles, wire cost, unsampled sends."""
import pickle

import pytest
from opentelemetry import trace

from thespian_trace import Envelope, stats, traced_tell
from thespian_trace.propagation import inject_current
from thespian_trace.telemetry import count_received

import fanout_actors as fa
from conftest import DropNamed
import tt_actors as ta


@pytest.fixture(autouse=True)
def _count_received():
    """stats()["received"] is read here: keep the per-class counts (off by default, telemetry.py)."""
    previous = count_received(True)
    yield
    count_received(previous)

TP = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"


class Payload:
    """A realistic small message class (module-level, so it pickles by reference)."""

    def __init__(self, user_id, text):
        self.user_id = user_id
        self.text = text

    def __eq__(self, other):
        return type(other) is Payload and vars(other) == vars(self)


# ------------------------------------------------------------------------------------------------
# Hand-crafted pickles: the opcode stream an older or newer build would have written.

def _state_ops(state):
    """The opcodes that push ``state`` (a protocol-2 pickle of it without PROTO and STOP)."""
    body = pickle.dumps(state, protocol=2)
    assert body[:2] == b"\x80\x02" and body[-1:] == b"."
    return body[2:-1]


_ENVELOPE_GLOBAL = b"cthespian_trace.envelope\nEnvelope\n"


def crafted_reduce_pickle(state):
    """``Envelope()`` then BUILD(state): the shape this build's ``__reduce__`` writes, any state."""
    return b"\x80\x02" + _ENVELOPE_GLOBAL + b")R" + _state_ops(state) + b"b."


def crafted_slots_pickle(state):
    """NEWOBJ then BUILD(state): the default ``__slots__`` protocol (no custom ``__reduce__``)."""
    return b"\x80\x02" + _ENVELOPE_GLOBAL + b")\x81" + _state_ops(state) + b"b."


def test_crafted_pickles_really_use_the_expected_opcodes():
    data = crafted_slots_pickle((None, {"message": "x"}))
    import pickletools
    ops = [op.name for op, _, _ in pickletools.genops(data)]
    assert ops[:4] == ["PROTO", "GLOBAL", "EMPTY_TUPLE", "NEWOBJ"] and ops[-2:] == ["BUILD", "STOP"]


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("env", [
    Envelope("hello", {"traceparent": TP}),
    Envelope(Payload(3, "hi"), {"traceparent": TP, "tracestate": "k=v", "baggage": "a=b"}, 12),
    Envelope(("raw", 1), None, 10000),
    Envelope(None),
    Envelope(Envelope("nested", {"traceparent": TP})),
])
def test_round_trip(env, protocol):
    back = pickle.loads(pickle.dumps(env, protocol=protocol))
    assert type(back) is Envelope
    assert back == env
    assert back.carrier == env.carrier and back.approximate_num_recipients == env.approximate_num_recipients


def test_round_trip_keeps_a_carrier_dict_that_is_not_traceparent_only():
    env = Envelope("m", {"traceparent": TP, "thespian-p": "0.1"}, 3)
    back = pickle.loads(pickle.dumps(env, 4))
    assert back.carrier == {"traceparent": TP, "thespian-p": "0.1"}


@pytest.mark.parametrize("state,message,carrier,n", [
    # An older build that only knew the message:
    ({"m": "old"}, "old", None, 1),
    # An older build with a carrier but no fanout size:
    ({"m": "old", "t": TP}, "old", {"traceparent": TP}, 1),
    ({"m": "old", "c": {"traceparent": TP, "tracestate": "x=1"}}, "old",
     {"traceparent": TP, "tracestate": "x=1"}, 1),
    # An older build that pickled long field names:
    ({"message": "long", "carrier": {"traceparent": TP}}, "long", {"traceparent": TP}, 1),
    # A newer build with fields this one does not know (ignored):
    ({"m": "new", "t": TP, "n": 40, "q": 0.25, "prio": [1, 2], "zz": {"nested": True}}, "new",
     {"traceparent": TP}, 40),
    # Nonsense fanout sizes fall back to 1:
    ({"m": "x", "n": 0}, "x", None, 1),
    ({"m": "x", "n": -5}, "x", None, 1),
    ({"m": "x", "n": "7"}, "x", None, 1),
    ({"m": "x", "n": True}, "x", None, 1),
    ({"m": "x", "n": 2.5}, "x", None, 1),
    # Not a dict at all: every field takes its default.
    (5, None, None, 1),
    (None, None, None, 1),
    ([("m", "x")], None, None, 1),
])
def test_tolerant_unpickling_of_reduce_format(state, message, carrier, n):
    env = pickle.loads(crafted_reduce_pickle(state))
    assert type(env) is Envelope
    assert (env.message, env.carrier, env.approximate_num_recipients) == (message, carrier, n)


@pytest.mark.parametrize("state,message,carrier,n", [
    # The plain __slots__ format, complete:
    ((None, {"message": "s", "carrier": {"traceparent": TP}, "approximate_num_recipients": 7}),
     "s", {"traceparent": TP}, 7),
    # ... from an older build that had fewer slots:
    ((None, {"message": "s"}), "s", None, 1),
    ((None, {"message": "s", "carrier": {"traceparent": TP}}), "s", {"traceparent": TP}, 1),
    # ... from a newer build with extra slots and a __dict__ part:
    (({"extra": 1}, {"message": "s", "carrier": None, "approximate_num_recipients": 3, "priority": 9}),
     "s", None, 3),
    # ... a slot-state pair where one part is missing:
    ((None, None), None, None, 1),
])
def test_tolerant_unpickling_of_plain_slots_format(state, message, carrier, n):
    env = pickle.loads(crafted_slots_pickle(state))
    assert type(env) is Envelope
    assert (env.message, env.carrier, env.approximate_num_recipients) == (message, carrier, n)


def test_a_newer_builds_envelope_with_an_unknown_message_class_still_fails_loudly():
    """Tolerance is about Envelope's own fields: an unimportable message class is still an error."""
    data = crafted_reduce_pickle({"m": "x"}).replace(b"thespian_trace.envelope\nEnvelope",
                                                     b"thespian_trace.envelope\nEnvelopeV9")
    with pytest.raises(AttributeError):
        pickle.loads(data)


# ------------------------------------------------------------------------------------------------
# Wire cost

MESSAGES = [
    "hello",
    Payload(123456, "a chat line of realistic length, say sixty characters or so"),
    {"kind": "join", "room": 42, "members": list(range(20))},
    b"\x00" * 1024,
    ta.Ping(3),
]


def _sdk_carrier():
    with trace.get_tracer("test-envelope").start_as_current_span("sender"):
        carrier = inject_current()
    assert set(carrier) == {"traceparent"} and carrier["traceparent"][-2:] in ("01", "03")
    return carrier


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_sampled_envelope_adds_at_most_120_bytes(spans, msg, protocol):
    carrier = _sdk_carrier()
    bare = len(pickle.dumps(msg, protocol=protocol))
    wrapped = len(pickle.dumps(Envelope(msg, carrier), protocol=protocol))
    assert wrapped - bare <= 120, (wrapped - bare)


@pytest.mark.parametrize("protocol", [4, 5])
def test_fanout_marker_is_small(protocol):
    """The carrier-less fanout marker costs less than a sampled envelope (no traceparent)."""
    msg = Payload(1, "x")
    bare = len(pickle.dumps(msg, protocol=protocol))
    assert len(pickle.dumps(Envelope(msg, None, 10000), protocol=protocol)) - bare <= 70


def test_unsampled_traced_send_sends_the_message_object_itself(spans, make_system):
    """Relay runs in a valid but unsampled span; its traced_send must send the very same object."""
    spans.tracing.set_sampler(DropNamed("process Relay"))
    asys = make_system("simpleSystemBase")
    keeper = asys.createActor(fa.Keeper)
    relay = asys.createActor(fa.Relay)
    payload = Payload(9, "unsampled")
    del fa.KEPT[:]
    assert asys.ask(relay, fa.Forward(keeper, payload), 10) == "sent"
    assert len(fa.KEPT) == 1
    got, sampled, _, _ = fa.KEPT[0]
    assert got is payload and not sampled
    st = stats()
    assert st["carriers_built"] == 0
    assert st["received"]["Keeper"] == {"enveloped": 0, "bare": 1}
    assert spans.local() == []


def _wire_bytes(obj):
    return {protocol: pickle.dumps(obj, protocol=protocol) for protocol in (4, 5)}


@pytest.mark.parametrize("path", ["traced_tell", "traced_send"])
def test_unsampled_send_is_byte_identical(spans, make_system, monkeypatch, path):
    """What reaches Thespian for an unsampled traced send pickles to exactly the bytes of the bare
    message (recorded at Thespian's own ``tell``/``send``); a sampled one does not (the control)."""
    asys = make_system("simpleSystemBase")
    keeper = asys.createActor(fa.Keeper)
    handed = []  # the pickles of each Payload handed to Thespian
    if path == "traced_tell":
        thespian_tell = asys.tell
        monkeypatch.setattr(asys, "tell", lambda addr, m: (handed.append(_wire_bytes(m)),
                                                            thespian_tell(addr, m))[1])
    else:
        relay = asys.createActor(fa.Relay)
        thespian_send = fa.Relay.send

        def recording_send(self, target, m):
            if not isinstance(m, str):  # not Relay's "sent" reply
                handed.append(_wire_bytes(m))
            return thespian_send(self, target, m)

        monkeypatch.setattr(fa.Relay, "send", recording_send)
    tracer = trace.get_tracer("t")

    def send(payload, root):
        with tracer.start_as_current_span(root) as span:
            if path == "traced_tell":
                traced_tell(asys, keeper, payload)
            else:  # Relay starts its own root (start_traces); the sampler below decides it
                assert asys.ask(relay, fa.Forward(keeper, payload), 10) == "sent"
        return span

    unsampled_root = "unsampled-root" if path == "traced_tell" else "process Relay"
    spans.tracing.set_sampler(DropNamed(unsampled_root))
    msg = Payload(1, "x")
    root = send(msg, "unsampled-root")
    if path == "traced_tell":
        assert root.get_span_context().is_valid and not root.get_span_context().trace_flags.sampled
    assert handed == [_wire_bytes(msg)]
    spans.tracing.set_sampler(DropNamed("unsampled-root"))  # a sampled send, for contrast
    send(Payload(1, "x"), "sampled-root")
    assert len(handed) == 2 and all(len(handed[1][p]) > len(handed[0][p]) for p in (4, 5)), handed


def test_sampled_traced_tell_sends_an_envelope_that_the_handler_never_sees(spans, make_system):
    asys = make_system("simpleSystemBase")
    keeper = asys.createActor(fa.Keeper)
    payload = Payload(2, "sampled")
    del fa.KEPT[:]
    with trace.get_tracer("t").start_as_current_span("caller"):
        traced_tell(asys, keeper, payload)
    got, sampled, _, _ = fa.KEPT[0]
    assert got is payload and sampled
    assert stats()["received"]["Keeper"] == {"enveloped": 1, "bare": 0}
