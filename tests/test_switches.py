"""The two planes under every switch (issue 14, acceptance): instrument(), uninstrument(), mode changes,
OTEL_PYTHON_DISABLED_INSTRUMENTATIONS and suppress_instrumentation.

Whatever the sequence, no actor ever receives an Envelope (the data plane is never removed), and while
the observation plane is off no span and no carrier is made. simpleSystemBase runs every actor in this
process, so a hypothesis state machine drives any sequence of switches there; on multiprocTCPBase the
actor processes are switched by what reaches them (their settings at fork, SetTraceMode) and the
sequences are written out.
"""
import os
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings as hsettings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from thespian_trace import OFF, ON, RECEIVE, SetTraceMode, config, hook, set_mode, stats, traced_ask
from thespian_trace.instrumentation import ThespianInstrumentor

import switch_actors as sa

TIMEOUT = 15
DISABLE = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
PATHS = ("chain", "fanout", "legacy", "str-only")


@contextmanager
def _maybe(cm, on):
    if on:
        with cm:
            yield
    else:
        yield


class Topology:
    """The actors of one system and one request through each path."""

    def __init__(self, asys):
        self.asys = asys
        self.front = asys.createActor(sa.Front)
        self.caster = asys.createActor(sa.Caster)
        self.legacy = asys.createActor(sa.Legacy)
        self.str_only = asys.createActor(sa.StrOnly)
        self.n = 0

    def request(self, path, suppress_in_actor=False):
        """One traced request (from a sampled span of the caller) through ``path``; asserts the answer."""
        self.n += 1
        if path == "str-only":
            reply = traced_ask(self.asys, self.str_only, "hello", TIMEOUT)
            assert reply == "got hello", reply        # never "ENVELOPE", never silence
            return
        target = {"chain": self.front, "fanout": self.caster, "legacy": self.legacy}[path]
        reply = traced_ask(self.asys, target, sa.Job(self.n, suppress=suppress_in_actor), TIMEOUT)
        assert isinstance(reply, sa.Done) and reply.n == self.n, reply
        assert not reply.leaked, "an actor received an Envelope on path %s" % path

    def all_addresses(self):
        hop = self.asys.ask(self.front, "hop", TIMEOUT)
        return [self.front, hop, self.caster, self.legacy, self.str_only]


# ------------------------------------------------------------------------------------------------
# simpleSystemBase: any sequence (hypothesis state machine)


