"""Fork safety with the span export thread (issue 15 item 6).

Thespian's multi-process bases fork an actor's children from inside the creating actor's handler,
while the OpenTelemetry SDK's batch export thread of that process may be in the middle of an export
(Python 3.12+ warns on every such fork that the process is multi-threaded). The SDK re-creates its
queue, locks and worker thread in the child; what it cannot re-create are the locks of the HTTP
client the exporter uses, which a child inherits held if the fork landed mid-request. The session
pipeline (testing.configure_otlp_export) gives the exporter a thespian_trace.forksafe.ForkSafeSession, the set-up the
failure-modes doc recommends; these tests stress it and show what it prevents.
"""
import os
import signal
import threading
import time
import warnings

import pytest
import requests

from thespian_trace import traced_ask
from thespian_trace.testing import OTLPReceiver, assert_single_trace, spans_named

import fork_actors as fa
from conftest import MULTIPROC_BASES
from thespian_trace.forksafe import ForkSafeSession

NOISE = 5  # spans ended just before each fork


def run_stress(make_system, spans, base, n):
    asys = make_system(base)
    spawner = asys.createActor(fa.Spawner)
    reply = traced_ask(asys, spawner, fa.Spawn(n, NOISE), 240)
    assert reply[:3] == ("done", n, n), reply[:4]  # every child answered, each from its own process
    want = {"ask Spawn": 1, "process Spawner": 1 + n, "noise": n * NOISE, "process ForkChild": n}

    def complete(got):
        root = spans_named(got, "ask Spawn")
        if not root:
            return None
        mine = [s for s in got if s.trace_id == root[-1].trace_id]
        counts = {name: len(spans_named(mine, name)) for name in want}
        missing = sorted(set(range(n)) - {s.attributes.get("tt.i")
                                          for s in spans_named(mine, "process ForkChild")})
        assert counts == want, (counts, "children without a span: %r" % missing[:20])
        return mine

    mine = complete(spans.wait(complete, timeout=120))
    assert_single_trace(mine)


@pytest.mark.parametrize("base", MULTIPROC_BASES)
def test_hundreds_of_forks_while_exporting_lose_nothing(base, make_system, spans):
    run_stress(make_system, spans, base, 200)


@pytest.mark.parametrize("base", MULTIPROC_BASES)
def test_forks_while_exporting_quick(base, make_system, spans):
    """The same with 40 children: part of the fast subset that CI runs on every Python."""
    run_stress(make_system, spans, base, 40)


def _request_in_child_forked_while_another_thread_holds_the_pool_lock(session, url):
    """Fork while a thread (as the export thread mid-request would) holds the session's urllib3 pool
    lock; the child then makes a request. Returns the child's exit code, or None if it hung."""
    session.get(url, timeout=5)  # the pool exists, as after the first export
    lock = session.get_adapter(url).poolmanager.pools.lock
    held, release = threading.Event(), threading.Event()

    def holder():
        with lock:
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    held.wait(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() of a threaded process
        pid = os.fork()
    if pid == 0:  # the child: one request, then leave without running the parent's cleanup
        code = 1
        try:
            code = 0 if session.get(url, timeout=5).status_code == 200 else 2
        finally:
            os._exit(code)
    release.set()
    deadline = time.monotonic() + 4  # a healthy child answers in milliseconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") \
                else status >> 8
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.parametrize("make_session,expected", [
    (ForkSafeSession, 0),            # the child starts with fresh pools: its request goes through
    (requests.Session, None),        # the child blocks on a lock no thread of its will ever release
], ids=["ForkSafeSession", "requests.Session"])
def test_a_child_forked_mid_request_can_still_export(make_session, expected):
    with OTLPReceiver() as rx:
        assert _request_in_child_forked_while_another_thread_holds_the_pool_lock(
            make_session(), rx.endpoint + "/") == expected
