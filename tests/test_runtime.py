"""The runtime core on every Thespian base: connected traces, normalization, system messages, decorators."""
import pytest
from opentelemetry import trace

from thespian_trace import Envelope, traced_ask, traced_tell
from thespian_trace.testing import assert_chain, assert_single_trace, children_of, spans_named

import tt_actors as ta

TIMEOUT = 10


def _trace_of(records, trace_id):
    return [r for r in records if r.trace_id == trace_id]


def test_three_hop_chain_is_one_trace(base, make_system, spans):
    asys = make_system(base)
    front = asys.createActor(ta.Front)
    reply = traced_ask(asys, front, ta.Ping(3), TIMEOUT)
    assert isinstance(reply, ta.Pong) and reply.n == 3

    got = spans.wait(lambda s: assert_chain(s, ["ask Ping", "process Front", "process Hop"]))
    root = spans_named(got, "ask Ping")[-1]
    mine = _trace_of(got, root.trace_id)
    assert_single_trace(mine)
    chain = assert_chain(mine, ["ask Ping", "process Front", "process Hop"])
    assert [r.kind for r in chain] == ["PRODUCER", "CONSUMER", "CONSUMER"]
    assert len(mine) == 3, "one CONSUMER span per hop, nothing else"
    for rec, cls in zip(chain[1:], ["Front", "Hop"]):
        attrs = rec.attributes
        assert attrs["messaging.system"] == "thespian"
        assert attrs["messaging.operation.type"] == "process"
        assert attrs["messaging.destination.template"] == cls
        assert attrs["messaging.thespian.message.type"] == "Ping"
        assert attrs["messaging.thespian.actor.address"]
        assert rec.status != "ERROR"


def test_bare_enveloped_and_mixed_messages_in_one_mailbox(base, make_system, spans):
    asys = make_system(base)
    rec = asys.createActor(ta.Recorder)
    asys.tell(rec, "bare-1")                                   # untraced sender
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("caller"):
        traced_tell(asys, rec, "traced-1")                     # traced sender, sampled
    asys.tell(rec, Envelope(("raw", 1), {"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-02"}))
    asys.tell(rec, Envelope(42, None, 1000))                   # a fanout marker
    asys.tell(rec, "bare-2")
    seen = asys.ask(rec, "report", TIMEOUT)
    assert [s[0] for s in seen] == ["bare-1", "traced-1", ("raw", 1), 42, "bare-2"]
    assert [s[1] for s in seen] == [False, True, False, False, False]
    assert all("ENVELOPE-LEAKED" not in str(s) for s in seen)


def test_handler_exception_marks_span_and_poison_holds_inner_message(base, make_system, spans):
    asys = make_system(base)
    watcher = asys.createActor(ta.PoisonWatcher)
    with trace.get_tracer("test").start_as_current_span("root"):
        result = traced_ask(asys, watcher, "go", TIMEOUT)
    assert result == ("poison", True, "StartEngine")
    got = spans.wait(lambda s: spans_named(s, "process Crasher") or None)
    crashes = spans_named(got, "process Crasher")
    assert crashes and all(r.status == "ERROR" for r in crashes)
    assert any("exception" in r.event_names() for r in crashes)
    assert "engine on fire" in crashes[0].status_description


def test_dead_envelope_holds_inner_message(base, make_system, spans):
    asys = make_system(base)
    watcher = asys.createActor(ta.DeadLetterWatcher)
    assert asys.ask(watcher, "watch", TIMEOUT) == "watching"
    with trace.get_tracer("test").start_as_current_span("root"):
        asys.tell(watcher, "go")
    result = asys.listen(TIMEOUT)
    assert result == ("dead", True, "StartEngine")


def test_traced_wakeup_continues_trace_with_original_payload(base, make_system, spans):
    asys = make_system(base)
    sleeper = asys.createActor(ta.Sleeper)
    assert traced_ask(asys, sleeper, "nap", TIMEOUT) == ("woke", ("payload", 7), True)
    got = spans.wait(lambda s: len(spans_named(s, "process Sleeper")) >= 2 or None)
    root = spans_named(got, "ask str")[-1]
    mine = _trace_of(got, root.trace_id)
    assert_single_trace(mine)
    wake = [r for r in mine if r.attributes.get("messaging.thespian.delivery") == "wakeup"]
    assert len(wake) == 1 and wake[0].attributes["messaging.thespian.message.type"] == "WakeupMessage"


