"""Span attributes against the OpenTelemetry messaging conventions (issue 14 item 2), on every span kind
the project makes: ask/tell roots, process spans (continued, root, failed, wakeup, kept fanout
recipient, globalName actor), the opt-in send PRODUCER span and the fanout PRODUCER span."""
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from thespian.actors import ActorExitRequest

from thespian_trace import configure, traced_ask, traced_tell
from thespian_trace.semconv import SCHEMA_URL, SEMCONV_VERSION
from thespian_trace.testing import spans_named

import fanout_actors as fa
import tt_actors as ta

TIMEOUT = 10


def _check_common(rec):
    """What every span of ours carries, whatever its kind."""
    a = rec.attributes
    assert a["messaging.system"] == "thespian", rec.name
    assert a["messaging.operation.type"] in ("send", "process"), rec.name
    op = a["messaging.operation.name"]
    assert rec.name.split(" ", 1)[0] == op, "span name is '{operation} {class}': %s" % rec.name
    assert not [k for k in a if k.startswith("thespian.")], "project attributes live under messaging.thespian.*"
    assert not [k for k in a if k.startswith("messaging.") and k.split(".")[1] not in (
        "system", "operation", "destination", "batch", "thespian")], sorted(a)
    if rec.kind == "PRODUCER":
        assert a["messaging.operation.type"] == "send"
        assert rec.name == "%s %s" % (op, a["messaging.thespian.message.type"])
    else:
        assert rec.kind == "CONSUMER" and op == "process" and a["messaging.operation.type"] == "process"
        assert rec.name == "process " + a["messaging.destination.template"]
        assert a["messaging.thespian.actor.address"]
        assert ("messaging.destination.name" in a) != ("messaging.destination.anonymous" in a)


def _ours(spans):
    return [r for r in spans.local() if r.scope == "thespian_trace"]


def test_schema_url_on_tracer_and_meter(spans, make_system):
    asys = make_system("simpleSystemBase")
    traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), TIMEOUT)
    sdk_spans = [s for s in spans.tracing.exporter.get_finished_spans()
                 if s.instrumentation_scope.name == "thespian_trace"]
    assert sdk_spans and {s.instrumentation_scope.schema_url for s in sdk_spans} == {SCHEMA_URL}
    assert SCHEMA_URL.endswith("/" + SEMCONV_VERSION)

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from thespian_trace.telemetry import enable_metrics
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    try:
        enable_metrics(meters)
        scopes = {sm.scope.name: sm.scope.schema_url for rm in reader.get_metrics_data().resource_metrics
                  for sm in rm.scope_metrics}
        assert scopes["thespian_trace"] == SCHEMA_URL
    finally:
        meters.shutdown()


def test_ask_tell_and_continued_process_spans(spans, make_system):
    asys = make_system("simpleSystemBase")
    traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), TIMEOUT)
    traced_tell(asys, asys.createActor(ta.Recorder), "x")
    got = _ours(spans)
    for rec in got:
        _check_common(rec)
    (ask,) = spans_named(got, "ask Ping")
    assert ask.kind == "PRODUCER" and ask.attributes["messaging.operation.name"] == "ask"
    (tell,) = spans_named(got, "tell str")
    assert tell.attributes["messaging.operation.name"] == "tell"
    (front,) = spans_named(got, "process Front")
    assert front.attributes["messaging.destination.template"] == "Front"
    assert front.attributes["messaging.destination.anonymous"] is True
    assert "messaging.destination.name" not in front.attributes
    assert front.attributes["messaging.thespian.message.type"] == "Ping"
    assert front.attributes["messaging.thespian.delivery"] == "message"
    assert "messaging.batch.message_count" not in front.attributes   # single-message operation


def test_global_name_is_the_destination_name(spans, make_system):
    asys = make_system("simpleSystemBase")
    addr = asys.createActor(ta.Front, globalName="front-door")
    traced_ask(asys, addr, ta.Ping(1), TIMEOUT)
    (front,) = spans_named(_ours(spans), "process Front")
    _check_common(front)
    assert front.attributes["messaging.destination.name"] == "front-door"
    assert "messaging.destination.anonymous" not in front.attributes
    assert front.attributes["messaging.destination.template"] == "Front"


def test_root_and_wakeup_process_spans(spans, make_system):
    asys = make_system("simpleSystemBase")
    asys.ask(asys.createActor(ta.RootStarter), ta.Ping(1), TIMEOUT)
    traced_ask(asys, asys.createActor(ta.Sleeper), "nap", TIMEOUT)
    got = _ours(spans)
    for rec in got:
        _check_common(rec)
    (root,) = spans_named(got, "process RootStarter")
    assert root.parent_span_id is None
    wakes = [r for r in spans_named(got, "process Sleeper")
             if r.attributes["messaging.thespian.delivery"] == "wakeup"]
    assert len(wakes) == 1 and wakes[0].attributes["messaging.thespian.message.type"] == "WakeupMessage"


