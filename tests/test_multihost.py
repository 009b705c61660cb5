"""A Convention across three hosts (network namespaces), with faults between them.

Host a runs the Convention leader and the edge that calls ``traced_ask``; b and c are members whose
actors the Convention creates there by capability; d runs the OTLP collector. Each host is its own
process with its own ``service.name``/``host.name`` (netbed.py, netbed_host.py, netbed_actors.py).

Every test checks that every message was handled exactly once (each actor counts per request) and
that every sampled request's spans form one connected trace across the hosts, with exactly the
spans expected on each host. Skipped, with the reason, where network namespaces cannot be made.
"""
import collections
import threading
import time

import pytest

from thespian_trace.testing import assert_chain, assert_single_trace, format_tree

import netbed

pytestmark = pytest.mark.multihost

STEADY = [("edge steady", "host-a"), ("process Entry", "host-b"), ("process Worker", "host-c"),
          ("process Sink", "host-a")]
FANOUT = ([("edge fanout", "host-a"), ("process Fanner", "host-b"), ("fanout Fan", "host-b")]
          + [("process FanWorkerB", "host-b")] * 4 + [("process FanWorkerC", "host-c")] * 4
          + [("process Fanner", "host-b")] * 8)


@pytest.fixture(scope="module")
def cluster():
    """One bed for the tests that leave it as they found it (every cable healed)."""
    with netbed.running_cluster() as started:
        yield started


def later(delay, action, *args):
    timer = threading.Timer(delay, action, args)
    timer.start()
    return timer


def assert_replies(records, run, n, kind="steady"):
    """The edge got exactly one right answer to each of its n asks."""
    assert [r["seq"] for r in records] == list(range(n))
    for r in records:
        assert r["reply_run"] == run and r["reply_seq"] == r["seq"], r
        assert r["reply"] == ("Accepted" if kind == "steady" else "FanDone"), r
        if kind == "fanout":
            assert r["hosts"] == ["b"] * 4 + ["c"] * 4, r


def assert_handled_once(cluster, run, n, labels):
    """Each actor in ``labels`` handled each of the run's n requests exactly once."""
    want = {"%s:%d" % (run, i): 1 for i in range(n)}
    reports = cluster.leader.call("reports", labels=labels)
    for label, report in reports.items():
        mine = {k: v for k, v in report["handled"].items() if k.startswith(run + ":")}
        assert mine == want, "%s on %s: %r" % (label, report["host"], {
            k: v for k, v in mine.items() if v != 1} or sorted(set(want) - set(mine)))
    return reports


def shape(spans):
    return collections.Counter((s.name, s.resource.get("host.name")) for s in spans)


def wait_traces(cluster, records, expected, timeout=60.0):
    """Wait until the trace of every record has exactly the spans ``expected(record, spans)`` returns
    (a list of (span name, host.name)) and forms one connected tree; return {seq: spans}."""
    deadline = time.monotonic() + timeout
    while True:
        cluster.flush()
        by_trace = collections.defaultdict(list)
        for span in cluster.spans():
            by_trace[span.trace_id].append(span)
        problems, out = [], {}
        for r in records:
            spans = by_trace.get(r["trace_id"], [])
            want = collections.Counter(expected(r, spans))
            if shape(spans) != want:
                problems.append("seq %d: have %s, want %s" % (r["seq"], dict(shape(spans)), dict(want)))
                continue
            try:
                assert_single_trace(spans)
            except AssertionError as exc:
                problems.append("seq %d: %s" % (r["seq"], exc))
                continue
            out[r["seq"]] = spans
        if not problems:
            return out
        if time.monotonic() > deadline:
            worst = by_trace.get(records[int(problems[0].split(":")[0].split()[1])]["trace_id"], [])
            raise AssertionError("%d of %d traces incomplete or disconnected after %.0fs, e.g.\n%s\n%s"
                                 % (len(problems), len(records), timeout, "\n".join(problems[:5]),
                                    format_tree(worst)))
        time.sleep(0.5)


def only(spans, name):
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, format_tree(spans))
    return found[0]


