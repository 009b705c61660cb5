"""Rollout telemetry: observable counters over the process counters, read by a private MeterProvider."""
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from thespian_trace import Envelope, configure, stats, traced_ask, traced_tell
from thespian_trace.telemetry import (ACTOR_CLASS, CARRIER_OUTCOME, ENVELOPED, FANOUT_DECISION,
                                      METRIC_CARRIERS, METRIC_FANOUT, METRIC_RECEIVED, METRIC_ROOTS,
                                      count_received, disable_metrics, enable_metrics)

import fanout_actors as fa
import tt_actors as ta

UNSAMPLED = {"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-02"}


@pytest.fixture
def reader():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        yield provider, reader
    finally:
        disable_metrics(meter_provider=provider)  # so per-class counting stops with its reader
        provider.shutdown()


def collect(reader):
    """{metric name: {frozenset(attributes): value}} plus the metric objects, from one collection."""
    out, meta = {}, {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name.startswith("otel.sdk."):  # the SDK's own metrics (SDK 1.41 on Python 3.9)
                    continue
                points = out.setdefault(m.name, {})
                for dp in m.data.data_points:
                    key = frozenset(dp.attributes.items())
                    assert key not in points, "duplicate data point for %s %s" % (m.name, key)
                    points[key] = dp.value
                meta[m.name] = (sm.scope.name, m)
    return out, meta


def _traffic(make_system, spans):
    configure(fanout_seed=5)
    asys = make_system("simpleSystemBase")
    rec = asys.createActor(ta.Recorder)
    asys.tell(rec, "bare-1")
    asys.tell(rec, "bare-2")
    with trace.get_tracer("test-telemetry").start_as_current_span("caller"):
        traced_tell(asys, rec, "traced")
    asys.tell(rec, Envelope("unsampled", UNSAMPLED))            # sieved
    starter = asys.createActor(ta.RootStarter)
    asys.ask(starter, ta.Ping(1), 10)                             # a root
    members = [asys.createActor(fa.Member) for _ in range(200)]
    return traced_ask(asys, asys.createActor(fa.Broadcaster), fa.Fanout(members, "hi"), 30)


def test_counters_are_exported_through_observable_instruments(spans, make_system, reader):
    provider, rd = reader
    enable_metrics(meter_provider=provider)
    before, _ = collect(rd)
    assert before[METRIC_ROOTS] == {frozenset(): 0}

    report = _traffic(make_system, spans)
    s = stats()
    got, meta = collect(rd)

    rec = got[METRIC_RECEIVED]
    assert rec[frozenset({(ACTOR_CLASS, "Recorder"), (ENVELOPED, False)})] == 2
    assert rec[frozenset({(ACTOR_CLASS, "Recorder"), (ENVELOPED, True)})] == 2    # traced + sieved
    assert rec[frozenset({(ACTOR_CLASS, "Member"), (ENVELOPED, True)})] == 200    # kept + fanout markers
    for cls_name, counts in s["received"].items():
        for enveloped in (True, False):
            key = frozenset({(ACTOR_CLASS, cls_name), (ENVELOPED, enveloped)})
            assert rec.get(key, 0) == counts["enveloped" if enveloped else "bare"]

    carriers = got[METRIC_CARRIERS]
    for outcome in ("built", "sieved", "extracted", "invalid", "oversized"):
        assert carriers[frozenset({(CARRIER_OUTCOME, outcome)})] == s["carriers_" + outcome]
    assert carriers[frozenset({(CARRIER_OUTCOME, "sieved")})] >= 1
    assert carriers[frozenset({(CARRIER_OUTCOME, "built")})] >= 2

    fan = got[METRIC_FANOUT]
    assert fan[frozenset({(FANOUT_DECISION, "kept")})] == report.kept == s["fanout_kept"] > 0
    assert fan[frozenset({(FANOUT_DECISION, "dropped")})] == 200 - report.kept
    assert got[METRIC_ROOTS] == {frozenset(): 1}

    scope, metric = meta[METRIC_RECEIVED]
    assert scope == "thespian_trace"
    assert metric.data.is_monotonic and metric.unit == "{message}"


def test_values_only_change_with_traffic(spans, make_system, reader):
    provider, rd = reader
    enable_metrics(meter_provider=provider)
    asys = make_system("simpleSystemBase")
    rec = asys.createActor(ta.Recorder)
    asys.tell(rec, "one")
    first, _ = collect(rd)
    second, _ = collect(rd)
    key = frozenset({(ACTOR_CLASS, "Recorder"), (ENVELOPED, False)})
    assert first[METRIC_RECEIVED][key] == second[METRIC_RECEIVED][key] == 1
    asys.tell(rec, "two")
    third, _ = collect(rd)
    assert third[METRIC_RECEIVED][key] == 2


def test_enable_metrics_is_idempotent(spans, make_system, reader):
    provider, rd = reader
    enable_metrics(meter_provider=provider)
    enable_metrics(meter_provider=provider)
    enable_metrics(provider)
    asys = make_system("simpleSystemBase")
    rec = asys.createActor(ta.Recorder)
    for _ in range(3):
        asys.tell(rec, "x")
    got, _ = collect(rd)     # collect() also fails on duplicate data points
    assert got[METRIC_RECEIVED][frozenset({(ACTOR_CLASS, "Recorder"), (ENVELOPED, False)})] == 3
    assert len(got) == 4


def test_a_second_provider_gets_its_own_instruments(spans, reader):
    # spans: counters were reset for this test
    provider, rd = reader
    other_reader = InMemoryMetricReader()
    other = MeterProvider(metric_readers=[other_reader])
    try:
        enable_metrics(meter_provider=provider)
        enable_metrics(meter_provider=other)
        a, _ = collect(rd)
        b, _ = collect(other_reader)
        # (no message was received in this test, so the per-class counter has no data point yet)
        assert set(a) == set(b) == {METRIC_CARRIERS, METRIC_FANOUT, METRIC_ROOTS}
    finally:
        other.shutdown()


def test_no_global_meter_provider_was_set(reader):
    provider, _ = reader
    enable_metrics(meter_provider=provider)
    assert not isinstance(metrics.get_meter_provider(), MeterProvider)


def test_received_counts_are_kept_only_while_a_reader_exists(spans, make_system, reader):
    """Per-class counting is a dict update per message: off until enable_metrics (or count_received)."""
    from thespian_trace import telemetry

    provider, rd = reader
    saved = set(telemetry._active)
    telemetry._active.clear()
    previous = count_received(False)
    key = frozenset({(ACTOR_CLASS, "Recorder"), (ENVELOPED, False)})
    try:
        asys = make_system("simpleSystemBase")
        rec = asys.createActor(ta.Recorder)
        asys.tell(rec, "nobody reads")
        assert stats()["received"] == {}
        enable_metrics(meter_provider=provider)
        asys.tell(rec, "read by the meter")
        got, _ = collect(rd)
        assert got[METRIC_RECEIVED][key] == 1
        assert stats()["received"]["Recorder"] == {"enveloped": 0, "bare": 1}
        disable_metrics(meter_provider=provider)
        asys.tell(rec, "nobody reads again")
        assert stats()["received"]["Recorder"]["bare"] == 1
        count_received(True)
        asys.tell(rec, "read through stats()")
        assert stats()["received"]["Recorder"]["bare"] == 2
    finally:
        count_received(previous)
        telemetry._active.update(saved)
        telemetry._sync_counting()
