"""Data-stack headroom (``thespian_trace._stack``): a message loop must not sit on a chunk boundary.

On CPython 3.11+ a call chain that crosses a 16 KiB data-stack chunk boundary maps and unmaps a chunk
on every crossing; an actor process whose message path did so paid about 60 us of system time per
message on multiprocTCPBase (make bench, group ``metrics``). The hook starts actor processes and the
Admin with about 30 KB of headroom.
"""
import os
import sys

import pytest
from thespian.actors import ActorSystem

from thespian_trace import _stack

import stack_actors as sa
from conftest import LOG_DEFS

TIMEOUT = 20

#: CPython 3.11 and 3.12 map and unmap a chunk at every crossing and were never fixed. 3.13 stopped in
#: a patch release (gh-142183, backport gh-146123) and later versions should not churn: there the probe
#: decides whether the tests below can see anything.
KNOWN_TO_CHURN = sys.implementation.name == "cpython" and sys.version_info[:2] in ((3, 11), (3, 12))
CHURNS = _stack.NEEDED and (KNOWN_TO_CHURN or bool(sa.chunk_crossings()))

cliff = pytest.mark.skipif(not CHURNS, reason="this interpreter does not map a data-stack chunk per "
                                              "crossing (no data stack, or CPython gh-142183 fixed)")


@pytest.mark.skipif(not KNOWN_TO_CHURN, reason="only CPython 3.11 and 3.12 are known to churn")
def test_the_probe_sees_the_cliff_without_headroom():
    assert sa.chunk_crossings(), "no pad crossed a chunk boundary: the probe cannot see the cliff"


@cliff
def test_no_chunk_crossing_under_headroom():
    assert _stack.call_with_headroom(sa.chunk_crossings) == []


def test_call_with_headroom_passes_arguments_results_and_exceptions():
    assert _stack.call_with_headroom(lambda a, b=0: (a, b), 1, b=2) == (1, 2)

    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        _stack.call_with_headroom(boom)
    start = _stack.with_headroom(sa.chunk_crossings)
    assert start.__name__ == "chunk_crossings"  # spawn pickles the target by name


@cliff
@pytest.mark.parametrize("base", ["multiprocQueueBase", "multiprocTCPBase"])
def test_actor_processes_run_their_loop_with_headroom(base, make_system):
    asys = make_system(base)
    probe = asys.createActor(sa.Probe)
    assert asys.ask(probe, "probe", TIMEOUT) == []
    bare = asys.createActor(sa.BareProbe)
    assert asys.ask(bare, "probe", TIMEOUT) == []
    # Forked inside a handler (as a ponger created by its pinger), and far down one: a fork inherits
    # its creator's stack, so only the child's own fresh chunk gives it the headroom.
    spawner = asys.createActor(sa.Spawner)
    for how in ("spawn", "spawn deep"):
        child = asys.ask(spawner, how, TIMEOUT)
        assert asys.ask(child, "probe", TIMEOUT) == [], how


def _bench_common():
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks import common
    return common


@cliff
def test_the_admin_relays_asks_with_headroom_whatever_depth_its_system_was_started_at():
    """The Admin forks at the depth of the ``ActorSystem()`` call and relays every external ask on
    multiprocQueueBase. Started from 13 depths 8 frames apart (more than one chunk), the Admin's
    process must not fault on every relayed ask at any of them: without ``startAdmin``'s headroom
    one depth here gave it 12 minor faults per ask, the others 0.1 to 0.9."""
    faults = {}
    for pad in range(0, 100, 8):
        made = {}

        def start():
            made["asys"] = ActorSystem("multiprocQueueBase", {}, logDefs=LOG_DEFS, transientUnique=True)

        sa._at_depth(pad, start)
        asys = made["asys"]
        try:
            echo = asys.createActor(sa.Echo)
            _, admin = asys.ask(echo, "pids", TIMEOUT)

            def admin_faults():
                with open("/proc/%d/stat" % admin, "rb") as f:
                    raw = f.read()
                return int(raw[raw.rfind(b")") + 2:].split()[7])  # minflt

            before = admin_faults()
            for _ in range(100):
                assert asys.ask(echo, "x", TIMEOUT) == "x"
            faults[pad] = (admin_faults() - before) / 100
        finally:
            asys.shutdown()
    assert all(per_ask < 3 for per_ask in faults.values()), faults


@cliff
def test_benchmarks_start_bare_systems_with_the_same_headroom():
    """``benchmarks/common.start_system`` with the hook out (a bench's bare side) gives the actors the
    headroom the hook gives traced ones (the Admin's too), so bare-vs-traced rows do not measure a
    chunk boundary."""
    from thespian.system import multiprocCommon as mpc

    from thespian_trace import hook

    common = _bench_common()
    asys = None
    hook.uninstall()
    originals = (mpc.startChild, mpc.startAdmin)
    try:
        with common._headroom_for_bare("multiprocQueueBase"):
            assert mpc.startChild is not originals[0] and mpc.startAdmin is not originals[1]
        assert (mpc.startChild, mpc.startAdmin) == originals
        asys = common.start_system("multiprocQueueBase")
    finally:
        hook.install()
    try:
        probe = asys.createActor(sa.BareProbe)
        assert asys.ask(probe, "probe", TIMEOUT) == []
    finally:
        common.shutdown(asys)
