"""Configuration: every THESPIAN_TRACE_* variable, the mode API, the three rollout modes, SetTraceMode."""
import logging
import os
import subprocess
import sys
import time

import pytest
from opentelemetry import trace

from thespian_trace import (Envelope, OFF, ON, RECEIVE, SetTraceMode, TraceModeChanged, config,
                            get_mode, set_mode, stats, traced_ask)
from thespian_trace.propagation import inject_current
from thespian_trace.sampling import DEFAULT_TABLE, FanoutTable
from thespian_trace.testing import spans_named
from thespian_trace.telemetry import count_received

import fanout_actors as fa
import tt_actors as ta


@pytest.fixture(autouse=True)
def _count_received():
    """stats()["received"] is read here: keep the per-class counts (off by default, telemetry.py)."""
    previous = count_received(True)
    yield
    count_received(previous)


TIMEOUT = 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def restore_settings():
    saved = {name: getattr(config.settings, name) for name in config.settings.__slots__}
    try:
        yield config.settings
    finally:
        for name, value in saved.items():
            setattr(config.settings, name, value)


# ------------------------------------------------------------------------------------------------
# reload_from_env

def test_defaults_with_an_empty_environment(restore_settings):
    config.reload_from_env({})
    s = config.settings
    assert (s.mode, s.propagate_unsampled, s.producer_spans, s.hook_enabled, s.max_carrier_bytes) == \
        (ON, False, False, True, 8704)
    assert s.fanout_table == DEFAULT_TABLE


@pytest.mark.parametrize("raw,mode", [("off", OFF), ("receive", RECEIVE), ("on", ON), (" Receive ", RECEIVE),
                                      ("OFF", OFF), ("", ON)])
def test_mode_variable(restore_settings, raw, mode):
    config.reload_from_env({"THESPIAN_TRACE_MODE": raw})
    assert get_mode() is mode   # the interned constant: the hot path compares by identity


@pytest.mark.parametrize("raw", ["full", "1", "onn", "recv"])
def test_bad_mode_is_logged_and_default_kept(restore_settings, caplog, raw):
    set_mode(OFF)
    with caplog.at_level(logging.WARNING, logger="thespian_trace"):
        config.reload_from_env({"THESPIAN_TRACE_MODE": raw})
    assert get_mode() is ON
    assert any(raw in r.getMessage() and "mode" in r.getMessage() for r in caplog.records)


BOOLS = [("THESPIAN_TRACE_PROPAGATE_UNSAMPLED", "propagate_unsampled", False),
         ("THESPIAN_TRACE_PRODUCER_SPANS", "producer_spans", False),
         ("THESPIAN_TRACE_USE_SPAN_LINKS", "use_span_links", False),
         ("THESPIAN_TRACE_HOOK", "hook_enabled", True)]


@pytest.mark.parametrize("var,attr,default", BOOLS)
@pytest.mark.parametrize("raw,value", [("1", True), ("true", True), ("YES", True), (" on ", True),
                                       ("0", False), ("false", False), ("no", False), ("off", False)])
def test_boolean_variables(restore_settings, var, attr, default, raw, value):
    config.reload_from_env({var: raw})
    assert getattr(config.settings, attr) is value


@pytest.mark.parametrize("var,attr,default", BOOLS)
def test_boolean_variables_unset_or_empty_keep_the_default(restore_settings, var, attr, default):
    for env in ({}, {var: ""}):
        config.reload_from_env(env)
        assert getattr(config.settings, attr) is default


