"""Fanout sampling end to end: one PRODUCER span, ~p(N)*N kept recipient spans, nothing for the rest."""
import pytest

from thespian_trace import DEFAULT_TABLE, configure, stats, traced_ask
from thespian_trace.testing import assert_single_trace, spans_named
from thespian_trace.telemetry import count_received

import fanout_actors as fa
from conftest import DropNamed


@pytest.fixture(autouse=True)
def _count_received():
    """stats()["received"] is read here: keep the per-class counts (off by default, telemetry.py)."""
    previous = count_received(True)
    yield
    count_received(previous)


TIMEOUT = 120


def _run(asys, member_cls, n, keep=None, broadcaster_cls=fa.Broadcaster, traced=True):
    members = [asys.createActor(member_cls) for _ in range(n)]
    broadcaster = asys.createActor(broadcaster_cls)
    request = fa.Fanout(members, "hello", keep)
    report = traced_ask(asys, broadcaster, request, TIMEOUT) if traced else \
        asys.ask(broadcaster, request, TIMEOUT)
    assert isinstance(report, fa.Report), report
    assert len(report.acks) == n
    assert len({a.member for a in report.acks}) == n, "every recipient answered exactly once"
    return report


def _check_every_handler_saw_the_identical_message(report, same_process):
    for ack in report.acks:
        assert not ack.is_envelope
        assert ack.message == report.sent == fa.Announcement("hello", 7)
        if same_process:  # simpleSystemBase delivers the very object that was sent
            assert ack.obj_id == report.sent_id


@pytest.mark.parametrize("member_cls,n", [(fa.Member, 10000), (fa.RootMember, 10000)])
def test_sampled_10000_fanout_exports_about_ten_recipient_spans_in_one_trace(
        spans, make_system, member_cls, n):
    configure(fanout_seed=20261127)
    asys = make_system("simpleSystemBase")
    report = _run(asys, member_cls, n)
    _check_every_handler_saw_the_identical_message(report, same_process=True)

    p = DEFAULT_TABLE.probability(n)
    kept_acks = [a for a in report.acks if a.sampled]
    dropped_acks = [a for a in report.acks if not a.sampled]
    assert len(kept_acks) == report.kept
    assert 1 <= report.kept <= 25, report.kept   # Binomial(10000, 0.001): mean 10, sd 3.2
    # No span at all (not even an unsampled one) in a dropped recipient's handler.
    assert all(a.span_id is None and a.trace_id is None for a in dropped_acks)

    got = spans.local()
    fanouts = spans_named(got, "fanout Announcement")
    assert len(fanouts) == 1
    producer = fanouts[0]
    assert producer.kind == "PRODUCER"
    assert producer.attributes["messaging.batch.message_count"] == n
    assert producer.attributes["messaging.thespian.fanout.kept"] == report.kept
    assert producer.attributes["messaging.thespian.sampling.probability"] == pytest.approx(p)

    recipients = spans_named(got, "process " + member_cls.__name__)
    assert len(recipients) == report.kept
    assert {r.span_id for r in recipients} == {a.span_id for a in kept_acks}
    for r in recipients:
        assert r.kind == "CONSUMER" and r.parent_span_id == producer.span_id
        assert r.attributes["messaging.thespian.sampling.probability"] == pytest.approx(p)
        assert r.attributes["messaging.thespian.fanout.size"] == n
        assert r.attributes["messaging.destination.template"] == member_cls.__name__
    # ask -> Broadcaster -> fanout -> kept recipients; the bare acks and the reply add nothing.
    assert len(got) == 3 + report.kept, [r.name for r in got]
    assert_single_trace(got)
    assert report.trace_id == producer.trace_id

    s = stats()
    assert s["carriers_built"] == 2       # one for the ask, ONE shared by every kept recipient
    assert s["fanout_kept"] == report.kept and s["fanout_dropped"] == n - report.kept
    assert s["roots_started"] == 0        # RootMember: dropped recipients started no root
    assert s["received"][member_cls.__name__] == {"enveloped": n, "bare": 0}


