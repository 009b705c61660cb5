"""Handler failures and process faults (issue 7, items 2 and 4).

* A handler that raises: its span is ERROR with the exception recorded, and Thespian's retry and
  PoisonMessage return happen exactly as without tracing (same number of handler invocations, the
  sender's PoisonMessage holds the inner message), on every base.
* An actor process killed with SIGKILL in the middle of a traced handler: its parent gets
  ChildActorExited, every other actor keeps answering traced asks, and their spans are exported.
  Actors that exit normally (ActorExitRequest) have their spans flushed to the OTLP receiver.
"""
import os
import signal
import time

import pytest
from opentelemetry import trace

from thespian_trace import traced_ask, traced_tell
from thespian_trace.testing import spans_named

import reliability_actors as ra

TIMEOUT = 10


# --------------------------------------------------------------------------------------------------
# Item 2: handler failures


def _run_failure(asys, failer_cls, traced):
    driver = asys.createActor(ra.FailDriver)
    if traced:
        with trace.get_tracer("test").start_as_current_span("root"):
            return traced_ask(asys, driver, ("go", failer_cls, True), TIMEOUT)
    return asys.ask(driver, ("go", failer_cls, False), TIMEOUT)


def test_failure_semantics_identical_with_and_without_tracing(base, make_system, spans):
    asys = make_system(base)
    untraced = _run_failure(asys, ra.BareFailer, traced=False)       # plain Thespian baseline
    traced = _run_failure(asys, ra.TracedFailer, traced=True)        # TracedActor, traced message
    legacy = _run_failure(asys, ra.BareFailer, traced=True)          # not migrated, traced message
    assert untraced is not None and untraced[:3] == ("poison", "Boom", 7), untraced
    invocations = untraced[3]
    assert invocations >= 1
    # Same number of handler invocations (Thespian's retry), same PoisonMessage contents.
    assert traced == untraced, (traced, untraced)
    assert legacy == untraced, (legacy, untraced)

    got = spans.wait(lambda s: spans_named(s, "process TracedFailer")
                     and spans_named(s, "process BareFailer") or None)
    for name in ("process TracedFailer", "process BareFailer"):
        failed = spans_named(got, name)
        assert failed, name
        for rec in failed:
            assert rec.status == "ERROR", rec
            assert "boom 7" in (rec.status_description or "")
            assert rec.end_ns, "the span always ends"
            exc_events = [attrs for ev, attrs in rec.events if ev == "exception"]
            assert exc_events and exc_events[0]["exception.type"] == "RuntimeError"
            assert "boom 7" in exc_events[0]["exception.message"]
        # Every invocation is recorded: as a span each, or as an exception event each on one span.
        assert sum(max(1, len([e for e in r.events if e[0] == "exception"])) for r in failed) \
            >= invocations


def test_failing_handler_does_not_break_the_actor(base, make_system, spans):
    """After a PoisonMessage the same actor still handles traced messages (and they are not ERROR)."""
    asys = make_system(base)
    driver = asys.createActor(ra.FailDriver)
    with trace.get_tracer("test").start_as_current_span("root"):
        first = traced_ask(asys, driver, ("go", ra.TracedFailer, True), TIMEOUT)
    assert first[:3] == ("poison", "Boom", 7)
    with trace.get_tracer("test").start_as_current_span("again"):
        again = traced_ask(asys, driver, ("result",), TIMEOUT)
    assert again == first


# --------------------------------------------------------------------------------------------------
# Item 4: process faults (multiprocTCPBase)


def _wait_exited(asys, sup, name, timeout=15.0):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = asys.ask(sup, ("exited",), TIMEOUT)
        if seen and name in seen:
            return seen
        time.sleep(0.1)
    raise AssertionError("no ChildActorExited for %s within %.0fs (exited: %r)" % (name, timeout, seen))


def _alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return True


def test_actor_killed_mid_trace_leaves_system_working_and_spans_exported(make_system, spans):
    asys = make_system("multiprocTCPBase")
    sup = asys.createActor(ra.Supervisor)
    victim = asys.ask(sup, ("spawn", "victim", ra.Victim), TIMEOUT)
    survivor = asys.ask(sup, ("spawn", "survivor", ra.Survivor), TIMEOUT)
    assert victim is not None and survivor is not None
    victim_pid = asys.ask(victim, "pid", TIMEOUT)
    survivor_pid = asys.ask(survivor, "pid", TIMEOUT)
    assert isinstance(victim_pid, int) and victim_pid not in (os.getpid(), survivor_pid)
    try:
        with trace.get_tracer("test").start_as_current_span("doomed") as doomed:
            doomed_trace = format(doomed.get_span_context().trace_id, "032x")
            traced_tell(asys, victim, ("sleep", 5))        # a traced handler that is still running...
        time.sleep(0.5)
        os.kill(victim_pid, signal.SIGKILL)                 # ...when its process is killed
    finally:
        if _alive(victim_pid):
            try:
                os.kill(victim_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # (Thespian 4.0.1 itself sometimes delivers ChildActorExited twice for one child, traced or not.)
    assert set(_wait_exited(asys, sup, "victim")) == {"victim"}

    # The rest of the system keeps working: traced asks are answered, in one trace each.
    tracer = trace.get_tracer("test")
    roots = []
    for i in range(5):
        with tracer.start_as_current_span("after-kill-%d" % i) as root:
            roots.append(format(root.get_span_context().trace_id, "032x"))
            assert traced_ask(asys, survivor, ("ping", i), TIMEOUT) == ("pong", i, True)
    # The supervisor can still create children, and a Victim whose handler completes is traced.
    fresh = asys.ask(sup, ("spawn", "victim2", ra.Victim), TIMEOUT)
    with tracer.start_as_current_span("fresh-victim") as root:
        fresh_trace = format(root.get_span_context().trace_id, "032x")
        assert traced_ask(asys, fresh, ("ping", 9), TIMEOUT)[:2] == ("pong", 9)

    def victim_spans(s, trace_id):
        return [r for r in spans_named(s, "process Victim") if r.trace_id == trace_id]

    got = spans.wait(lambda s: (len(spans_named(s, "process Survivor")) >= 5
                                and victim_spans(s, fresh_trace)) or None)
    survivor_spans = spans_named(got, "process Survivor")
    assert {r.trace_id for r in survivor_spans} >= set(roots)
    assert all(r.status != "ERROR" for r in survivor_spans)
    # The killed handler's span ends only when its handler returns, which it never did: no span of
    # the doomed trace left the victim's process (its batch processor exports within 0.1 s of an end,
    # long before the kill), while the completed handler's span of the same class arrived above.
    assert victim_spans(got, fresh_trace)
    assert victim_spans(got, doomed_trace) == [], victim_spans(got, doomed_trace)


def test_spans_of_actor_exiting_normally_are_flushed(make_system, spans):
    asys = make_system("multiprocTCPBase")
    sup = asys.createActor(ra.Supervisor)
    quitter = asys.ask(sup, ("spawn", "quitter", ra.Quitter), TIMEOUT)
    n = 20
    with trace.get_tracer("test").start_as_current_span("before-exit") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        for i in range(n):
            traced_tell(asys, quitter, ("ping", i))
    asys.tell(sup, ("stop", "quitter"))                    # ActorExitRequest right behind them
    assert set(_wait_exited(asys, sup, "quitter")) == {"quitter"}
    got = spans.wait(lambda s: len([r for r in spans_named(s, "process Quitter")
                                    if r.trace_id == trace_id]) >= n or None)
    mine = [r for r in spans_named(got, "process Quitter") if r.trace_id == trace_id]
    assert len(mine) == n
