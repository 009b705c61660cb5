"""The traceparent sieve: reads the sampled bit without a parse, agrees with the full W3C parse."""
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from thespian_trace import extract_if_sampled, is_sampled_traceparent, reset_stats, stats

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
FULL = TraceContextTextMapPropagator()


def tp(flags, version="00", tid=TID, sid=SID, suffix=""):
    return "%s-%s-%s-%s%s" % (version, tid, sid, flags, suffix)


def full_parse(value):
    """The reference: the SDK-independent W3C parser of opentelemetry-api."""
    span_context = trace.get_current_span(FULL.extract({"traceparent": value}, context=Context())) \
        .get_span_context()
    return span_context


def full_sampled(value):
    sc = full_parse(value)
    return sc.is_valid and sc.trace_flags.sampled


@pytest.mark.parametrize("value,sampled", [
    (tp("01"), True),
    (tp("03"), True),            # the SDK sets 0x02 (random trace id) too
    (tp("02"), False),           # ... so unsampled is often -02
    (tp("00"), False),
    (tp("ff"), True),
    (tp("fe"), False),
    (tp("81"), True),
    (tp("01", version="01", suffix="-what-the-future-holds"), True),
    (tp("02", version="cc", suffix="-x"), False),
    (tp("03", version="fe"), True),
    (" " + tp("01"), True),      # leading optional whitespace (allowed by the OTel parser)
    ("\t " + tp("03"), True),
    (" \t" + tp("02"), False),
])
def test_well_formed_values(value, sampled):
    assert is_sampled_traceparent(value) is sampled
    assert full_sampled(value) is sampled, "the reference parser disagrees with the test table"
    ctx = extract_if_sampled({"traceparent": value})
    assert (ctx is not None) is sampled
    if ctx is not None:
        sc = trace.get_current_span(ctx).get_span_context()
        assert sc.is_remote and format(sc.trace_id, "032x") == TID and format(sc.span_id, "016x") == SID


@pytest.mark.parametrize("value", [
    tp("01").upper(),                          # uppercase hex is invalid W3C
    tp("01", tid=TID.upper()),
    tp("0B"),                                  # uppercase flags
    tp("01", version="ff"),                    # version ff is forbidden
    tp("01", suffix="-extra"),                 # version 00 must not have extra fields
    tp("01", tid="0" * 32),                    # all-zero ids are invalid
    tp("01", sid="0" * 16),
    tp("01")[:-1],                             # too short
    tp("01") + "1",                            # version 00, one character too long
    tp("01", tid=TID[:-1]),                    # short trace id
    tp("01", sid=SID + "0"),                   # long span id
    tp("01").replace("-", "_"),
    "00-" + "x" * 32 + "-" + SID + "-01",      # garbage hex
    "garbage" * 10 + "1",
    "",
    "-",
    "01",
])
def test_malformed_values_never_yield_a_context(value):
    assert extract_if_sampled({"traceparent": value}) is None
    assert not full_sampled(value)


@pytest.mark.parametrize("value", [tp("02").upper(), tp("0A"), tp("00"), "", "short-02", "x" * 54 + "2"])
def test_unsampled_looking_garbage_is_rejected_by_the_sieve_itself(value):
    assert is_sampled_traceparent(value) is False


@pytest.mark.parametrize("value", [None, 1, 3.0, b"00-" + TID.encode() + b"-" + SID.encode() + b"-01",
                                   bytearray(b"01"), [tp("01")], (tp("01"),), {"traceparent": tp("01")},
                                   object()])
def test_non_str_inputs(value):
    assert is_sampled_traceparent(value) is False
    assert extract_if_sampled({"traceparent": value}) is None


@pytest.mark.parametrize("carrier", [None, 0, "", tp("01"), [("traceparent", tp("01"))], {}, object(),
                                     {"traceparent": tp("01"), "tracestate": 5},
                                     {"traceparent": tp("01"), 5: "x"}])
def test_odd_carriers_never_raise_and_never_yield_a_context(carrier):
    assert extract_if_sampled(carrier) is None