@pytest.mark.parametrize("var,attr,default", BOOLS)
def test_bad_boolean_is_logged_and_default_kept(restore_settings, caplog, var, attr, default):
    with caplog.at_level(logging.WARNING, logger="thespian_trace"):
        config.reload_from_env({var: "ture"})
    assert getattr(config.settings, attr) is default
    assert any(var in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("raw,disabled", [("thespian", True), (" requests ,thespian , flask", True),
                                          ("thespian,", True), ("\tthespian\t", True), ("requests", False),
                                          ("", False), ("thespian_trace", False), ("Thespian", False),
                                          ("thespian-extra", False)])
@pytest.mark.parametrize("mode", [OFF, RECEIVE, ON])
def test_disabled_instrumentations_variable(restore_settings, raw, disabled, mode):
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS: a comma list (whitespace tolerated) naming the entry
    point ``thespian`` turns the observation plane off whatever the mode; get_mode() keeps the mode."""
    config.reload_from_env({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": raw, "THESPIAN_TRACE_MODE": mode})
    assert config.settings.disabled is disabled
    assert get_mode() is mode
    assert config.settings.active_mode is (OFF if disabled else mode)
    set_mode(ON)                                     # a mode change does not lift the variable
    assert config.settings.active_mode is (OFF if disabled else ON)


def test_fanout_table_variable(restore_settings):
    config.reload_from_env({"THESPIAN_TRACE_FANOUT_TABLE": "1:1, 50:0.5,5000:0.01"})
    assert config.settings.fanout_table == FanoutTable([(1, 1.0), (50, 0.5), (5000, 0.01)])
    assert config.settings.fanout_table.probability(50) == 0.5


@pytest.mark.parametrize("raw", ["1:1,100", "1:2", "x", "100:0.1,100:0.2", "0:1"])
def test_bad_fanout_table_is_logged_and_default_kept(restore_settings, caplog, raw):
    with caplog.at_level(logging.WARNING, logger="thespian_trace"):
        config.reload_from_env({"THESPIAN_TRACE_FANOUT_TABLE": raw})
    assert config.settings.fanout_table == DEFAULT_TABLE
    assert any("THESPIAN_TRACE_FANOUT_TABLE" in r.getMessage() for r in caplog.records)


def test_fanout_seed_variable_makes_choices_repeatable(restore_settings):
    config.reload_from_env({"THESPIAN_TRACE_FANOUT_SEED": "1234"})
    a = [config.settings.rng.random() for _ in range(5)]
    config.reload_from_env({"THESPIAN_TRACE_FANOUT_SEED": "1234"})
    assert a == [config.settings.rng.random() for _ in range(5)]
    config.reload_from_env({"THESPIAN_TRACE_FANOUT_SEED": "1235"})
    assert a != [config.settings.rng.random() for _ in range(5)]


def test_bad_fanout_seed_is_logged_and_ignored(restore_settings, caplog):
    with caplog.at_level(logging.WARNING, logger="thespian_trace"):
        config.reload_from_env({"THESPIAN_TRACE_FANOUT_SEED": "abc"})
    assert any("THESPIAN_TRACE_FANOUT_SEED" in r.getMessage() for r in caplog.records)
    config.reload_from_env({"THESPIAN_TRACE_FANOUT_SEED": "abc"})
    x = config.settings.rng.random()
    config.reload_from_env({"THESPIAN_TRACE_FANOUT_SEED": "abc"})
    assert x != config.settings.rng.random(), "an unparsable seed must not pin the generator"


def test_max_carrier_bytes_variable(restore_settings):
    config.reload_from_env({"THESPIAN_TRACE_MAX_CARRIER_BYTES": "100"})
    assert config.settings.max_carrier_bytes == 100
    from thespian_trace import extract_if_sampled
    tp = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    assert extract_if_sampled({"traceparent": tp}) is not None                 # 66 characters
    assert extract_if_sampled({"traceparent": tp, "tracestate": "k=" + "v" * 40}) is None


def test_bad_max_carrier_bytes_is_logged_and_default_kept(restore_settings, caplog):
    with caplog.at_level(logging.WARNING, logger="thespian_trace"):
        config.reload_from_env({"THESPIAN_TRACE_MAX_CARRIER_BYTES": "8k"})
    assert config.settings.max_carrier_bytes == 8704
    assert any("THESPIAN_TRACE_MAX_CARRIER_BYTES" in r.getMessage() for r in caplog.records)


def test_reload_keeps_a_tracer_provider_set_in_code(restore_settings):
    marker = object()
    config.settings.tracer_provider = marker
    config.reload_from_env({"THESPIAN_TRACE_MODE": "receive"})
    assert config.settings.tracer_provider is marker


def test_environment_is_read_at_import_in_a_fresh_process():
    code = ("import thespian_trace as t; from thespian_trace.config import settings as s;"
            "print(t.get_mode(), s.propagate_unsampled, s.producer_spans, s.hook_enabled, t.install_hook(),"
            " s.max_carrier_bytes, s.fanout_table.points, s.rng.random())")
    env = dict(os.environ, THESPIAN_TRACE_MODE=" Receive ", THESPIAN_TRACE_PROPAGATE_UNSAMPLED="1",
               THESPIAN_TRACE_PRODUCER_SPANS="yes", THESPIAN_TRACE_HOOK="0",
               THESPIAN_TRACE_MAX_CARRIER_BYTES="4096", THESPIAN_TRACE_FANOUT_TABLE="1:1,10:0.5",
               THESPIAN_TRACE_FANOUT_SEED="7")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    import random
    assert out.stdout.split(" ", 7)[:7] == ["receive", "True", "True", "False", "False", "4096",
                                            "((1,"]
    assert "(10, 0.5)" in out.stdout and repr(random.Random(7).random()) in out.stdout

    env = dict(os.environ, THESPIAN_TRACE_MODE="bogus")
    out = subprocess.run([sys.executable, "-c", "import thespian_trace as t; print(t.get_mode())"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "on"
    assert "unknown thespian-trace mode 'bogus'" in out.stderr


# ------------------------------------------------------------------------------------------------
# The mode API

def test_set_mode_api(restore_settings):
    set_mode(ON)
    assert set_mode(" RECEIVE ") == ON
    assert get_mode() is RECEIVE
    with pytest.raises(ValueError):
        set_mode("sometimes")
    assert get_mode() is RECEIVE
    assert set_mode("off") is RECEIVE
    config.configure(mode="on")
    assert get_mode() is ON
    with pytest.raises(ValueError):
        config.configure(mode="nope")


# ------------------------------------------------------------------------------------------------
# The three modes on every base

def _sampled_carrier():
    with trace.get_tracer("test-config").start_as_current_span("upstream") as span:
        carrier = inject_current()
        return carrier, format(span.get_span_context().span_id, "016x"), \
            format(span.get_span_context().trace_id, "032x")


def _actor_spans(records):
    return [r for r in records if r.name.startswith(("process ", "ask ", "tell "))]


def _report(asys, rec, count, timeout=TIMEOUT):
    """Recorder's list once it holds ``count`` entries (across processes, order of arrival may vary)."""
    deadline = time.time() + timeout
    while True:
        seen = asys.ask(rec, "report", TIMEOUT)
        if len(seen) >= count or time.time() > deadline:
            return seen
        time.sleep(0.05)


@pytest.mark.parametrize("mode", [OFF, RECEIVE, ON])
def test_rollout_modes(base, make_system, spans, mode):
    """A bare message to a start_traces actor, then an enveloped sampled one, in each mode."""
    set_mode(mode)                      # before the system exists, so forked actor processes inherit it
    asys = make_system(base)
    rec = asys.createActor(ta.Recorder)
    relay = asys.createActor(fa.Relay)
    assert asys.ask(relay, fa.Forward(rec, "p0"), TIMEOUT) == "sent"                # bare
    carrier, upstream_span, upstream_trace = _sampled_carrier()
    assert asys.ask(relay, Envelope(fa.Forward(rec, "p1"), carrier), TIMEOUT) == "sent"
    assert _report(asys, rec, 2) == [("p0", mode is ON), ("p1", mode is ON)]

    if mode is ON:
        got = spans.wait(lambda s: len(spans_named(s, "process Recorder")) >= 2
                         and len(spans_named(s, "process Relay")) >= 2 or None)
    elif mode is RECEIVE:
        got = spans.wait(lambda s: spans_named(s, "process Relay") or None)
    got = _actor_spans(spans.settle())
    relays = spans_named(got, "process Relay")
    recorders = spans_named(got, "process Recorder")
    if mode is OFF:
        assert got == [], [r.name for r in got]          # no spans, no roots, even traced_ask starts none
    elif mode is RECEIVE:
        # Continues the incoming sampled trace, starts no root, sends bare (so Recorder has no span).
        assert [(r.trace_id, r.parent_span_id) for r in relays] == [(upstream_trace, upstream_span)]
        assert recorders == [] and got == relays
    else:
        assert len(relays) == 2 and len(recorders) == 2  # p0 (a root at Relay) and p1
        root = [r for r in relays if r.parent_span_id is None]
        child = [r for r in relays if r.parent_span_id == upstream_span]
        assert len(root) == 1 and len(child) == 1
        for relay_span in root + child:
            assert [r for r in recorders if r.parent_span_id == relay_span.span_id]
    if base == "simpleSystemBase":
        received = stats()["received"]["Recorder"]
        # p0, p1 (enveloped only when a sampled context traveled: mode on) and the bare "report".
        assert received == ({"enveloped": 2, "bare": 1} if mode is ON else {"enveloped": 0, "bare": 3})


def test_off_mode_still_unwraps_and_fanout_sends_bare(make_system, spans):
    set_mode(OFF)
    asys = make_system("simpleSystemBase")
    members = [asys.createActor(fa.RootMember) for _ in range(20)]
    b = asys.createActor(fa.Broadcaster)
    with trace.get_tracer("test-config").start_as_current_span("caller"):
        report = traced_ask(asys, b, fa.Fanout(members, "hello"), TIMEOUT)
    assert report.kept == 0 and all(a.message == report.sent and not a.is_envelope for a in report.acks)
    assert [r.name for r in spans.local()] == ["caller"]
    s = stats()
    assert s["carriers_built"] == 0 and s["received"]["RootMember"] == {"enveloped": 0, "bare": 20}


# ------------------------------------------------------------------------------------------------
# SetTraceMode control message on every base

def _wait_mode(asys, addr, want, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while True:
        mode = asys.ask(addr, "mode", TIMEOUT)
        if mode == want or time.time() > deadline:
            return mode
        time.sleep(0.05)


def _control(asys, addr, msg, base):
    """Send a control message from outside; return its answer."""
    return asys.ask(addr, msg, TIMEOUT)


def test_set_trace_mode_control_message(base, make_system, spans):
    set_mode(RECEIVE)
    asys = make_system(base)
    parent = asys.createActor(fa.ModeProbe)
    child = asys.ask(parent, "spawn", TIMEOUT)
    assert asys.ask(parent, "mode", TIMEOUT) == "receive" and asys.ask(child, "mode", TIMEOUT) == "receive"

    reply = _control(asys, parent, SetTraceMode("on"), base)
    assert isinstance(reply, TraceModeChanged)
    assert (reply.mode, reply.previous, reply.actor_class, reply.error) == ("on", "receive", "ModeProbe", None)
    assert asys.ask(parent, "mode", TIMEOUT) == "on"
    assert _wait_mode(asys, child, "on") == "on"          # forwarded to the child it created

    bad = _control(asys, parent, SetTraceMode("loud"), base)
    assert isinstance(bad, TraceModeChanged) and bad.mode == "on" and "loud" in bad.error
    assert asys.ask(parent, "mode", TIMEOUT) == "on"

    # An enveloped control message is consumed just the same.
    carrier, _, _ = _sampled_carrier()
    reply = _control(asys, parent, Envelope(SetTraceMode("receive"), carrier), base)
    assert isinstance(reply, TraceModeChanged) and reply.mode == "receive"
    assert _wait_mode(asys, child, "receive") == "receive"

    if base != "simpleSystemBase":   # one process per actor: recursive=False leaves the child alone
        reply = asys.ask(parent, SetTraceMode("off", recursive=False), TIMEOUT)
        assert reply.mode == "off" and asys.ask(parent, "mode", TIMEOUT) == "off"
        time.sleep(0.3)
        assert asys.ask(child, "mode", TIMEOUT) == "receive"

    # Neither SetTraceMode nor the child's TraceModeChanged answer ever reached a user handler.
    asys.tell(parent, "a user string")                     # control: handlers do record other messages
    assert asys.ask(parent, "seen", TIMEOUT) == ["str"]
    assert asys.ask(child, "seen", TIMEOUT) == []


def test_external_ask_gets_the_answer_on_simple_system_base(make_system, spans):
    """Regression: the External pseudo-actor used to swallow TraceModeChanged (fixed in receive.deliver)."""
    asys = make_system("simpleSystemBase")
    probe = asys.createActor(fa.ModeProbe)
    reply = asys.ask(probe, SetTraceMode("receive"), TIMEOUT)
    assert isinstance(reply, TraceModeChanged) and reply.previous == "on" and reply.mode == "receive"


def test_disable_variable_at_import_keeps_the_data_plane_in_a_fresh_process():
    """Importing with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=thespian: no spans, no carriers, but the
    receive hook is installed and a plain Actor still gets its str (never an Envelope)."""
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "exporter = InMemorySpanExporter(); provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter)); trace.set_tracer_provider(provider)\n"
        "import thespian_trace as t\n"
        "from thespian_trace import hook\n"
        "from thespian_trace.config import settings\n"
        "from thespian.actors import ActorSystem\n"
        "import switch_actors as sa\n"
        "asys = ActorSystem('simpleSystemBase', transientUnique=True)\n"
        "with trace.get_tracer('x').start_as_current_span('edge'):\n"
        "    reply = t.traced_ask(asys, asys.createActor(sa.StrOnly), 'a', 10)\n"
        "asys.shutdown()\n"
        "print(hook.installed(), settings.active_mode, reply, t.stats()['carriers_built'],"
        " [s.name for s in exporter.get_finished_spans()])\n")
    env = dict(os.environ, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="requests, thespian")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "True off got a 0 ['edge']", out.stdout
