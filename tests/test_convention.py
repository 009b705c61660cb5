"""Issue 2 acceptance: one connected trace crosses two multiprocTCPBase systems joined in a Convention.

The leader (``{"Admin Port": p1}``) and a member (``Convention Address.IPv4`` = the leader, plus a
capability) run on loopback, both forked from this process, so their actor processes inherit the OTLP
exporter of the session pipeline (conftest). ``LeaderFront`` on the leader creates ``MemberWorker``,
which ``@requireCapability`` places on the member; an external ``traced_ask`` to ``LeaderFront`` must
yield one trace: ask -> LeaderFront (leader) -> MemberWorker (member) -> LeaderFront (leader) -> reply.
"""
import os
import time

import pytest
from thespian.actors import ActorExitRequest, NoCompatibleSystemForActor

from thespian_trace import traced_ask
from thespian_trace.testing import assert_chain, assert_single_trace, format_tree, spans_named

import convention_actors as ca
from conftest import forked_processes, free_port, reap_leaked

TIMEOUT = 10
CONVENTION_TIMEOUT = 15.0


@pytest.fixture
def no_leaked_processes():
    """After the test (and after make_system's shutdowns): no process forked by it is left behind.

    A leaked process is killed by PID and the test fails. List this fixture BEFORE make_system so it
    is torn down after it.
    """
    before = forked_processes()
    yield
    leaked = reap_leaked(before)
    if leaked:
        pytest.fail("processes left behind after the actor systems shut down (killed): %r" % leaked)


def start_in_env(make_system, name, capabilities):
    """Create a multiprocTCPBase system whose processes see ``TT_SYSTEM_NAME=name``."""
    saved = os.environ.get("TT_SYSTEM_NAME")
    os.environ["TT_SYSTEM_NAME"] = name
    try:
        return make_system("multiprocTCPBase", capabilities)
    finally:
        if saved is None:
            os.environ.pop("TT_SYSTEM_NAME", None)
        else:
            os.environ["TT_SYSTEM_NAME"] = saved


def start_convention(make_system, member_capability, leader_name="leader", member_name="member"):
    """Leader + one member on loopback; returns (leader, member) once the member has registered."""
    p1, p2 = free_port(), free_port()
    leader = start_in_env(make_system, leader_name, {"Admin Port": p1})
    member = start_in_env(make_system, member_name, {
        "Admin Port": p2,
        "Convention Address.IPv4": ("127.0.0.1", p1),
        member_capability: True,
    })
    wait_for_member(leader, member_capability)
    return leader, member


def wait_for_member(leader, capability, timeout=CONVENTION_TIMEOUT):
    """Block (bounded) until the leader's Convention lists a member with ``capability``."""
    registrar = leader.createActor(ca.Registrar)
    try:
        assert leader.ask(registrar, "watch", TIMEOUT) == "watching"
        deadline = time.monotonic() + timeout
        members = []
        while time.monotonic() < deadline:
            members = leader.ask(registrar, "members?", TIMEOUT) or []
            if any(caps.get(capability) for caps in members):
                return members
            time.sleep(0.1)
        raise AssertionError("member with %r did not join the Convention within %.0fs (members: %r)"
                             % (capability, timeout, members))
    finally:
        leader.tell(registrar, ActorExitRequest())


def test_one_trace_crosses_leader_and_member(no_leaked_processes, make_system, spans):
    leader, _member = start_convention(make_system, ca.MEMBER_CAPABILITY)
    front = leader.createActor(ca.LeaderFront)

    answer = traced_ask(leader, front, ca.Request(1), TIMEOUT)
    assert isinstance(answer, ca.Answer), answer
    assert answer.n == 1
    systems = [hop[0] for hop in answer.path]
    assert systems == ["leader", "member"], answer.path
    assert answer.path[0][1] != answer.path[1][1], "leader and member actors share a process"

    names = ["ask Request", "process LeaderFront", "process MemberWorker", "process LeaderFront"]
    got = spans.wait(lambda s: assert_chain(s, names))
    root = spans_named(got, "ask Request")[-1]
    mine = [r for r in got if r.trace_id == root.trace_id]
    assert_single_trace(mine)
    chain = assert_chain(mine, names)
    assert len(mine) == 4, format_tree(mine)
    assert [r.kind for r in chain] == ["PRODUCER", "CONSUMER", "CONSUMER", "CONSUMER"]
    assert [r.attributes.get("tt.system") for r in chain[1:]] == ["leader", "member", "leader"]
    assert [r.attributes.get("messaging.thespian.message.type") for r in chain[1:]] == ["Request", "Request",
                                                                             "Answer"]
    # Different processes and different actor addresses on each side.
    front_span, worker_span = chain[1], chain[2]
    assert front_span.attributes["tt.pid"] != worker_span.attributes["tt.pid"]
    assert front_span.attributes["messaging.thespian.actor.address"] != worker_span.attributes[
        "messaging.thespian.actor.address"]
    assert chain[3].attributes["tt.pid"] == front_span.attributes["tt.pid"]


def test_member_capability_is_required(no_leaked_processes, make_system, spans):
    """Placement really is by capability: without a member, the leader cannot host MemberWorker."""
    leader = start_in_env(make_system, "leader", {"Admin Port": free_port()})
    with pytest.raises(NoCompatibleSystemForActor):
        leader.createActor(ca.MemberWorker)


@pytest.mark.parametrize("order", ["leader-first", "member-first"])
def test_convention_shuts_down_in_either_order_without_hanging(no_leaked_processes, make_system,
                                                               spans, order):
    """Shutting a Convention down must not hang whichever side goes first (make_system would then
    shut each down a second time, which must be harmless too)."""
    import threading
    leader, member = start_convention(make_system, ca.MEMBER_CAPABILITY)
    front = leader.createActor(ca.LeaderFront)
    assert isinstance(traced_ask(leader, front, ca.Request(7), TIMEOUT), ca.Answer)
    for asys in ([leader, member] if order == "leader-first" else [member, leader]):
        t = threading.Thread(target=asys.shutdown, daemon=True)
        started = time.monotonic()
        t.start()
        t.join(20)
        assert not t.is_alive(), "%s: shutdown hung for 20s" % order
        assert time.monotonic() - started < 20