def test_sieve_counts_unsampled_without_parsing_and_extracts_sampled():
    reset_stats()
    assert extract_if_sampled({"traceparent": tp("02")}) is None
    assert extract_if_sampled({"traceparent": tp("00")}) is None
    assert extract_if_sampled({"traceparent": tp("01")}) is not None
    assert extract_if_sampled({"traceparent": tp("01", version="ff")}) is None
    s = stats()
    assert (s["carriers_sieved"], s["carriers_extracted"], s["carriers_invalid"]) == (2, 1, 1)


def test_sampled_carrier_brings_tracestate_along():
    ctx = extract_if_sampled({"traceparent": tp("01"), "tracestate": "vendor=abc"})
    sc = trace.get_current_span(ctx).get_span_context()
    assert sc.trace_state.get("vendor") == "abc"


def test_oversized_carrier_is_dropped():
    reset_stats()
    assert extract_if_sampled({"traceparent": tp("01"), "tracestate": "k=" + "v" * 9000}) is None
    assert stats()["carriers_oversized"] == 1


# ------------------------------------------------------------------------------------------------
# Properties

HEX2 = st.integers(0, 255).map(lambda v: format(v, "02x"))
VERSIONS = st.integers(0, 0xFE).map(lambda v: format(v, "02x"))
TRACE_IDS = st.one_of(st.sampled_from([1, 2 ** 64, 2 ** 128 - 1, 2 ** 127]),
                      st.integers(1, 2 ** 128 - 1)).map(lambda v: format(v, "032x"))
SPAN_IDS = st.one_of(st.sampled_from([1, 2 ** 64 - 1, 2 ** 63]),
                     st.integers(1, 2 ** 64 - 1)).map(lambda v: format(v, "016x"))
SUFFIXES = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
                   max_size=40).map(lambda s: "-" + s)
WS = st.text(alphabet=" \t", max_size=3)


@st.composite
def well_formed(draw):
    version = draw(VERSIONS)
    suffix = draw(SUFFIXES) if version != "00" and draw(st.booleans()) else ""
    return draw(WS) + tp(draw(HEX2), version, draw(TRACE_IDS), draw(SPAN_IDS), suffix)


ANYTHING = st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.text(),
                     st.lists(st.text(), max_size=3), st.dictionaries(st.text(), st.text(), max_size=3))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANYTHING)
def test_sieve_never_raises(value):
    assert is_sampled_traceparent(value) in (True, False)
    assert extract_if_sampled({"traceparent": value}) is None or isinstance(value, str)
    extract_if_sampled(value)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.one_of(st.text(max_size=12), st.integers(), st.none()),
                       st.one_of(st.text(), st.integers(), st.none(), st.binary()), max_size=4))
def test_extract_if_sampled_never_raises_on_any_carrier(carrier):
    extract_if_sampled(carrier)


@settings(max_examples=300, deadline=None)
@given(well_formed())
def test_sieve_agrees_with_the_full_parse_on_every_well_formed_value(value):
    sc = full_parse(value)
    assert sc.is_valid, value          # the generator only produces well-formed values
    assert is_sampled_traceparent(value) == sc.trace_flags.sampled


@settings(max_examples=300, deadline=None)
@given(st.one_of(well_formed(), st.text(max_size=80),
                 # near misses: well-formed with one character replaced
                 st.tuples(well_formed(), st.integers(0, 60), st.characters()).map(
                     lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + 1:])))
def test_extract_if_sampled_returns_a_context_iff_the_full_parse_is_valid_and_sampled(value):
    ctx = extract_if_sampled({"traceparent": value})
    assert (ctx is not None) == full_sampled(value), value
    if ctx is not None:
        assert trace.get_current_span(ctx).get_span_context() == full_parse(value)


# ------------------------------------------------------------------------------------------------
# A malformed but within-limit tracestate (issue 15 item 5): one log line per process, not per message

MALFORMED_TRACESTATES = ["Upper=case", "k=v,=novalue", "k=v,bad key=1", "k=,x=1", "k=v=w", "x" * 300 + "=v"]


@pytest.fixture
def fresh_log_once():
    from thespian_trace import _tracing
    saved = set(_tracing._logged_once)
    _tracing._logged_once.clear()
    try:
        yield
    finally:
        _tracing._logged_once.clear()
        _tracing._logged_once.update(saved)


