"""Tests for thespian_trace.testing: the OTLP receiver, SpanRecord conversion, InMemoryTracing and the
trace-shape assertions."""

import gzip
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest

from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, Status, StatusCode

from thespian_trace import testing as tt
from thespian_trace.testing import (
    InMemoryTracing,
    OTLPReceiver,
    SpanRecord,
    assert_chain,
    assert_single_trace,
    build_trees,
    children_of,
    format_tree,
    spans_named,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

rx = pytest.fixture(tt.otlp_receiver_fixture)


def _local_provider(*exporters):
    """A private TracerProvider (never the global one) with a SimpleSpanProcessor per exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": "helpers-test", "run": 7}))
    for exp in exporters:
        provider.add_span_processor(SimpleSpanProcessor(exp))
    return provider


def _emit_sample_trace(provider):
    """root(SERVER) -> dispatch(PRODUCER) -> {worker-a(CONSUMER, ERROR), worker-b(CONSUMER)}."""
    tracer = provider.get_tracer("helpers.test", "1.0")
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes={"http.route": "/x"}):
        with tracer.start_as_current_span(
            "dispatch",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.batch.message_count": 2,
                "ratio": 0.5,
                "flag": True,
                "names": ["a", "b"],
                "counts": [1, 2, 3],
            },
        ) as dispatch:
            link_ctx = dispatch.get_span_context()
            with tracer.start_as_current_span("worker-a", kind=SpanKind.CONSUMER, links=[trace_api.Link(link_ctx)],
                                              record_exception=False, set_status_on_exception=False) as a:
                a.add_event("got", {"n": 1})
                a.set_status(Status(StatusCode.ERROR, "boom"))
            with tracer.start_as_current_span("worker-b", kind=SpanKind.CONSUMER) as b:
                b.set_status(Status(StatusCode.OK))


def _rec(name, span_id, parent=None, trace="a" * 32, start=0, **kw):
    return SpanRecord(name=name, trace_id=trace, span_id=span_id, parent_span_id=parent, start_ns=start,
                      end_ns=start + 1, **kw)


# ---------------------------------------------------------------------------------------------- receiver


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_receiver_decodes_real_exporter_output(rx, compression):
    memory = InMemorySpanExporter()
    otlp = OTLPSpanExporter(endpoint=rx.traces_endpoint, compression=compression, timeout=5)
    provider = _local_provider(memory, otlp)
    try:
        _emit_sample_trace(provider)
        got = rx.wait_for(count=4, timeout=10)
    finally:
        provider.shutdown()
    assert rx.errors == []
    assert rx.encodings and set(rx.encodings) == {
        {"none": "identity", "gzip": "gzip", "deflate": "deflate"}[compression.value]
    }

    by_name = {r.name: r for r in got}
    assert set(by_name) == {"root", "dispatch", "worker-a", "worker-b"}
    root, dispatch, a, b = (by_name[n] for n in ("root", "dispatch", "worker-a", "worker-b"))
    assert root.parent_span_id is None and root.is_root
    assert dispatch.parent_span_id == root.span_id
    assert a.parent_span_id == dispatch.span_id and b.parent_span_id == dispatch.span_id
    assert len(root.trace_id) == 32 and len(root.span_id) == 16
    assert {r.trace_id for r in got} == {root.trace_id}
    assert [root.kind, dispatch.kind, a.kind, b.kind] == ["SERVER", "PRODUCER", "CONSUMER", "CONSUMER"]
    assert dispatch.attributes == {
        "messaging.batch.message_count": 2,
        "ratio": 0.5,
        "flag": True,
        "names": ("a", "b"),
        "counts": (1, 2, 3),
    }
    assert a.status == "ERROR" and a.status_description == "boom"
    assert b.status == "OK" and root.status == "UNSET"
    assert a.events == (("got", {"n": 1}),)
    assert a.links == ((dispatch.trace_id, dispatch.span_id),)
    assert root.resource["service.name"] == "helpers-test" and root.resource["run"] == 7
    assert root.scope == "helpers.test"
    assert root.start_ns <= dispatch.start_ns <= a.start_ns and a.end_ns <= dispatch.end_ns

    # the OTLP path and the SDK path produce identical records
    from_sdk = {r.name: r for r in (SpanRecord.from_sdk(s) for s in memory.get_finished_spans())}
    assert from_sdk == by_name


def test_receiver_raw_gzip_post_and_bad_requests(rx):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1 import trace_pb2

    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.name = "raw"
    span.trace_id = bytes(range(16))
    span.span_id = bytes(range(8))
    span.kind = trace_pb2.Span.SpanKind.SPAN_KIND_UNSPECIFIED
    body = gzip.compress(req.SerializeToString())
    http_req = urllib.request.Request(
        rx.traces_endpoint, data=body, method="POST",
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    with urllib.request.urlopen(http_req, timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/x-protobuf"
        assert resp.read() == b""
    (rec,) = rx.spans()
    assert rec.trace_id == bytes(range(16)).hex() and rec.span_id == bytes(range(8)).hex()
    assert rec.kind == "INTERNAL" and rec.parent_span_id is None and rec.end_ns is None

    bad = urllib.request.Request(rx.traces_endpoint, data=b"\xff\xff not gzip", method="POST",
                                 headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad, timeout=5)
    assert err.value.code == 400
    wrong_path = urllib.request.Request(rx.endpoint + "/v1/metrics", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(wrong_path, timeout=5)
    assert err.value.code == 404
    assert len(rx.errors) == 2 and len(rx.spans()) == 1

    rx.clear()
    assert rx.spans() == [] and rx.errors == [] and rx.request_count == 0


def test_wait_for_timeout_reports_what_it_has(rx):
    provider = _local_provider(OTLPSpanExporter(endpoint=rx.traces_endpoint, timeout=5))
    try:
        with provider.get_tracer("t").start_as_current_span("only-one"):
            pass
        assert len(rx.wait_for(count=1, timeout=5)) == 1
    finally:
        provider.shutdown()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as err:
        rx.wait_for(count=3, timeout=0.3)
    assert time.monotonic() - t0 < 3
    msg = str(err.value)
    assert "3 span(s)" in msg and "have 1 span(s)" in msg and "only-one" in msg

    # a predicate raising AssertionError means "not yet"; its message is reported on timeout
    with pytest.raises(TimeoutError) as err:
        rx.wait_for(lambda s: assert_chain(s, ["only-one", "missing-child"]), timeout=0.3)
    assert "only-one -> missing-child" in str(err.value)
    assert rx.wait_for(lambda s: assert_chain(s, ["only-one"]), timeout=1)


def test_wait_for_wakes_up_on_arrival(rx):
    import threading

    provider = _local_provider(OTLPSpanExporter(endpoint=rx.traces_endpoint, timeout=5))

    def later():
        time.sleep(0.2)
        with provider.get_tracer("t").start_as_current_span("late"):
            pass

    thread = threading.Thread(target=later)
    thread.start()
    try:
        spans = rx.wait_for(lambda s: spans_named(s, "late"), timeout=10)
    finally:
        thread.join()
        provider.shutdown()
    assert [s.name for s in spans] == ["late"]


def test_receiver_lifecycle():
    rx = OTLPReceiver()
    with pytest.raises(RuntimeError):
        rx.endpoint
    with rx:
        assert rx.running and rx.endpoint.startswith("http://127.0.0.1:")
        assert rx.traces_endpoint == rx.endpoint + "/v1/traces"
        port = rx.port
        assert rx.start() is rx  # idempotent
    assert not rx.running
    rx.stop()  # idempotent
    with pytest.raises(OSError):
        urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2)


def test_configure_otlp_export_from_forked_child(rx):
    """The parent configures export, then forks: the child's spans reach the receiver (own process, so
    the global provider of this test process stays untouched)."""
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    script = textwrap.dedent(
        """
        import os, sys
        sys.path.insert(0, %r)
        from opentelemetry import trace
        from thespian_trace.testing import configure_otlp_export, force_flush
        configure_otlp_export(sys.argv[1], resource_attrs={"service.name": "forky"})
        tracer = trace.get_tracer("fork.test")
        with tracer.start_as_current_span("parent-before-fork"):
            pass
        force_flush()
        pid = os.fork()
        if pid == 0:
            with tracer.start_as_current_span("in-child"):
                pass
            force_flush()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        with tracer.start_as_current_span("parent-after-fork"):
            pass
        force_flush()
        sys.exit(os.waitstatus_to_exitcode(status))
        """
        % REPO
    )
    proc = subprocess.run([sys.executable, "-c", script, rx.endpoint], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    spans = rx.wait_for(count=3, timeout=10)
    assert sorted(s.name for s in spans) == ["in-child", "parent-after-fork", "parent-before-fork"]
    assert {s.resource["service.name"] for s in spans} == {"forky"}
    assert rx.errors == []


# ---------------------------------------------------------------------------------------------- in-memory


def test_in_memory_tracing_collects_and_swaps_sampler():
    with InMemoryTracing() as tracing:
        assert isinstance(trace_api.get_tracer_provider(), TracerProvider)
        tracer = trace_api.get_tracer("helpers.inmem")
        with tracer.start_as_current_span("outer"):
            with tracer.start_as_current_span("inner", kind=SpanKind.CONSUMER):
                pass
        recs = tracing.records()
        assert_chain(recs, ["outer", "inner"])
        assert assert_single_trace(recs) == recs[0].trace_id

        tracing.clear()
        tracing.set_sampler(ALWAYS_OFF)
        with tracer.start_as_current_span("dropped"):
            pass
        assert tracing.records() == []
        tracing.set_sampler(None)
        with tracer.start_as_current_span("kept"):
            pass
        assert [r.name for r in tracing.records()] == ["kept"]

        # a second instance reuses the same provider; both see spans while open
        with InMemoryTracing() as second:
            assert second.provider is tracing.provider
            with tracer.start_as_current_span("both"):
                pass
            assert [r.name for r in second.records()] == ["both"]
        with tracer.start_as_current_span("after-second-closed"):
            pass
        assert second.records() == [r for r in second.records() if r.name == "both"]
        assert [r.name for r in tracing.records()] == ["kept", "both", "after-second-closed"]
    assert "SwappableSampler" in trace_api.get_tracer_provider().sampler.get_description()


def test_swappable_sampler_is_exported():
    from thespian_trace.testing import SwappableSampler

    s = SwappableSampler()
    assert "ParentBased" in s.get_description()
    s.set_target(ALWAYS_OFF)
    assert not s.should_sample(None, 1, "x").decision.is_sampled()


# ---------------------------------------------------------------------------------------------- shapes


def _sample_records():
    return [
        _rec("root", "0000000000000001", start=0, kind="SERVER"),
        _rec("fanout", "0000000000000002", "0000000000000001", start=10, kind="PRODUCER",
             attributes={"messaging.batch.message_count": 3}),
        _rec("Worker", "0000000000000004", "0000000000000002", start=30, kind="CONSUMER"),
        _rec("Worker", "0000000000000003", "0000000000000002", start=20, kind="CONSUMER", status="ERROR",
             status_description="boom"),
        _rec("Store", "0000000000000005", "0000000000000004", start=40),
    ]


def test_build_trees_and_children():
    recs = _sample_records()
    trees = build_trees(recs)
    assert list(trees) == ["a" * 32]
    (root,) = trees["a" * 32]
    assert root.name == "root" and not root.orphan
    (fanout,) = root.children
    assert [c.record.span_id for c in fanout.children] == ["0000000000000003", "0000000000000004"]  # by start
    assert [c.span_id for c in children_of(recs, fanout.record)] == ["0000000000000003", "0000000000000004"]
    assert children_of(recs, recs[-1]) == []
    assert [n.name for n in root.walk()] == ["root", "fanout", "Worker", "Worker", "Store"]
    # duplicates (span exported twice) are kept once
    assert sum(1 for _ in build_trees(recs + recs[:2])["a" * 32][0].walk()) == 5


def test_format_tree_is_readable():
    text = format_tree(_sample_records())
    lines = text.splitlines()
    assert lines[0].startswith("trace " + "a" * 32) and "5 spans, 1 root" in lines[0]
    assert lines[1] == "  root [SERVER]"
    assert lines[2] == "    fanout [PRODUCER]  messaging.batch.message_count=3"
    assert lines[3] == "      Worker [CONSUMER] ERROR(boom)"
    assert lines[5] == "        Store [INTERNAL]"
    assert format_tree([]) == "(no spans)"


def test_assert_single_trace_passes_and_fails():
    recs = _sample_records()
    assert assert_single_trace(recs) == "a" * 32

    with pytest.raises(AssertionError, match="no spans"):
        assert_single_trace([])
    other = _rec("stray", "0000000000000009", trace="b" * 32)
    with pytest.raises(AssertionError, match="expected 1 trace, got 2") as err:
        assert_single_trace(recs + [other])
    assert "stray [INTERNAL]" in str(err.value) and "Worker [CONSUMER]" in str(err.value)
    # a second root in the same trace
    with pytest.raises(AssertionError, match="exactly 1 root"):
        assert_single_trace(recs + [_rec("root2", "0000000000000008")])
    # a lost intermediate span leaves an orphan: two roots
    without_fanout = [r for r in recs if r.name != "fanout"]
    with pytest.raises(AssertionError, match="exactly 1 root") as err:
        assert_single_trace(without_fanout)
    assert "parent 0000000000000002 missing" in str(err.value)


def test_assert_chain_passes_and_fails():
    recs = _sample_records()
    path = assert_chain(recs, ["root", "fanout", "Worker", "Store"])
    assert [r.span_id for r in path] == ["0000000000000001", "0000000000000002", "0000000000000004",
                                         "0000000000000005"]
    assert assert_chain(recs, ["fanout", "Worker"])  # need not start at a root
    assert assert_chain(recs, ["Store"])
    with pytest.raises(AssertionError, match="root -> Worker") as err:
        assert_chain(recs, ["root", "Worker"])  # not a direct parent->child link
    assert "fanout [PRODUCER]" in str(err.value)
    with pytest.raises(AssertionError):
        assert_chain(recs, ["root", "fanout", "Worker", "Store", "Deeper"])
    with pytest.raises(AssertionError):
        assert_chain(recs, ["Worker", "fanout"])  # wrong direction
    with pytest.raises(ValueError):
        assert_chain(recs, [])


def test_span_record_is_hashable_and_frozen():
    r = _rec("x", "0000000000000001")
    assert {r, _rec("x", "0000000000000001")} == {r}
    with pytest.raises(Exception):
        r.name = "y"
    assert r.duration_ns == 1


def test_thespian_multiproc_children_export_to_receiver(rx, tmp_path):
    """Real Thespian multiprocTCPBase: export configured in the parent is inherited by the forked actor
    processes, whose spans reach the receiver (run in a subprocess to keep this process's globals clean)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        admin_port = s.getsockname()[1]
    (tmp_path / "rx_actors.py").write_text(textwrap.dedent(
        """
        from opentelemetry import trace
        from thespian.actors import Actor

        class Echo(Actor):
            def receiveMessage(self, msg, sender):
                if isinstance(msg, str):
                    with trace.get_tracer("rx.actors").start_as_current_span("Echo", kind=trace.SpanKind.CONSUMER):
                        pass
                    self.send(sender, "pid:%d" % __import__("os").getpid())
        """
    ))
    script = textwrap.dedent(
        """
        import os, sys
        sys.path[:0] = [%r, %r]
        from thespian.actors import ActorSystem, ActorExitRequest
        from thespian_trace.testing import configure_otlp_export
        configure_otlp_export(sys.argv[1])
        from rx_actors import Echo
        asys = ActorSystem("multiprocTCPBase", {"Admin Port": int(sys.argv[2])})
        try:
            echo = asys.createActor(Echo)
            reply = asys.ask(echo, "hi", 10)
            assert reply and reply != "pid:%%d" %% os.getpid(), reply
            print(reply)
        finally:
            asys.shutdown()
        """
        % (REPO, str(tmp_path))
    )
    proc = subprocess.Popen([sys.executable, "-c", script, rx.endpoint, str(admin_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    spans = rx.wait_for(lambda s: spans_named(s, "Echo"), timeout=10)
    (echo,) = spans_named(spans, "Echo")
    assert echo.kind == "CONSUMER" and echo.scope == "rx.actors"


# ------------------------------------------------------------------------------------------------
# Unit tests that mock send


class _Order:
    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return type(other) is _Order and other.n == self.n


def _order_desk():
    from thespian_trace import TracedActor

    class OrderDesk(TracedActor):
        """Forwards an order to the kitchen and confirms to the client (the shape of a real handler)."""

        def receiveMsg__Order(self, msg, sender):
            self.traced_send("kitchen", msg)
            self.send(sender, ("confirmed", msg.n))
            self.traced_wakeup_after(5, ("check", msg.n))

    return OrderDesk


def test_a_mocked_send_sees_an_envelope_under_a_sampled_span_and_sent_messages_unwraps_it():
    from unittest.mock import Mock

    from thespian_trace import Envelope

    desk = _order_desk()()
    desk.send = Mock()
    desk.wakeupAfter = Mock()
    with InMemoryTracing() as tracing:
        with tracing.tracer().start_as_current_span("request"):
            desk.receiveMessage(_Order(7), "client")
    first = desk.send.call_args_list[0][0][1]
    assert type(first) is Envelope, "the reason the helper exists: a traced send is wrapped"
    assert tt.sent_messages(desk.send) == [("kitchen", _Order(7)), ("client", ("confirmed", 7))]
    assert tt.unwrap(desk.wakeupAfter.call_args[0][1]) == ("check", 7)

    desk.send.reset_mock()
    desk.receiveMessage(_Order(8), "client")         # no span: bare, the helper changes nothing
    assert desk.send.call_args_list[0][0][1] == _Order(8)
    assert tt.sent_messages(desk.send) == [("kitchen", _Order(8)), ("client", ("confirmed", 8))]


def test_sent_messages_accepts_thespians_keyword_names_and_rejects_a_non_mock():
    from unittest.mock import Mock

    from thespian_trace import Envelope

    send = Mock()
    send(targetAddr="a", msg=Envelope("hi", {"traceparent": "x"}))
    send("b", msg=Envelope(Envelope("nested", None, 3), None, 3))
    assert tt.sent_messages(send) == [("a", "hi"), ("b", "nested")]
    assert tt.unwrap(42) == 42
    with pytest.raises(TypeError, match="mock that replaced send"):
        tt.sent_messages(print)
