"""Actor metrics (thespian_trace.metrics) on every base, read by the SDK's
in-memory reader: in this process on simpleSystemBase, in each actor's own process (its ``per_process``
provider, reported on request by the actor) on the multi-process bases."""
import os
import subprocess
import sys

import pytest
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from thespian_trace import semconv, traced_ask
from thespian_trace._state import observers, settings
from thespian_trace.metrics import (METRIC_CREATED, METRIC_DURATION, METRIC_FAILED, METRIC_HANDLED,
                                    METRIC_LIVE, METRIC_POISON, actor_metrics_enabled,
                                    disable_actor_metrics, enable_actor_metrics, reset_actor_metrics)

import metrics_actors as ma

TIMEOUT = 20
METRIC_BASES = ["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"]
#: Invocations of a handler that keeps failing before Thespian returns a PoisonMessage (Thespian 4.0.1:
#: simpleSystemBase tries 3 times, the multi-process ActorManager once plus one retry).
ATTEMPTS = {"simpleSystemBase": 3, "multiprocQueueBase": 2, "multiprocTCPBase": 2}
CLASS = semconv.MESSAGING_DESTINATION_TEMPLATE
MTYPE = semconv.MESSAGE_TYPE


@pytest.fixture
def meters(spans):
    """A private SDK meter provider recording actor metrics in this process; each forked actor process
    gets one of its own (``ma.per_process_provider``)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    reset_actor_metrics()
    try:
        yield provider, reader
    finally:
        disable_actor_metrics()
        reset_actor_metrics()
        provider.shutdown()


def collect(base, reader, asys=None, actor=None):
    """The data points that actor's process recorded (this process's on simpleSystemBase)."""
    if base == "simpleSystemBase":
        return ma.summarize(reader.get_metrics_data())
    points = traced_ask(asys, actor, ma.Report(), TIMEOUT)
    assert points is not None, "the actor process has no per-process reader"
    return points


def points(data, name, **attrs):
    return [p for p in data if p["name"] == name
            and all(p["attributes"].get(k) == v for k, v in attrs.items())]


def value(data, name, **attrs):
    found = points(data, name, **attrs)
    assert len(found) <= 1, found
    return found[0]["value"] if found else 0


@pytest.mark.parametrize("base", METRIC_BASES)
def test_counts_equal_the_messages_sent(base, make_system, meters):
    provider, reader = meters
    assert enable_actor_metrics(provider, per_process=ma.per_process_provider)
    asys = make_system(base)
    counted = asys.createActor(ma.Counted)
    plain = asys.createActor(ma.PlainCounted)
    for _ in range(3):
        assert traced_ask(asys, counted, ma.Ping(), TIMEOUT) == "pong"   # enveloped, in a span
    for _ in range(2):
        assert asys.ask(counted, ma.Ping(), TIMEOUT) == "pong"           # bare
    for _ in range(4):
        assert asys.ask(plain, ma.Ping(), TIMEOUT) == "pong"
    data = collect(base, reader, asys, counted)
    assert value(data, METRIC_HANDLED, **{CLASS: "Counted", MTYPE: "Ping"}) == 5
    assert value(data, METRIC_CREATED, **{CLASS: "Counted"}) == 1
    assert value(data, METRIC_LIVE, **{CLASS: "Counted"}) == 1
    p = points(data, METRIC_HANDLED, **{CLASS: "Counted", MTYPE: "Ping"})[0]
    assert p["scope"] == "thespian_trace" and p["schema_url"] == semconv.SCHEMA_URL
    assert p["attributes"][semconv.MESSAGING_SYSTEM] == "thespian"
    assert not points(data, METRIC_DURATION, **{CLASS: "Counted"})  # not opted in
    plain_data = collect(base, reader, asys, plain)
    assert value(plain_data, METRIC_HANDLED, **{CLASS: "PlainCounted", MTYPE: "Ping"}) == 4
    if base != "simpleSystemBase":  # each process reports only its own actors, under its own resource
        assert not points(data, METRIC_HANDLED, **{CLASS: "PlainCounted"})
        assert data[0]["resource"]["service.instance.id"] != plain_data[0]["resource"]["service.instance.id"]


@pytest.mark.parametrize("base", METRIC_BASES)
def test_failures_counted_with_error_type_and_poison_returns(base, make_system, meters):
    provider, reader = meters
    assert enable_actor_metrics(provider, per_process=ma.per_process_provider)
    asys = make_system(base)
    counted = asys.createActor(ma.Counted)
    relay = asys.createActor(ma.Relay)
    assert traced_ask(asys, relay, ma.Send(counted, ma.Boom()), TIMEOUT) == "poisoned Boom"
    assert traced_ask(asys, relay, ma.Send(counted, ma.Ping()), TIMEOUT) == "pong"
    data = collect(base, reader, asys, counted)
    failed = points(data, METRIC_FAILED, **{CLASS: "Counted"})
    assert [(p["attributes"][MTYPE], p["attributes"][semconv.ERROR_TYPE], p["value"]) for p in failed] \
        == [("Boom", "ValueError", ATTEMPTS[base])]
    assert value(data, METRIC_HANDLED, **{CLASS: "Counted", MTYPE: "Boom"}) == ATTEMPTS[base]
    assert value(data, METRIC_HANDLED, **{CLASS: "Counted", MTYPE: "Ping"}) == 1
    relay_data = collect(base, reader, asys, relay)
    assert value(relay_data, METRIC_POISON, **{CLASS: "Relay", MTYPE: "Boom"}) == 1
    assert not points(relay_data, METRIC_FAILED, **{CLASS: "Relay"})


@pytest.mark.parametrize("base", METRIC_BASES)
def test_duration_only_for_opted_in_classes_with_exemplars_of_sampled_handlers(base, make_system, meters,
                                                                                 spans):
    provider, reader = meters
    assert enable_actor_metrics(provider, per_process=ma.per_process_provider)
    asys = make_system(base)
    timed = asys.createActor(ma.Timed)
    counted = asys.createActor(ma.Counted)
    for _ in range(3):
        assert traced_ask(asys, timed, ma.Ping(), TIMEOUT) == "pong"
        assert traced_ask(asys, counted, ma.Ping(), TIMEOUT) == "pong"
    assert asys.ask(timed, ma.Ping(), TIMEOUT) == "pong"  # bare: timed, no span, no exemplar
    data = collect(base, reader, asys, timed)
    durations = points(data, METRIC_DURATION, **{CLASS: "Timed", MTYPE: "Ping"})
    assert len(durations) == 1 and durations[0]["count"] == 4
    assert durations[0]["unit"] == "s"
    assert not points(collect(base, reader, asys, counted), METRIC_DURATION, **{CLASS: "Counted"})
    traces = {s.trace_id for s in spans.wait(lambda ss: len([s for s in ss if s.name == "process Timed"]) >= 3)
              if s.name == "process Timed"}
    exemplars = set(durations[0]["exemplars"])
    assert exemplars and exemplars <= traces, (exemplars, traces)


def test_duration_patterns_override_the_class_attribute(make_system, meters, monkeypatch):
    provider, reader = meters
    monkeypatch.setenv("THESPIAN_TRACE_METRICS_DURATION_INCLUDE", "metrics_actors.Plain*, Counted")
    monkeypatch.setenv("THESPIAN_TRACE_METRICS_DURATION_EXCLUDE", "Timed")
    assert enable_actor_metrics(provider)
    asys = make_system("simpleSystemBase")
    for cls in (ma.Counted, ma.PlainCounted, ma.Timed):
        assert asys.ask(asys.createActor(cls), ma.Ping(), TIMEOUT) == "pong"
    data = ma.summarize(reader.get_metrics_data())
    timed = {p["attributes"][CLASS] for p in points(data, METRIC_DURATION)}
    assert timed == {"Counted", "PlainCounted"}
    # Keyword arguments replace the environment's patterns.
    assert enable_actor_metrics(provider, duration_include=[], duration_exclude=["Plain*"])
    assert asys.ask(asys.createActor(ma.Timed), ma.Ping(), TIMEOUT) == "pong"
    data = ma.summarize(reader.get_metrics_data())
    assert points(data, METRIC_DURATION, **{CLASS: "Timed"})[0]["count"] == 1


def test_failed_handler_duration_carries_error_type(make_system, meters):
    provider, reader = meters
    assert enable_actor_metrics(provider)
    asys = make_system("simpleSystemBase")
    timed = asys.createActor(ma.Timed)
    asys.ask(timed, ma.Boom(), TIMEOUT)  # answered with a PoisonMessage
    data = ma.summarize(reader.get_metrics_data())
    failed = points(data, METRIC_DURATION, **{CLASS: "Timed", semconv.ERROR_TYPE: "KeyError"})
    assert failed and failed[0]["count"] == ATTEMPTS["simpleSystemBase"]


def test_no_meter_provider_installs_nothing(make_system):
    disable_actor_metrics()
    assert not enable_actor_metrics(NoOpMeterProvider())
    assert observers.delivery is None and observers.lifecycle is None and not actor_metrics_enabled()
    # The global provider of a fresh process is the API's proxy: nothing installed either.
    code = ("import thespian_trace.metrics as m; from thespian_trace._state import observers; "
            "print(m.enable_actor_metrics(), observers.delivery, observers.lifecycle)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "None", "None"], out.stdout + out.stderr


def test_disable_and_the_disabled_instrumentation_switch_stop_counting(make_system, meters):
    provider, reader = meters
    assert enable_actor_metrics(provider)
    asys = make_system("simpleSystemBase")
    counted = asys.createActor(ma.Counted)
    assert asys.ask(counted, ma.Ping(), TIMEOUT) == "pong"
    saved = settings.disabled
    settings.disabled = True  # OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=thespian
    try:
        assert asys.ask(counted, ma.Ping(), TIMEOUT) == "pong"
        assert not points(ma.summarize(reader.get_metrics_data()), METRIC_HANDLED)
    finally:
        settings.disabled = saved
    data = ma.summarize(reader.get_metrics_data())
    assert value(data, METRIC_HANDLED, **{CLASS: "Counted", MTYPE: "Ping"}) == 1
    disable_actor_metrics()
    assert observers.delivery is None
    assert asys.ask(counted, ma.Ping(), TIMEOUT) == "pong"
    assert not points(ma.summarize(reader.get_metrics_data()), METRIC_HANDLED)
    assert enable_actor_metrics(provider)  # again, same provider: the same instruments report again
    assert asys.ask(counted, ma.Ping(), TIMEOUT) == "pong"
    data = ma.summarize(reader.get_metrics_data())
    assert [p["value"] for p in points(data, METRIC_HANDLED, **{CLASS: "Counted", MTYPE: "Ping"})] == [2]


def test_instrumentor_switches_actor_metrics(make_system, meters):
    from thespian_trace.instrumentation import ThespianInstrumentor
    provider, reader = meters
    disable_actor_metrics()
    inst = ThespianInstrumentor()
    inst.instrument(meter_provider=provider, duration_include=["Counted"])
    try:
        assert actor_metrics_enabled()
        asys = make_system("simpleSystemBase")
        assert asys.ask(asys.createActor(ma.Counted), ma.Ping(), TIMEOUT) == "pong"
        data = ma.summarize(reader.get_metrics_data())
        assert value(data, METRIC_HANDLED, **{CLASS: "Counted", MTYPE: "Ping"}) == 1
        assert points(data, METRIC_DURATION, **{CLASS: "Counted"})
    finally:
        inst.uninstrument()
    assert not actor_metrics_enabled() and observers.delivery is None


def test_forked_actor_processes_export_their_metrics_when_they_exit(make_system, meters):
    """Each actor process exports through a real OTLP exporter of its own; the export interval is far
    longer than the test, so what arrives was flushed as the process ended (like spans)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from thespian.actors import ActorExitRequest

    from metrics_receiver import MetricsReceiver
    from thespian_trace.forksafe import ForkSafeSession

    receiver = MetricsReceiver().start()

    def per_process():
        exporter = OTLPMetricExporter(endpoint=receiver.endpoint, session=ForkSafeSession())
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)
        return MeterProvider(metric_readers=[reader],
                             resource=Resource.create({"service.instance.id": str(os.getpid())}))

    try:
        provider, _ = meters
        assert enable_actor_metrics(provider, per_process=per_process)
        asys = make_system("multiprocTCPBase")
        actors = [asys.createActor(ma.Counted) for _ in range(2)]
        for n, actor in enumerate(actors):
            for _ in range(n + 1):
                assert asys.ask(actor, ma.Ping(), TIMEOUT) == "pong"
        for actor in actors:
            asys.tell(actor, ActorExitRequest())

        def handled(points):
            return {p["resource"]["service.instance.id"]: p["value"] for p in points
                    if p["name"] == METRIC_HANDLED and p["attributes"].get(MTYPE) == "Ping"}

        got = receiver.wait_for(lambda ps: len(handled(ps)) == 2)
        pids = set(handled(got))
        assert sorted(handled(got).values()) == [1, 2]
        assert str(os.getpid()) not in pids
        exited = [p for p in got if p["name"] == "messaging.thespian.actors.exited"]
        assert sorted(p["value"] for p in exited) == [1, 1]
        live = [p for p in got if p["name"] == METRIC_LIVE]
        assert [p["value"] for p in live] == [0, 0]
    finally:
        receiver.stop()