@pytest.mark.parametrize("how", ["untraced-caller", "unsampled-span"])
@pytest.mark.parametrize("member_cls", [fa.Member, fa.RootMember])
def test_unsampled_fanout_exports_nothing_and_builds_no_carrier(spans, make_system, how, member_cls):
    """Even recipients whose class may start roots (and a sampler that would record them) start none."""
    configure(fanout_seed=1)
    asys = make_system("simpleSystemBase")
    n = 10000 if member_cls is fa.RootMember else 2000
    if how == "untraced-caller":
        # No context anywhere: the broadcaster has no span at all.
        report = _run(asys, member_cls, n, traced=False)
        assert report.trace_id is None
    else:
        # The broadcaster runs in a valid but unsampled root span of its own.
        spans.tracing.set_sampler(DropNamed("process RootBroadcaster"))
        report = _run(asys, member_cls, n, broadcaster_cls=fa.RootBroadcaster, traced=False)
        assert report.trace_id is not None, "the broadcaster should have had a valid unsampled span"
    _check_every_handler_saw_the_identical_message(report, same_process=True)
    assert report.kept == 0
    assert all(not a.sampled and a.span_id is None for a in report.acks)
    assert spans.local() == []
    s = stats()
    assert s["carriers_built"] == 0
    assert s["roots_started"] == 0
    assert s["fanout_dropped"] == n and s["fanout_kept"] == 0


def test_a_bare_message_does_start_a_root_in_root_member(spans, make_system):
    """Control for the tests above: RootMember really starts roots when it may."""
    asys = make_system("simpleSystemBase")
    member = asys.createActor(fa.RootMember)
    asys.tell(member, fa.Announcement("hello", 7))
    assert len(spans_named(spans.local(), "process RootMember")) == 1
    assert stats()["roots_started"] == 1


@pytest.mark.parametrize("keep", [0, 1, 10, 250])
def test_exact_keep_keeps_exactly_k_recipients(spans, make_system, keep):
    configure(fanout_seed=3)
    n = 1000
    asys = make_system("simpleSystemBase")
    report = _run(asys, fa.RootMember, n, keep=keep)
    assert report.kept == keep
    assert sum(a.sampled for a in report.acks) == keep
    recipients = spans_named(spans.local(), "process RootMember")
    assert len(recipients) == keep
    for r in recipients:
        assert r.attributes["messaging.thespian.sampling.probability"] == pytest.approx(keep / n)
    assert stats()["roots_started"] == 0


def test_same_seed_same_kept_recipients(spans, make_system):
    asys = make_system("simpleSystemBase")
    members = [asys.createActor(fa.Member) for _ in range(2000)]
    chosen = []
    for _ in range(2):
        configure(fanout_seed=99)
        broadcaster = asys.createActor(fa.Broadcaster)
        report = traced_ask(asys, broadcaster, fa.Fanout(members, "hello"), TIMEOUT)
        chosen.append(sorted(a.member for a in report.acks if a.sampled))
    assert chosen[0] == chosen[1] and chosen[0]


def test_small_fanout_keeps_everyone(spans, make_system):
    """p(1) = 1: a one-recipient fanout is traced like a send, but still marks the fanout size."""
    asys = make_system("simpleSystemBase")
    report = _run(asys, fa.Member, 1)
    assert report.kept == 1
    (r,) = spans_named(spans.local(), "process Member")
    assert "messaging.thespian.sampling.probability" not in r.attributes or \
        r.attributes["messaging.thespian.sampling.probability"] == 1.0


def test_fanout_across_processes_exports_the_exact_number_of_recipient_spans(spans, make_system):
    """multiprocTCPBase: 30 recipients in 30 processes, keep=3; spans arrive through OTLP/HTTP."""
    asys = make_system("multiprocTCPBase")
    report = _run(asys, fa.RootMember, 30, keep=3)
    _check_every_handler_saw_the_identical_message(report, same_process=False)
    assert report.kept == 3
    kept_acks = [a for a in report.acks if a.sampled]
    assert len(kept_acks) == 3
    assert all(a.span_id is None for a in report.acks if not a.sampled)

    spans.wait(lambda s: len(spans_named(s, "process RootMember")) >= 3
               and spans_named(s, "fanout Announcement") or None, timeout=30)
    got = spans.settle()                       # nothing more arrives: the count is exact
    recipients = spans_named(got, "process RootMember")
    assert len(recipients) == 3
    assert {r.span_id for r in recipients} == {a.span_id for a in kept_acks}
    (producer,) = spans_named(got, "fanout Announcement")
    assert producer.attributes["messaging.batch.message_count"] == 30
    for r in recipients:
        assert r.parent_span_id == producer.span_id
        assert r.attributes["messaging.thespian.fanout.size"] == 30
        assert r.attributes["messaging.thespian.sampling.probability"] == pytest.approx(0.1)
    mine = [r for r in got if r.trace_id == producer.trace_id]
    assert_single_trace(mine)
    assert len(mine) == 3 + 3   # ask, Broadcaster, fanout, 3 recipients
    assert not [r for r in got if r.trace_id != producer.trace_id], "no other trace (no roots)"


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"])
@pytest.mark.parametrize("how", ["unsampled-broadcaster", "keep-0"])
def test_one_recipient_fanout_never_starts_a_root(spans, make_system, base, how):
    """Issue 16 item 8: a fanout to ONE recipient sends a marker with n = 1; it is a fanout all the same."""
    if how == "unsampled-broadcaster":   # before the system forks, so actor processes inherit it
        spans.tracing.set_sampler(DropNamed("process RootBroadcaster"))
    asys = make_system(base)
    if how == "unsampled-broadcaster":
        report = _run(asys, fa.RootMember, 1, broadcaster_cls=fa.RootBroadcaster, traced=False)
    else:
        report = _run(asys, fa.RootMember, 1, keep=0)
    assert report.kept == 0
    (ack,) = report.acks
    assert not ack.is_envelope and ack.message == report.sent
    assert ack.span_id is None, "the recipient of a one-recipient fanout started a root"
    got = spans.settle()
    assert spans_named(got, "process RootMember") == []


