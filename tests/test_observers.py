"""The data plane's observer contract (``_state.Observers``), which actor metrics build on: every
delivery to an actor instance goes through the delivery observer with the unwrapped message, and every
actor instance made in a process is reported to the lifecycle observer, on every base."""
from thespian.actors import ActorExitRequest

from thespian_trace import traced_ask
from thespian_trace._state import observers

import observer_actors as oa

TIMEOUT = 15


def _deliveries(seen, cls):
    return [m for (event, c, m, _) in seen if event == "delivery" and c == cls]


def test_every_delivery_and_creation_reaches_the_observers(base, make_system, spans):
    oa.SEEN.clear()
    oa.install()
    try:
        asys = make_system(base)
        recorder = asys.createActor(oa.Recorder)
        bare = asys.createActor(oa.BareRecorder)
        assert traced_ask(asys, recorder, oa.Ping(), TIMEOUT) == "pong"  # enveloped
        assert asys.ask(recorder, oa.Ping(), TIMEOUT) == "pong"           # bare
        assert asys.ask(bare, oa.Ping(), TIMEOUT) == "pong"
        seen = traced_ask(asys, recorder, oa.Report(), TIMEOUT)
        # The recorder's own process (all of them on simpleSystemBase) saw both Pings, unwrapped.
        assert _deliveries(seen, "Recorder").count("Ping") == 2
        assert "Envelope" not in [m for (_, _, m, _) in seen]
        assert ("created", "Recorder", None, None) in seen
        guarded = {g for (event, c, _, g) in seen if event == "delivery" and c == "Recorder"}
        assert guarded == ({False} if base == "simpleSystemBase" else {True})
        if base == "simpleSystemBase":
            assert _deliveries(oa.SEEN, "BareRecorder") == ["Ping"]
            assert ("created", "BareRecorder", None, None) in oa.SEEN
            asys.tell(bare, ActorExitRequest())
            assert _deliveries(oa.SEEN, "BareRecorder") == ["Ping", "ActorExitRequest"]
    finally:
        observers.delivery = observers.lifecycle = None


def test_fanout_markers_reach_the_delivery_observer(make_system, spans):
    oa.SEEN.clear()
    oa.install()
    try:
        asys = make_system("simpleSystemBase")
        fanner = asys.createActor(oa.Fanner)
        assert traced_ask(asys, fanner, 200, TIMEOUT) == 200
        assert _deliveries(oa.SEEN, "BareRecorder").count("Ping") == 200
    finally:
        observers.delivery = observers.lifecycle = None


def test_no_observer_no_call(make_system, spans):
    oa.SEEN.clear()
    observers.delivery = observers.lifecycle = None
    asys = make_system("simpleSystemBase")
    recorder = asys.createActor(oa.Recorder)
    assert traced_ask(asys, recorder, oa.Ping(), TIMEOUT) == "pong"
    assert oa.SEEN == []