def test_send_and_fanout_producer_spans_and_kept_recipients(spans, make_system):
    configure(producer_spans=True, fanout_seed=5)
    asys = make_system("simpleSystemBase")
    traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), TIMEOUT)
    members = [asys.createActor(fa.Member) for _ in range(20)]
    traced_ask(asys, asys.createActor(fa.Broadcaster), fa.Fanout(members, "hi", keep=2), TIMEOUT)
    got = _ours(spans)
    for rec in got:
        _check_common(rec)
    sends = spans_named(got, "send Ping")
    assert sends and all(s.kind == "PRODUCER" and s.attributes["messaging.operation.name"] == "send"
                         for s in sends)
    (fanout,) = spans_named(got, "fanout Announcement")
    a = fanout.attributes
    assert (a["messaging.operation.name"], a["messaging.operation.type"]) == ("fanout", "send")
    assert a["messaging.batch.message_count"] == 20 and a["messaging.thespian.fanout.kept"] == 2
    assert a["messaging.thespian.sampling.probability"] == pytest.approx(0.1)
    kept = spans_named(got, "process Member")
    assert len(kept) == 2
    for rec in kept:
        assert rec.parent_span_id == fanout.span_id
        assert rec.attributes["messaging.thespian.fanout.size"] == 20
        assert rec.attributes["messaging.thespian.sampling.probability"] == pytest.approx(0.1)


class _TracedDeadLetter(ta.DeadLetterWatcher):
    """Sends a traced message to a child that has exited: a traced dead letter comes back."""

    def receiveMsg_str(self, msg, sender):
        if msg == "go":
            self.asker, self.ctx = sender, otel_context.get_current()  # carried to ChildActorExited
            self.victim = self.createActor(ta.Recorder)
            self.send(self.victim, ActorExitRequest())
            return
        super().receiveMsg_str(msg, sender)

    def receiveMsg_ChildActorExited(self, msg, sender):
        token = otel_context.attach(self.ctx)
        try:
            self.traced_send(self.victim, ta.StartEngine())
        finally:
            otel_context.detach(token)

    def receiveMsg_DeadEnvelope(self, msg, sender):
        self.send(self.asker, ("dead", type(msg.deadMessage).__name__))


def test_poison_dead_letter_and_troupe_deliveries_follow_the_conventions(spans, make_system):
    """Every kind of delivery that makes a span (a poison return, a dead letter, troupe work), not only
    plain messages, carries the same messaging attributes and names."""
    asys = make_system("simpleSystemBase")
    with trace.get_tracer("test").start_as_current_span("root"):
        assert traced_ask(asys, asys.createActor(ta.PoisonWatcher), "go", TIMEOUT)[0] == "poison"
    dead = asys.createActor(_TracedDeadLetter)
    assert asys.ask(dead, "watch", TIMEOUT) == "watching"
    with trace.get_tracer("test").start_as_current_span("root"):
        assert traced_ask(asys, dead, "go", TIMEOUT) == ("dead", "StartEngine")
    troupe = asys.createActor(ta.TroupeWorker)
    assert traced_ask(asys, troupe, ta.Ping(1), TIMEOUT).n == 1
    got = _ours(spans)
    for rec in got:
        _check_common(rec)
    deliveries = {r.attributes.get("messaging.thespian.delivery") for r in got}
    assert {"message", "poison", "dead_letter"} <= deliveries, deliveries
    assert len(spans_named(got, "process TroupeWorker")) >= 2  # the manager's and the worker's


def test_a_send_whose_producer_span_the_sampler_drops_travels_bare(spans):
    """With producer spans on, a send goes out under its own PRODUCER span; when the sampler drops that
    span there is no sampled context to propagate, so the message travels bare (0 extra bytes), as any
    other unsampled send, and a sampled one is enveloped."""
    from conftest import DropNamed
    from thespian.actors import ActorAddress
    from thespian_trace import Envelope, TracedActor

    class Hop(TracedActor):
        myAddress = ActorAddress(1)

        def __init__(self):
            self.sent = []

        def send(self, target, msg):
            self.sent.append(msg)

    configure(producer_spans=True)
    hop = Hop()
    with trace.get_tracer("t").start_as_current_span("handler"):
        spans.tracing.set_sampler(DropNamed("send Ping"))
        hop.traced_send(None, ta.Ping(1))
        spans.tracing.set_sampler(None)
        hop.traced_send(None, ta.Ping(2))
    dropped, kept = hop.sent
    assert type(dropped) is ta.Ping
    assert type(kept) is Envelope and kept.message.n == 2 and kept.carrier


class EngineFire(RuntimeError):
    pass


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocTCPBase"])
def test_failed_handler_span(spans, make_system, base):
    asys = make_system(base)
    watcher = asys.createActor(ta.PoisonWatcher)
    with trace.get_tracer("test").start_as_current_span("root"):
        assert traced_ask(asys, watcher, "go", TIMEOUT)[0] == "poison"
    got = spans.wait(lambda s: spans_named(s, "process Crasher") or None)
    for rec in spans_named(got, "process Crasher"):
        _check_common(rec)
        assert rec.status == "ERROR"
        assert rec.attributes["error.type"] == "RuntimeError"          # builtins: the bare name
        assert rec.status_description == "engine on fire", "the message, not a repeat of the type"


def test_error_type_is_the_qualified_class_name_and_external_failures_are_recorded(spans):
    from thespian_trace.semconv import error_type

    class FakeSystem:
        def ask(self, addr, msg, timeout):
            raise EngineFire("no route to actor")

    assert error_type(EngineFire("x")) == "test_semconv.EngineFire"
    assert error_type(KeyError("k")) == "KeyError"
    with pytest.raises(EngineFire):
        traced_ask(FakeSystem(), None, ta.Ping(1))
    (ask,) = spans_named(_ours(spans), "ask Ping")
    _check_common(ask)
    assert ask.status == "ERROR" and ask.status_description == "no route to actor"
    assert ask.attributes["error.type"] == "test_semconv.EngineFire"