def test_steady_traffic_and_fanouts_cross_three_hosts(cluster):
    assert cluster.placement == {"sink": "a", "entry": "b", "worker": "c", "fanner": "b",
                                 **{"fan%d" % i: "b" for i in range(4)},
                                 **{"fan%d" % i: "c" for i in range(4, 8)}}
    steady = cluster.leader.call("traffic", run="steady", n=40, interval=0.02)
    fanout = cluster.leader.call("traffic", run="fan", n=10, interval=0.05, kind="fanout")
    assert_replies(steady, "steady", 40)
    assert_replies(fanout, "fan", 10, kind="fanout")
    cluster.leader.call("wait_handled", label="sink", run="steady", n=40)
    assert_handled_once(cluster, "steady", 40, ["entry", "worker", "sink"])
    assert_handled_once(cluster, "fan", 10, ["fanner"] + ["fan%d" % i for i in range(8)])

    traces = wait_traces(cluster, steady, lambda r, s: STEADY)
    for spans in traces.values():
        chain = assert_chain(spans, [name for name, _ in STEADY])
        assert [s.resource["service.name"] for s in chain] == ["netbed-a", "netbed-b", "netbed-c",
                                                               "netbed-a"]
    fans = wait_traces(cluster, fanout, lambda r, s: FANOUT)
    for spans in fans.values():
        for worker in ("process FanWorkerB", "process FanWorkerC"):
            assert_chain(spans, ["edge fanout", "process Fanner", "fanout Fan", worker,
                                 "process Fanner"])
        assert only(spans, "fanout Fan").attributes["messaging.batch.message_count"] == 8


def test_partition_of_c_heals_and_nothing_is_lost_or_doubled(cluster):
    """C is cut off for 3 s while traffic flows; Thespian holds B's sends to C and delivers them
    after the heal: each exactly once, each in its request's trace."""
    n, interval, cut_at, heal_at = 50, 0.1, 1.0, 4.0
    timers = [later(cut_at, cluster.bed.cut, "c"), later(heal_at, cluster.bed.heal, "c")]
    try:
        records = cluster.leader.call("traffic", run="part", n=n, interval=interval, timeout=30)
    finally:
        for t in timers:
            t.join()
        cluster.bed.heal("c")
    assert_replies(records, "part", n)  # B never stopped answering the edge
    cluster.leader.call("wait_handled", label="sink", run="part", n=n, timeout=90)
    assert_handled_once(cluster, "part", n, ["entry", "worker", "sink"])
    traces = wait_traces(cluster, records, lambda r, s: STEADY)
    # The partition was real: work sent to C while it was cut off waited for the heal.
    held = [seq for seq, spans in traces.items()
            if (only(spans, "process Worker").start_ns - only(spans, "process Entry").start_ns) > 1e9]
    sent_during = [r["seq"] for r in records if cut_at + 0.3 < r["at"] < heal_at - 0.3]
    assert held and set(sent_during) <= set(held), (held, sent_during)


def test_collector_unreachable_handlers_do_not_block_and_export_resumes(cluster):
    """The collector's host is cut off for 4 s: nothing reaches it meanwhile, yet the edge keeps
    its schedule and every hop handles each request within moments of its sending (no span end
    waits for the exporter); spans wait in the SDK's bounded queue (TT_QUEUE) and all arrive, in
    connected traces, after the heal."""
    n, interval, cut_at, heal_at = 50, 0.1, 1.0, 5.0
    counts = {}

    def count(key):
        counts[key] = cluster.collector.call("count")

    timers = [later(cut_at, cluster.bed.cut, "d"), later(cut_at + 0.5, count, "early"),
              later(heal_at - 0.2, count, "late"), later(heal_at, cluster.bed.heal, "d")]
    try:
        records = cluster.leader.call("traffic", run="dark", n=n, interval=interval)
    finally:
        for t in timers:
            t.join()
        cluster.bed.heal("d")
    assert counts["early"] == counts["late"], "spans reached the collector while it was cut off"
    assert_replies(records, "dark", n)
    late = [(r["seq"], round(r["late"], 2)) for r in records if r["late"] > 0.5]
    assert not late, "the edge fell behind its schedule (its span ends waited?): %r" % late
    slow = [(r["seq"], round(r["ask_s"], 3)) for r in records if r["ask_s"] > 0.5]
    assert not slow, "asks waited on the exporter: %r" % slow
    cluster.leader.call("wait_handled", label="sink", run="dark", n=n)
    reports = assert_handled_once(cluster, "dark", n, ["entry", "worker", "sink"])
    for label, report in reports.items():
        lag = [(r["seq"], round(report["times"]["dark:%d" % r["seq"]] - r["sent"], 2)) for r in records]
        assert max(t for _, t in lag) < 0.5, "%s handled requests late: %r" % (
            label, [x for x in lag if x[1] >= 0.5])
    wait_traces(cluster, records, lambda r, s: STEADY, timeout=60)