@pytest.mark.parametrize("tracestate", MALFORMED_TRACESTATES)
def test_malformed_tracestate_logs_once_per_process_and_the_trace_continues(
        caplog, fresh_log_once, tracestate):
    import logging
    reset_stats()
    with caplog.at_level(logging.DEBUG):
        for _ in range(50):
            ctx = extract_if_sampled({"traceparent": tp("01"), "tracestate": tracestate})
            span_context = trace.get_current_span(ctx).get_span_context()
            assert span_context.is_valid and span_context.trace_flags.sampled
            assert len(span_context.trace_state) == 0   # what OpenTelemetry does with it too
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [(r.name, r.getMessage()) for r in warnings]
    assert warnings[0].name == "thespian_trace" and "malformed tracestate" in warnings[0].getMessage()
    assert stats()["carriers_extracted"] == 50 and stats()["carriers_invalid"] == 50


@pytest.mark.parametrize("tracestate", ["", "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE",
                                        "a@b=1,,c=2 , ", "t1@vendor-x=a b", "k=" + "v" * 256])
def test_well_formed_tracestate_is_kept_and_logs_nothing(caplog, fresh_log_once, tracestate):
    import logging
    with caplog.at_level(logging.DEBUG):
        ctx = extract_if_sampled({"traceparent": tp("01"), "tracestate": tracestate})
    got = trace.get_current_span(ctx).get_span_context().trace_state
    want = trace.get_current_span(FULL.extract({"traceparent": tp("01"), "tracestate": tracestate},
                                               context=Context())).get_span_context().trace_state
    assert dict(got) == dict(want)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


_ts_keys = st.one_of(st.from_regex(r"[a-z0-9][a-z0-9_*/-]{0,4}(@[a-z][a-z0-9_*/-]{0,4})?", fullmatch=True),
                     st.text(alphabet="abz09_-*/@A ", min_size=0, max_size=12))
_ts_values = st.text(alphabet="az09 =,!~*@\x7f\t", min_size=0, max_size=8)
_ts_members = st.one_of(st.builds(lambda k, v: k + "=" + v, _ts_keys, _ts_values),
                        st.text(alphabet="abz09_-*/@=, \tAZ!~\x7f", max_size=12))


@given(st.one_of(st.lists(_ts_members, max_size=5).map(",".join),
                 st.text(alphabet="abz09_-*/@=, \tAZ!~\x7f", max_size=40)))
@example("a@b*=1,c@d/-_9=2")            # every character class of the multi-tenant key form
@example("0a@b=1")                     # a digit may start only the multi-tenant form
@example("k=" + "v" * 256)              # the longest value
@example("k=" + "v" * 257)
@example("k=v ,  x=y\t")                # optional whitespace around members
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_tracestate_check_agrees_with_opentelemetry(value):
    """Whatever the value, the trace state we keep equals what OpenTelemetry's parser keeps."""
    import logging
    logging.getLogger("opentelemetry").disabled = True
    try:
        want = trace.get_current_span(FULL.extract({"traceparent": tp("01"), "tracestate": value},
                                                   context=Context())).get_span_context().trace_state
    finally:
        logging.getLogger("opentelemetry").disabled = False
    ctx = extract_if_sampled({"traceparent": tp("01"), "tracestate": value})
    assert dict(trace.get_current_span(ctx).get_span_context().trace_state) == dict(want)


def test_malformed_tracestate_through_an_actor_logs_once(caplog, fresh_log_once, make_system, spans):
    """The same through a real actor on simpleSystemBase: 30 traced messages, one warning."""
    import logging
    from thespian_trace import Envelope
    import tt_actors as ta
    asys = make_system("simpleSystemBase")
    rec = asys.createActor(ta.Recorder)
    root = logging.getLogger()
    root.addHandler(caplog.handler)     # the system's logging set-up (dictConfig) replaced root's handlers
    try:
        with caplog.at_level(logging.DEBUG):
            for i in range(30):
                asys.tell(rec, Envelope(i, {"traceparent": tp("01"), "tracestate": "Bad=Key"}))
            seen = asys.ask(rec, "report", 10)
    finally:
        root.removeHandler(caplog.handler)
    assert [s for s in seen] == [(i, True) for i in range(30)]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [(r.name, r.getMessage()) for r in warnings]
