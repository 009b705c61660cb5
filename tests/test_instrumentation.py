"""ThespianInstrumentor: BaseInstrumentor contract, private providers, entry point, opentelemetry-instrument."""
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from thespian_trace import config, get_mode, hook, traced_ask
from thespian_trace.instrumentation import ThespianInstrumentor
from thespian_trace.telemetry import METRIC_RECEIVED

import tt_actors as ta

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
BIN = os.path.dirname(sys.executable)


@pytest.fixture
def instrumentor(spans):
    inst = ThespianInstrumentor()
    assert not inst.is_instrumented_by_opentelemetry
    try:
        yield inst
    finally:
        if inst.is_instrumented_by_opentelemetry:
            inst.uninstrument()
        hook.install()            # the rest of the suite relies on the hook the package import installed
        assert hook.installed()


def _private_provider():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_dependencies():
    assert tuple(ThespianInstrumentor().instrumentation_dependencies()) == ("thespian >= 3.10, < 5",)


def test_instrument_with_a_private_tracer_provider(instrumentor, spans, make_system):
    provider, exporter = _private_provider()
    instrumentor.instrument(tracer_provider=provider)
    assert instrumentor.is_instrumented_by_opentelemetry and hook.installed()
    assert config.settings.tracer_provider is provider

    asys = make_system("simpleSystemBase")
    reply = traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), 10)
    assert isinstance(reply, ta.Pong)
    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["ask Ping", "process Front", "process Hop"]
    assert spans.local() == [], "nothing may reach the global provider"

    instrumentor.uninstrument()
    assert not instrumentor.is_instrumented_by_opentelemetry
    # The data plane stays; the observation plane is back to what it was (the global provider).
    assert hook.installed() and config.settings.tracer_provider is None
    exporter.clear()
    reply = traced_ask(asys, asys.createActor(ta.Front), ta.Ping(2), 10)
    assert isinstance(reply, ta.Pong)
    assert exporter.get_finished_spans() == ()
    assert sorted(r.name for r in spans.local()) == ["ask Ping", "process Front", "process Hop"]


def test_instrument_mode_and_meter_provider(instrumentor, spans, make_system):
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    try:
        instrumentor.instrument(mode="receive", meter_provider=meters)
        assert get_mode() == "receive"
        asys = make_system("simpleSystemBase")
        asys.ask(asys.createActor(ta.Recorder), "report", 10)
        names = {m.name for rm in reader.get_metrics_data().resource_metrics
                 for sm in rm.scope_metrics for m in sm.metrics}
        assert METRIC_RECEIVED in names
    finally:
        meters.shutdown()


def test_instrument_twice_is_a_no_op(instrumentor, spans):
    provider, _ = _private_provider()
    instrumentor.instrument(tracer_provider=provider)
    other, _ = _private_provider()
    instrumentor.instrument(tracer_provider=other)     # BaseInstrumentor: already instrumented
    assert config.settings.tracer_provider is provider


def test_entry_point_is_registered():
    found = entry_points()  # Python 3.9: a dict by group; 3.10+: select(group=...)
    group = (found.select(group="opentelemetry_instrumentor") if hasattr(found, "select")
             else found.get("opentelemetry_instrumentor", ()))
    # (3.9 also lists a distribution twice when it is on sys.path twice; 3.10+ lists it once)
    eps = list({ep.value: ep for ep in group if ep.name == "thespian"}.values())
    assert len(eps) == 1, "run: .venv/bin/pip install -q -e '.[otlp,test]'"
    assert eps[0].value == "thespian_trace.instrumentation:ThespianInstrumentor"
    assert eps[0].load() is ThespianInstrumentor


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from thespian.actors import ActorSystem
    from thespian_trace import get_mode, traced_ask
    from thespian_trace.instrumentation import ThespianInstrumentor
    import tt_actors as ta

    print("instrumented", ThespianInstrumentor().is_instrumented_by_opentelemetry)
    print("mode", get_mode())
    from thespian_trace.config import settings
    print("active", settings.active_mode)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    asys = ActorSystem("simpleSystemBase", transientUnique=True)
    try:
        print("reply", type(traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), 10)).__name__)
    finally:
        asys.shutdown()
    print("spans", sorted(s.name for s in exporter.get_finished_spans()))