def test_an_enveloped_message_without_a_sampled_carrier_starts_no_root(spans, make_system):
    """Roots start on bare messages only: an Envelope means the sender was tracing (here: not sampled)."""
    from thespian_trace import Envelope
    asys = make_system("simpleSystemBase")
    member = asys.createActor(fa.RootMember)
    unsampled = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-02"
    for carrier in ({"traceparent": unsampled}, {"traceparent": "garbage"}, None):
        asys.tell(member, Envelope(fa.Announcement("hello", 7), carrier))
    assert spans_named(spans.local(), "process RootMember") == []
    assert stats()["roots_started"] == 0
    asys.tell(member, fa.Announcement("hello", 7))       # control: a bare one does start a root
    assert len(spans_named(spans.local(), "process RootMember")) == 1


def _grown(asys, n):
    broadcaster = asys.createActor(fa.Broadcaster)
    members = asys.ask(broadcaster, fa.Grow(fa.RootMember, n), TIMEOUT)
    assert len(members) == n
    return broadcaster, members


def _fanout_roots(spans, asys, broadcaster, members):
    report = asys.ask(broadcaster, fa.Fanout(members, "hello"), TIMEOUT)      # untraced caller
    assert isinstance(report, fa.Report) and len(report.acks) == len(members)
    assert all(not a.is_envelope and a.message == report.sent for a in report.acks)
    return report, spans.settle()


def test_rollout_flipping_the_tree_from_its_top_never_lets_fanout_recipients_start_roots(
        spans, make_system):
    """Issue 16 item 8, the safe order: SetTraceMode("on") to the top of a tree flips the fanout sender
    before the message reaches its recipients, so they never see a bare fanout while they are ``on``."""
    from thespian_trace import RECEIVE, SetTraceMode, set_mode
    set_mode(RECEIVE)                       # every process starts in receive (rollout step 1)
    asys = make_system("multiprocTCPBase")
    broadcaster, members = _grown(asys, 5)
    set_mode("on")
    assert asys.ask(broadcaster, SetTraceMode("on"), TIMEOUT).mode == "on"
    report, got = _fanout_roots(spans, asys, broadcaster, members)
    assert all(a.span_id is None for a in report.acks)
    assert spans_named(got, "process RootMember") == []


def test_rollout_window_a_receive_mode_sender_cannot_mark_its_fanout(spans, make_system):
    """Issue 16 item 8, the window the docs describe: a sender still in ``receive`` must send bare (its
    recipients might not have the library), so recipients already ``on`` whose class sets start_traces
    each start a root, one per recipient (subject to their sampler). This pins the documented limit."""
    from thespian_trace import RECEIVE, SetTraceMode, set_mode
    set_mode(RECEIVE)
    asys = make_system("multiprocTCPBase")
    broadcaster, members = _grown(asys, 5)
    for member in members:                  # recipients flipped before their sender: the wrong order
        assert asys.ask(member, SetTraceMode("on"), TIMEOUT).mode == "on"
    report, got = _fanout_roots(spans, asys, broadcaster, members)
    assert all(a.span_id is not None for a in report.acks)
    assert len([r for r in spans_named(got, "process RootMember") if r.parent_span_id is None]) == 5
