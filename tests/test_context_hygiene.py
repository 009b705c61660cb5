"""Context hygiene: every delivery runs under the carrier's context or an empty one, never an inherited one.

The bug these guard (issue 16 item 1): on the multi-process bases an actor created inside a traced
handler was forked with that handler's span current, and the bare-message path never cleared it, so
every later untraced message the child handled, and every span its handlers opened, joined the
creator's long-finished trace; a ``start_traces`` child never started a root.
"""
import pytest
from opentelemetry import trace

from thespian_trace import traced_ask, traced_tell
from thespian_trace.testing import spans_named

import hygiene_actors as ha

TIMEOUT = 15


def _spawn(asys, cls):
    """Create a worker of ``cls`` inside the Coordinator's traced handler; (child, creator ids)."""
    coordinator = asys.createActor(ha.Coordinator)
    spawned = traced_ask(asys, coordinator, ha.Spawn(cls), TIMEOUT)
    assert isinstance(spawned, ha.Spawned), spawned
    assert spawned.creator_ids is not None, "the creator's handler must have run under a sampled span"
    return spawned.child, spawned.creator_ids


def _not_under(records, creator_ids):
    """No span in ``records`` belongs to the creator's trace (its handler ended long ago)."""
    creator_trace, creator_span = creator_ids
    bad = [r for r in records if r.trace_id == creator_trace and r.name.split()[0] != "ask"
           and r.name not in ("process Coordinator",)]
    assert not bad, "spans joined the creator's finished trace: %r" % [
        (r.name, r.parent_span_id) for r in bad]
    assert not [r for r in records if r.parent_span_id == creator_span and r.name != "process Coordinator"]


def test_worker_created_in_a_traced_handler_runs_untraced_messages_without_its_context(
        base, make_system, spans):
    asys = make_system(base)
    child, creator = _spawn(asys, ha.Worker)
    got = asys.ask(child, ha.Fetch("client", "GET"), TIMEOUT)          # untraced
    assert isinstance(got, ha.Fetched), got
    assert got.seen["init"] is None, "__init__ ran under the creator's span"
    assert got.seen["handler"] is None, "an untraced message ran under an inherited span"
    client_trace, client_span = got.seen["client"]
    assert client_trace != creator[0]

    records = spans.wait(lambda s: spans_named(s, "GET") and spans_named(s, "warm-up Worker") or None)
    (get,) = spans_named(records, "GET")
    assert get.parent_span_id is None and get.kind == "CLIENT", "the handler's own span must be a root"
    (warm,) = spans_named(records, "warm-up Worker")
    assert warm.parent_span_id is None and warm.trace_id != creator[0]
    _not_under(records, creator)


def test_start_traces_worker_created_in_a_traced_handler_starts_a_root(base, make_system, spans):
    asys = make_system(base)
    child, creator = _spawn(asys, ha.RootWorker)
    got = asys.ask(child, ha.Fetch("client", "GET"), TIMEOUT)
    assert isinstance(got, ha.Fetched), got
    assert got.seen["handler"] is not None, "a start_traces actor must start a root for a bare message"
    assert got.seen["handler"][0] != creator[0]

    records = spans.wait(lambda s: spans_named(s, "process RootWorker") and spans_named(s, "GET") or None)
    (root,) = spans_named(records, "process RootWorker")
    assert root.parent_span_id is None and root.trace_id == got.seen["handler"][0]
    (get,) = spans_named(records, "GET")
    assert get.parent_span_id == root.span_id, "the client span belongs under the handler that made it"
    _not_under(records, creator)


def test_traced_message_to_such_a_worker_continues_the_senders_trace_only(base, make_system, spans):
    asys = make_system(base)
    child, creator = _spawn(asys, ha.Worker)
    with trace.get_tracer("test").start_as_current_span("request") as request:
        got = traced_ask(asys, child, ha.Fetch("client", "GET"), TIMEOUT)
        request_trace = format(request.get_span_context().trace_id, "032x")
    assert got.seen["handler"][0] == request_trace
    records = spans.wait(lambda s: spans_named(s, "GET") or None)
    (get,) = spans_named(records, "GET")
    (process,) = [r for r in spans_named(records, "process Worker") if r.trace_id == request_trace]
    assert get.parent_span_id == process.span_id
    _not_under(records, creator)