def test_any_sequence_of_switches_on_simple_system_base(make_system, spans):
    instrumentor = ThespianInstrumentor()
    asys = make_system("simpleSystemBase")
    topology = Topology(asys)
    tracer = trace.get_tracer("switch-test")
    checked = {"on": 0, "off": 0}

    class Switches(RuleBasedStateMachine):
        @initialize()
        def start(self):
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
            config.reload_from_env({})
            self.mode, self.disabled, self.saved, self.suppress = ON, False, None, False

        @rule(mode=st.sampled_from([None, OFF, RECEIVE, ON]))
        def instrument(self, mode):
            if not instrumentor.is_instrumented_by_opentelemetry:
                self.saved = self.mode
                if mode is not None:
                    self.mode = mode
            instrumentor.instrument(**({"mode": mode} if mode else {}))

        @rule()
        def uninstrument(self):
            if instrumentor.is_instrumented_by_opentelemetry:
                self.mode = self.saved
            instrumentor.uninstrument()

        @rule(mode=st.sampled_from([OFF, RECEIVE, ON]))
        def change_mode(self, mode):
            set_mode(mode)
            self.mode = mode

        @rule(value=st.sampled_from(["thespian", " requests , thespian ", "thespian,", "requests", "",
                                     "thespian_trace", "Thespian"]))
        def disable_variable(self, value):
            config.reload_from_env({DISABLE: value, "THESPIAN_TRACE_MODE": self.mode})
            self.disabled = "thespian" in [v.strip() for v in value.split(",")]

        @rule(on=st.booleans())
        def suppression(self, on):
            self.suppress = on

        @rule(path=st.sampled_from(PATHS), in_actor=st.booleans())
        def request(self, path, in_actor):
            assert hook.installed(), "a switch removed the data plane"
            observing = self.mode == ON and not self.disabled and not self.suppress
            before, carriers = len(spans.local()), stats()["carriers_built"]
            with tracer.start_as_current_span("edge"):
                with _maybe(suppress_instrumentation(), self.suppress):
                    topology.request(path, suppress_in_actor=in_actor)
            made = [r.name for r in spans.local()[before:] if r.name != "edge"]
            built = stats()["carriers_built"] - carriers
            if observing:
                checked["on"] += 1
                assert made and built, "observation plane on: spans and carriers expected"
            else:
                checked["off"] += 1
                assert made == [] and built == 0, (made, built, self.mode, self.disabled, self.suppress)

        def teardown(self):
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()

    try:
        run_state_machine_as_test(Switches, settings=hsettings(
            max_examples=30, stateful_step_count=12, deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
    finally:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        config.reload_from_env()
    assert checked["on"] and checked["off"], checked   # both sides of every check were exercised


# ------------------------------------------------------------------------------------------------
# multiprocTCPBase: the sequences, written out


def _actor_spans(records):
    return [r for r in records if r.name.startswith("process ")]


def _reports(asys, addresses):
    return [asys.ask(a, "report", TIMEOUT) for a in addresses[:2]]   # Front's and Hop's processes


def _switch_tree(asys, topology, mode):
    for addr in (topology.front, topology.caster, topology.legacy, topology.str_only):
        reply = asys.ask(addr, SetTraceMode(mode), TIMEOUT)
        assert reply.mode == mode, reply


def _traffic(spans, topology, **kwargs):
    """Every path once; returns the actor spans that arrived meanwhile."""
    spans.settle(quiet=0.3)
    spans.receiver.clear()
    with trace.get_tracer("switch-test").start_as_current_span("edge"):
        for path in PATHS:
            topology.request(path, **kwargs)
    return _actor_spans(spans.settle(quiet=0.6))


@pytest.fixture
def clean_env():
    saved = os.environ.get(DISABLE)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(DISABLE, None)
        else:
            os.environ[DISABLE] = saved
        config.reload_from_env()


def test_mode_switches_on_multiproc_tcp_base(make_system, spans):
    asys = make_system("multiprocTCPBase")
    topology = Topology(asys)
    addresses = topology.all_addresses()
    assert _traffic(spans, topology), "control: with everything on, actor spans arrive"

    _switch_tree(asys, topology, OFF)
    set_mode(OFF)
    built = [r["carriers_built"] for r in _reports(asys, addresses)]
    assert _traffic(spans, topology) == []
    assert [r["carriers_built"] for r in _reports(asys, addresses)] == built

    _switch_tree(asys, topology, RECEIVE)
    set_mode(ON)       # this process sends traced requests; the actors continue them but send bare
    got = _traffic(spans, topology)
    assert {r.name for r in got} >= {"process Front", "process Caster", "process Legacy"}
    assert not [r for r in got if r.name in ("process Hop", "process Listener")], "receive sends bare"
    assert [r["carriers_built"] for r in _reports(asys, addresses)] == built

    _switch_tree(asys, topology, ON)
    assert {r.name for r in _traffic(spans, topology)} >= {"process Hop", "process Listener"}


def test_disable_variable_on_multiproc_tcp_base(make_system, spans, clean_env):
    os.environ[DISABLE] = "requests, thespian"
    config.reload_from_env()
    assert config.settings.active_mode == OFF and config.get_mode() == ON
    asys = make_system("multiprocTCPBase")          # the actor processes are forked disabled
    topology = Topology(asys)
    addresses = topology.all_addresses()
    assert all(r["disabled"] and r["active_mode"] == OFF for r in _reports(asys, addresses))
    assert _traffic(spans, topology) == []
    assert stats()["carriers_built"] == 0

    os.environ.pop(DISABLE)
    config.reload_from_env()                          # this process is on again: it sends Envelopes
    got = _traffic(spans, topology)
    assert stats()["carriers_built"] > 0
    assert got == [], "the actors' processes are still disabled: they unwrap and make nothing"
    assert all(r["carriers_built"] == 0 for r in _reports(asys, addresses))


def test_instrument_uninstrument_on_multiproc_tcp_base(make_system, spans):
    set_mode(OFF)                                     # the actor processes are forked off
    asys = make_system("multiprocTCPBase")
    topology = Topology(asys)
    addresses = topology.all_addresses()
    instrumentor = ThespianInstrumentor()
    instrumentor.instrument(mode="on")
    try:
        got = _traffic(spans, topology)
        assert stats()["carriers_built"] > 0 and got == []   # Envelopes sent, unwrapped, no spans there
    finally:
        instrumentor.uninstrument()
    assert config.get_mode() == OFF and hook.installed()     # back to what it was before instrument()
    before = stats()["carriers_built"]
    assert _traffic(spans, topology) == []
    assert stats()["carriers_built"] == before
    assert all(r["carriers_built"] == 0 for r in _reports(asys, addresses))


def test_suppression_on_multiproc_tcp_base(make_system, spans):
    asys = make_system("multiprocTCPBase")
    topology = Topology(asys)
    addresses = topology.all_addresses()
    with suppress_instrumentation():                  # in this process: plain asks, nothing made
        got = _traffic(spans, topology)
    assert got == [] and stats()["carriers_built"] == 0

    # Inside an actor's handler: Front runs traced, its send to Hop under suppression is bare.
    front_built = _reports(asys, addresses)[0]["carriers_built"]
    spans.receiver.clear()
    with trace.get_tracer("switch-test").start_as_current_span("edge"):
        topology.request("chain", suppress_in_actor=True)
    names = [r.name for r in _actor_spans(spans.settle(quiet=0.6))]
    assert "process Front" in names and "process Hop" not in names
    # The suppressed send to Hop built no carrier (and Front's reply runs in the handler of Hop's bare
    # answer, with nothing to carry).
    assert _reports(asys, addresses)[0]["carriers_built"] == front_built