def test_a_forked_child_counts_only_its_own_actor(make_system, meters):
    """A child actor process is forked from its creator's process, counts and all: it starts from zero."""
    provider, _ = meters
    assert enable_actor_metrics(provider, per_process=ma.per_process_provider)
    asys = make_system("multiprocTCPBase")
    spawner = asys.createActor(ma.Spawner)
    for _ in range(3):
        assert asys.ask(spawner, ma.Ping(), TIMEOUT) == "pong"
    child = asys.ask(spawner, ma.Spawn(), TIMEOUT)
    assert asys.ask(child, ma.Ping(), TIMEOUT) == "pong"
    child_data = collect("multiprocTCPBase", None, asys, child)
    assert {p["attributes"][CLASS] for p in child_data if p["name"] == METRIC_HANDLED} == {"Counted"}
    assert value(child_data, METRIC_CREATED, **{CLASS: "Counted"}) == 1
    spawner_data = collect("multiprocTCPBase", None, asys, spawner)
    assert value(spawner_data, METRIC_HANDLED, **{CLASS: "Spawner", MTYPE: "Ping"}) == 3


@pytest.mark.parametrize("base", METRIC_BASES)
def test_dead_letters_counted_at_their_handler(base, make_system, meters):
    import time

    from thespian.actors import ActorExitRequest

    provider, reader = meters
    assert enable_actor_metrics(provider, per_process=ma.per_process_provider)
    asys = make_system(base)
    handler = asys.createActor(ma.DeadLetters)
    assert asys.ask(handler, "register", TIMEOUT) == 0
    victim = asys.createActor(ma.Counted)
    assert asys.ask(victim, ma.Ping(), TIMEOUT) == "pong"
    asys.tell(victim, ActorExitRequest())
    time.sleep(0.3)  # let the exit complete before the letters go out
    for _ in range(3):
        asys.tell(victim, ma.Ping())
    deadline = time.monotonic() + TIMEOUT
    while asys.ask(handler, "count", TIMEOUT) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    got = asys.ask(handler, "count", TIMEOUT)
    assert got == 3
    data = collect(base, reader, asys, handler)
    assert value(data, "messaging.thespian.dead_letters", **{CLASS: "DeadLetters", MTYPE: "Ping"}) == got