""")


@pytest.mark.parametrize("disabled", [False, True])
def test_opentelemetry_instrument_loads_the_instrumentor(tmp_path, disabled):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT.format(tests=TESTS))
    env = dict(os.environ, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none",
               OTEL_LOGS_EXPORTER="none", THESPIAN_TRACE_MODE="on",
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    if disabled:
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "thespian"
    out = subprocess.run([os.path.join(BIN, "opentelemetry-instrument"), sys.executable, str(script)],
                         env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert lines["instrumented"] == str(not disabled), out.stdout + out.stderr
    assert lines["mode"] == "on" and lines["reply"] == "Pong"     # the data plane works either way
    if disabled:   # OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=thespian: the observation plane is off
        assert lines["spans"] == "[]" and lines["active"] == "off"
    else:
        assert lines["spans"] == "['ask Ping', 'process Front', 'process Hop']"
        assert lines["active"] == "on"


def _metric_names(reader):
    data = reader.get_metrics_data()
    if data is None:
        return set()
    return {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if any(True for _ in m.data.data_points)
            and not m.name.startswith("otel.sdk.")}  # the SDK's own metrics (SDK 1.41, Python 3.9)


def test_uninstrument_returns_the_observation_plane_to_what_it_was(instrumentor, spans, make_system):
    """instrument() then uninstrument(): mode, provider, span links and metrics as before; the data
    plane untouched (a plain Actor that answers only str keeps answering)."""
    import switch_actors as sa
    from thespian_trace import set_mode, traced_ask as ask
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    provider, exporter = _private_provider()
    set_mode("off")
    try:
        instrumentor.instrument(mode="on", tracer_provider=provider, meter_provider=meters,
                                use_span_links=True)
        assert (get_mode(), config.settings.use_span_links) == ("on", True)
        asys = make_system("simpleSystemBase")
        str_only = asys.createActor(sa.StrOnly)
        assert ask(asys, str_only, "a", 10) == "got a"
        assert [s.name for s in exporter.get_finished_spans()] == ["process StrOnly", "ask str"]
        assert METRIC_RECEIVED in _metric_names(reader)

        instrumentor.uninstrument()
        assert (get_mode(), config.settings.use_span_links, config.settings.tracer_provider) == \
            ("off", False, None)
        assert hook.installed()
        exporter.clear()
        assert ask(asys, str_only, "b", 10) == "got b"
        assert exporter.get_finished_spans() == () and spans.local() == []
        assert _metric_names(reader) == set(), "metrics enabled by instrument() stop reporting"
    finally:
        meters.shutdown()


def test_use_span_links_makes_a_linked_root_per_process_span(instrumentor, spans, make_system):
    instrumentor.instrument(use_span_links=True)
    asys = make_system("simpleSystemBase")
    reply = traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), 10)
    assert isinstance(reply, ta.Pong)
    got = {r.name: r for r in spans.local()}
    ask, front, hop = got["ask Ping"], got["process Front"], got["process Hop"]
    assert front.parent_span_id is None and front.trace_id != ask.trace_id
    assert front.links == ((ask.trace_id, ask.span_id),)
    assert hop.parent_span_id is None and hop.links == ((front.trace_id, front.span_id),)
    from test_semconv import _check_common
    for rec in (front, hop):  # a linked root is a process span like any other
        _check_common(rec)
    instrumentor.uninstrument()
    spans.tracing.clear()
    traced_ask(asys, asys.createActor(ta.Front), ta.Ping(2), 10)
    got = {r.name: r for r in spans.local()}
    assert got["process Front"].parent_span_id == got["ask Ping"].span_id   # default: parent/child