@pytest.mark.parametrize("worker,tag", [
    (ta.TroupeWorker, "troupe"),
    (ta.TransientWorker, "transient"),
    (ta.TransientIdleWorker, "transient_idle"),
    (ta.PlainWorker, "plain"),
    (ta.MixinWorker, "mixin"),
    (ta.LegacyWorker, "legacy"),
])
def test_decorated_plain_and_legacy_actors_get_unwrapped_messages(base, make_system, spans, worker, tag):
    asys = make_system(base)
    addr = asys.createActor(worker)
    reply = traced_ask(asys, addr, ta.Ping(5), TIMEOUT)
    assert isinstance(reply, ta.Pong), reply
    assert reply.seen[0] == tag
    if tag in ("plain", "mixin", "legacy"):
        assert reply.seen[1] == "Ping"
    # The worker's span is a child of the caller's: one trace.
    want = "process " + worker.__name__

    def worker_span_in_callers_trace(got):
        root = spans_named(got, "ask Ping")[-1]
        return any(r.name == want for r in _trace_of(got, root.trace_id)) or None

    got = spans.wait(worker_span_in_callers_trace)
    assert_single_trace(_trace_of(got, spans_named(got, "ask Ping")[-1].trace_id))


def test_troupe_workers_connect_to_the_senders_trace(base, make_system, spans):
    asys = make_system(base)
    addr = asys.createActor(ta.TroupeWorker)
    replies = [traced_ask(asys, addr, ta.Ping(i), TIMEOUT) for i in range(3)]
    assert [r.n for r in replies] == [0, 1, 2]
    got = spans.wait(lambda s: len(spans_named(s, "ask Ping")) >= 3
                     and len(spans_named(s, "process TroupeWorker")) >= 6 or None)
    for root in spans_named(got, "ask Ping"):
        mine = _trace_of(got, root.trace_id)
        assert_single_trace(mine)
        # manager span -> worker span
        assert_chain(mine, ["ask Ping", "process TroupeWorker", "process TroupeWorker"])


def test_initializing_messages_see_unwrapped_init_messages(base, make_system, spans):
    asys = make_system(base)
    addr = asys.createActor(ta.InitWorker)
    with trace.get_tracer("test").start_as_current_span("setup"):
        traced_tell(asys, addr, ta.Config("cfg-a"))       # enveloped init message
    reply = traced_ask(asys, addr, ta.Ping(9), TIMEOUT)
    assert isinstance(reply, ta.Pong) and reply.seen == ["init", "cfg-a"]


def test_start_traces_actor_starts_root_for_bare_message(base, make_system, spans):
    asys = make_system(base)
    addr = asys.createActor(ta.RootStarter)
    reply = asys.ask(addr, ta.Ping(1), TIMEOUT)    # bare, from an untraced caller
    assert isinstance(reply, ta.Pong)
    got = spans.wait(lambda s: spans_named(s, "process RootStarter") or None)
    roots = spans_named(got, "process RootStarter")
    assert len(roots) == 1 and roots[0].parent_span_id is None


def test_ambient_caller_span_does_not_leak_into_actors(make_system, spans):
    """simpleSystemBase runs actors on the caller's thread: a bare tell must not join the caller's span."""
    asys = make_system("simpleSystemBase")
    rec = asys.createActor(ta.Recorder)
    with trace.get_tracer("test").start_as_current_span("caller"):
        asys.tell(rec, "bare-under-span")
        seen = asys.ask(rec, "report", TIMEOUT)
    assert seen == [("bare-under-span", False)]


def test_exited_children_are_forgotten_and_handlers_still_see_child_actor_exited(base, make_system, spans):
    asys = make_system(base)
    parent = asys.createActor(ta.Parent)
    assert asys.ask(parent, "go", TIMEOUT) == ("exited", True, 2)


def test_control_message_inside_a_fanout_marker_is_consumed_not_handled(base, make_system, spans):
    from thespian_trace import SetTraceMode, TraceModeChanged
    asys = make_system(base)
    rec = asys.createActor(ta.Recorder)
    asys.tell(rec, Envelope(SetTraceMode("on"), None, 5))     # as traced_fanout would send it
    reply = asys.listen(TIMEOUT)
    assert isinstance(reply, TraceModeChanged) and reply.mode == "on"
    assert asys.ask(rec, "report", TIMEOUT) == []


def test_plain_actor_subclass_chain_keeps_the_trace_without_the_hook(make_system, spans):
    """With the hook off, only the outermost receiveMessage wrapper normalizes; super() keeps the span."""
    from thespian_trace import hook
    hook.uninstall()
    try:
        asys = make_system("simpleSystemBase")
        addr = asys.createActor(ta.ChainChild)
        reply = traced_ask(asys, addr, ta.Ping(4), TIMEOUT)
    finally:
        hook.install()
    assert isinstance(reply, ta.Pong) and reply.seen == ["base", True]
    got = spans.wait(lambda s: spans_named(s, "process ChainChild") or None)
    assert len(spans_named(got, "process ChainChild")) == 1