AUTOCONF_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import thespian_trace
from opentelemetry import metrics
from thespian.actors import ActorSystem
import metrics_actors as ma
print("provider", type(metrics.get_meter_provider()).__name__)
asys = ActorSystem("simpleSystemBase", transientUnique=True)
try:
    actor = asys.createActor(ma.Counted)
    print("replies", [asys.ask(actor, ma.Ping(), 5) for _ in range(3)])
finally:
    asys.shutdown()
metrics.get_meter_provider().shutdown()  # what the SDK's exit handler does: export what is left
"""


def test_autoconfigure_metrics_from_the_environment_alone():
    from metrics_receiver import MetricsReceiver

    receiver = MetricsReceiver().start()
    try:
        env = dict(os.environ, THESPIAN_TRACE_AUTOCONFIGURE_METRICS="otlp", OTEL_SERVICE_NAME="autometrics",
                   OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint.rsplit("/v1/", 1)[0])
        code = AUTOCONF_SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "provider MeterProvider" in out.stdout
        got = receiver.wait_for(lambda ps: any(p["name"] == METRIC_HANDLED for p in ps))
        handled = [p for p in got if p["name"] == METRIC_HANDLED and p["attributes"][CLASS] == "Counted"]
        assert [p["value"] for p in handled] == [3]
        assert handled[0]["resource"]["service.name"] == "autometrics"
    finally:
        receiver.stop()


def test_a_process_with_its_own_provider_reports_nothing_to_the_inherited_one(make_system, meters):
    """The inherited provider lives on in a forked actor process (the SDK restarts a periodic reader
    there): were the counts reported to it too, they would arrive twice, once under the parent's
    resource."""
    provider, reader = meters
    ma.INHERITED["reader"] = reader
    try:
        assert enable_actor_metrics(provider, per_process=ma.per_process_provider)
        asys = make_system("multiprocTCPBase")
        actor = asys.createActor(ma.InheritedReporting)
        assert asys.ask(actor, ma.Ping(), TIMEOUT) == "pong"
        own = collect("multiprocTCPBase", None, asys, actor)
        assert value(own, METRIC_HANDLED, **{CLASS: "InheritedReporting", MTYPE: "Ping"}) == 1
        inherited = traced_ask(asys, actor, ma.ReportInherited(), TIMEOUT)
        assert not [p for p in inherited if p["name"].startswith("messaging.")], inherited
    finally:
        ma.INHERITED.clear()