@pytest.mark.parametrize("traced", [False, True], ids=["untraced-request", "traced-request"])
def test_plain_wakeup_runs_under_an_empty_context(base, make_system, spans, traced):
    """A ``wakeupAfter`` (not traced) fires after the handler ended: nothing may be parented to it."""
    asys = make_system(base)
    child, creator = _spawn(asys, ha.Worker)
    if traced:
        with trace.get_tracer("test").start_as_current_span("request"):
            got = traced_ask(asys, child, ha.Fetch("wakeup", "GET"), TIMEOUT)
    else:
        got = asys.ask(child, ha.Fetch("wakeup", "GET"), TIMEOUT)
    assert isinstance(got, ha.Fetched), got
    assert got.seen["wakeup_handler"] is None, got.seen
    records = spans.wait(lambda s: spans_named(s, "GET") or None)
    (get,) = spans_named(records, "GET")
    assert get.parent_span_id is None
    _not_under(records, creator)


def test_traced_wakeup_continues_the_handlers_trace(base, make_system, spans):
    asys = make_system(base)
    child, creator = _spawn(asys, ha.Worker)
    with trace.get_tracer("test").start_as_current_span("request"):
        got = traced_ask(asys, child, ha.Fetch("traced_wakeup", "GET"), TIMEOUT)
    handler, wakeup = got.seen["handler"], got.seen["wakeup_handler"]
    assert wakeup is not None and wakeup[0] == handler[0] != creator[0]
    records = spans.wait(lambda s: len(spans_named(s, "process Worker")) >= 2 and spans_named(s, "GET")
                         or None)
    (get,) = spans_named(records, "GET")
    assert get.parent_span_id == wakeup[1]
    _not_under(records, creator)


def test_thread_pool_in_a_handler(base, make_system, spans):
    """Pool threads start empty; ``contextvars.copy_context().run`` carries the handler's context."""
    asys = make_system(base)
    child, creator = _spawn(asys, ha.Worker)
    with trace.get_tracer("test").start_as_current_span("request"):
        got = traced_ask(asys, child, ha.Fetch("pool", "query"), TIMEOUT)
    handler = got.seen["handler"]
    assert handler is not None and handler[0] != creator[0]
    assert got.seen["pool_carried"][0] == handler[0]
    assert got.seen["pool_bare"][0] not in (handler[0], creator[0])
    records = spans.wait(lambda s: spans_named(s, "query") and spans_named(s, "query bare") or None)
    (carried,) = spans_named(records, "query")
    assert carried.parent_span_id == handler[1]
    (bare,) = spans_named(records, "query bare")
    assert bare.parent_span_id is None
    _not_under(records, creator)


def test_actor_created_by_an_external_caller_inside_a_span_starts_empty(base, make_system, spans):
    """``asys.createActor`` (and ``ActorSystem(...)`` itself) called under a span: the actor never sees it."""
    with trace.get_tracer("test").start_as_current_span("main"):
        asys = make_system(base)
        idle = asys.createActor(ha.Idle)
        traced_tell(asys, idle, "poke")       # traced: runs under the carrier, fine
    reply = asys.ask(idle, "state", TIMEOUT)
    assert reply == ("init", None, "now", None)


def test_a_context_left_attached_by_a_handler_does_not_reach_the_next_message(base, make_system, spans):
    asys = make_system(base)
    leaky = asys.createActor(ha.Leaky)
    assert asys.ask(leaky, "leak", TIMEOUT) is not None      # the leaking handler saw its own span
    assert asys.ask(leaky, "state", TIMEOUT) is None