def test_unsampled_recording_root_of_traced_ask_is_ended(make_system, spans):
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class RecordOnly(Sampler):
        def should_sample(self, *args, **kwargs):
            return SamplingResult(Decision.RECORD_ONLY)

        def get_description(self):
            return "RecordOnly"

    class Open(SpanProcessor):
        def __init__(self):
            self.open = set()
            self.active = True

        def on_start(self, span, parent_context=None):
            if self.active:
                self.open.add(span.context.span_id)

        def on_end(self, span):
            self.open.discard(span.context.span_id)

    tracker = Open()
    trace.get_tracer_provider().add_span_processor(tracker)
    try:
        spans.tracing.set_sampler(RecordOnly())
        asys = make_system("simpleSystemBase")
        assert isinstance(traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), TIMEOUT), ta.Pong)
        assert tracker.open == set(), "spans started but never ended"
    finally:
        tracker.active = False


ROOT_WORKERS = [(ta.PlainRootWorker, "plain"), (ta.MixinRootWorker, "mixin"),
                (ta.MixinDispatchRootWorker, "mixin-dispatch"),
                (ta.TransientMixinRootWorker, "transient-mixin")]


@pytest.mark.parametrize("worker,tag", ROOT_WORKERS, ids=[t for _, t in ROOT_WORKERS])
def test_mixin_and_plain_actor_start_roots_alike(base, make_system, spans, worker, tag):
    """Issue 16 item 10: TracedActorMixin on a plain Actor starts roots exactly like TracedPlainActor."""
    asys = make_system(base)
    addr = asys.createActor(worker)
    reply = asys.ask(addr, ta.Ping(1), TIMEOUT)                 # bare, from an untraced caller
    assert reply.seen == [tag, "Ping", True], reply.seen
    want = "process " + worker.__name__
    got = spans.wait(lambda s: spans_named(s, want) or None)
    (root,) = spans_named(got, want)
    assert root.parent_span_id is None


WORKERS_WITHOUT_HOOK = [(ta.PlainWorker, "plain"), (ta.MixinWorker, "mixin"),
                        (ta.MixinDispatchWorker, "mixin-dispatch"), (ta.Front, None)]


@pytest.mark.parametrize("worker,tag", WORKERS_WITHOUT_HOOK, ids=[w.__name__ for w, _ in WORKERS_WITHOUT_HOOK])
def test_mixin_and_plain_actor_normalize_alike_without_the_hook(base, make_system, spans, worker, tag):
    """Issue 16 item 10: where the receive hook is not installed, the mixin normalizes too (on the
    multi-process bases the actor system forks while it is out, so its actor processes lack it)."""
    from thespian_trace import hook
    hook.uninstall()
    try:
        asys = make_system(base)
        addr = asys.createActor(worker)
        reply = traced_ask(asys, addr, ta.Ping(2), TIMEOUT)
    finally:
        hook.install()
    assert isinstance(reply, ta.Pong), reply
    if tag is not None:
        assert reply.seen == [tag, "Ping"]
    got = spans.wait(lambda s: spans_named(s, "process " + worker.__name__) or None)
    assert_single_trace(_trace_of(got, spans_named(got, "ask Ping")[-1].trace_id))


@pytest.mark.parametrize("traced", [False, True], ids=["bare", "enveloped"])
def test_thespians_debug_line_is_still_written_on_simple_system_base(make_system, spans, traced):
    """The hook replaces simpleSystemBase's ``actor_base_receive`` (issue 11); Thespian's own debug line
    for each delivery ('Actor "..." got message "..."') must still reach a user who logs Thespian at
    DEBUG, for bare and enveloped messages alike (the message as the handler sees it)."""
    import logging

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("Thespian")
    handler, level = Keep(), logger.level
    asys = make_system("simpleSystemBase")
    recorder = asys.createActor(ta.Recorder)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        msg = ta.Ping(7)
        if traced:
            with trace.get_tracer("t").start_as_current_span("edge"):
                traced_tell(asys, recorder, msg)
        else:
            asys.tell(recorder, msg)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    got = [r for r in records if r.startswith("Actor ") and "got message" in r and "Ping" in r]
    assert len(got) == 1, records
    assert "Envelope" not in got[0], got[0]