def test_latency_between_hosts_gives_plausible_span_timings():
    """25 ms each way on the cables of a, b and c (50 ms host to host): on the shared clock every
    child starts at least one crossing after its parent, and the edge's ask encloses B's span."""
    one_way = 0.050
    with netbed.running_cluster(delays={"a": 25, "b": 25, "c": 25}) as cluster:
        records = cluster.leader.call("traffic", run="slow", n=12, interval=0.2)
        assert_replies(records, "slow", 12)
        cluster.leader.call("wait_handled", label="sink", run="slow", n=12)
        assert_handled_once(cluster, "slow", 12, ["entry", "worker", "sink"])
        traces = wait_traces(cluster, records, lambda r, s: STEADY)
    margin = (one_way - 0.005) * 1e9  # frames leave the cable on time, not before
    for seq, spans in traces.items():
        edge, entry, worker, sink = (only(spans, name) for name, _ in STEADY)
        assert entry.start_ns - edge.start_ns >= margin, (seq, "a -> b")
        assert edge.end_ns - entry.end_ns >= margin, (seq, "reply b -> a inside the ask")
        assert worker.start_ns - entry.start_ns >= margin, (seq, "b -> c")
        assert sink.start_ns - worker.start_ns >= margin, (seq, "c -> a")
        for parent, child in ((edge, entry), (entry, worker), (worker, sink)):
            assert child.start_ns - parent.start_ns < 5e9, (seq, "implausible gap")
            assert child.end_ns >= child.start_ns


def test_rollout_c_from_receive_to_on_loses_and_doubles_nothing():
    """C starts in ``receive`` while a and b are ``on``; mid-traffic the edge sends SetTraceMode("on")
    to C's actor. Before: C continues each trace but sends bare (no Sink span); after: the Sink on a
    joins the trace. Every request handled exactly once throughout."""
    n, switch_at = 40, 20
    with netbed.running_cluster(host_env={"c": {"THESPIAN_TRACE_MODE": "receive"}}) as cluster:
        before = cluster.leader.call("reports", labels=["entry", "worker"])
        assert (before["entry"]["mode"], before["worker"]["mode"]) == ("on", "receive")
        records = cluster.leader.call("traffic", run="roll", n=n, interval=0.05, switch_at=switch_at,
                                      switch_labels=["worker"], switch_mode="on")
        assert records[switch_at - 1]["switched"] == {"worker": "on"}
        assert_replies(records, "roll", n)
        cluster.leader.call("wait_handled", label="sink", run="roll", n=n)
        reports = assert_handled_once(cluster, "roll", n, ["entry", "worker", "sink"])
        assert reports["worker"]["mode"] == "on"

        def expected(record, spans):
            worker = [s for s in spans if s.name == "process Worker"]
            if worker and worker[0].attributes.get("tt.mode") == "receive":
                return STEADY[:3]  # C continued the trace but sent the Done bare
            return STEADY

        traces = wait_traces(cluster, records, expected)
    modes = [only(traces[seq], "process Worker").attributes["tt.mode"] for seq in range(n)]
    assert modes[:switch_at - 1] == ["receive"] * (switch_at - 1), modes
    assert modes[switch_at + 1:] == ["on"] * (n - switch_at - 1), modes
    assert modes == sorted(modes, key=lambda m: m == "on"), "a message went back to receive: %r" % modes


def test_bed_removes_what_a_killed_run_left_behind():
    """A run killed mid-test (SIGKILL: no teardown) leaves its namespaces and a latency cable; the
    next bed built removes them by their names (their owner is dead), and nothing else."""
    import subprocess
    import sys

    reason = netbed.unavailable_reason() or netbed.wire_unavailable_reason()
    if reason:
        pytest.skip(reason)
    code = ("import sys, time; sys.path.insert(0, %r); import netbed; "
            "bed = netbed.NetBed({'x': 1, 'y': 2}, delays={'y': 5}).build(); "
            "print(bed.tag, flush=True); time.sleep(60)" % netbed.HERE)
    victim = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        tag = victim.stdout.readline().strip()
        assert tag, "the victim did not build its bed"
        mine = [ns for ns in netbed.list_namespaces() if ns.startswith(tag)]
        assert len(mine) == 3, mine
    finally:
        victim.kill()
        victim.wait()
    with netbed.running_cluster() as cluster:  # building a bed cleans up first
        assert not [ns for ns in netbed.list_namespaces() if ns.startswith(tag)]
        assert cluster.placement["worker"] == "c"
