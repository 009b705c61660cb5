"""Fork safety with the span export thread (issue 15 item 6).

Thespian's multi-process bases fork an actor's children from inside the creating actor's handler,
while the OpenTelemetry SDK's batch export thread of that process may be exporting (Python 3.12+
warns on every such fork that the process is multi-threaded). Stress it: one actor creates hundreds
of children while it keeps its exporter busy; no child may hang, and not one span may be lost (the
SDK re-creates its queue, locks and worker thread in the child; the exporter here opens a new
connection per request, so no pooled socket is shared across the fork).
"""
import pytest

from thespian_trace import traced_ask
from thespian_trace.testing import assert_single_trace, spans_named

import fork_actors as fa
from conftest import MULTIPROC_BASES

NOISE = 5  # spans ended just before each fork


def run_stress(make_system, spans, base, n):
    asys = make_system(base)
    spawner = asys.createActor(fa.Spawner)
    reply = traced_ask(asys, spawner, fa.Spawn(n, NOISE), 240)
    assert reply[:3] == ("done", n, n), reply  # every child answered, each from its own process
    want = {"ask Spawn": 1, "process Spawner": 1 + n, "noise": n * NOISE, "process ForkChild": n}

    def complete(got):
        root = spans_named(got, "ask Spawn")
        if not root:
            return None
        mine = [s for s in got if s.trace_id == root[-1].trace_id]
        counts = {name: len(spans_named(mine, name)) for name in want}
        assert counts == want, counts
        return mine

    mine = complete(spans.wait(complete, timeout=120))
    assert_single_trace(mine)
    children = spans_named(mine, "process ForkChild")
    assert len({s.attributes.get("messaging.thespian.actor.address") or s.span_id for s in children}) == n


@pytest.mark.parametrize("base", MULTIPROC_BASES)
def test_hundreds_of_forks_while_exporting_lose_nothing(base, make_system, spans):
    run_stress(make_system, spans, base, 200)


@pytest.mark.parametrize("base", MULTIPROC_BASES)
def test_forks_while_exporting_quick(base, make_system, spans):
    """The same with 40 children: part of the fast subset that CI runs on every Python."""
    run_stress(make_system, spans, base, 40)
