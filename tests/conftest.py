"""Shared fixtures: one tracing pipeline per test session, actor systems that are always shut down.

Spans from every process reach a real OTLP/HTTP receiver on loopback through the SDK's
``OTLPSpanExporter`` (configured in this process before any actor system forks, so actor processes
inherit it); in-process tests can also read the in-memory exporter.
"""
import os
import signal
import socket
import sys
import time
import warnings

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tt_actors must be importable in forked actor processes

from opentelemetry.sdk.trace.sampling import (  # noqa: E402
    ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult)
from thespian.actors import ActorSystem  # noqa: E402

from thespian_trace import config  # noqa: E402
from thespian_trace._tracing import reset_stats  # noqa: E402
from thespian_trace.testing import (  # noqa: E402
    InMemoryTracing, OTLPReceiver, configure_otlp_export, force_flush, set_sampler)

BASES = ["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"]
MULTIPROC_BASES = ["multiprocQueueBase", "multiprocTCPBase"]

# logDefs=False crashes every multi-process actor at start (Thespian 4.0.1); give a quiet real config.
LOG_DEFS = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"level": "CRITICAL", "handlers": ["null"]},
}


class DropNamed(Sampler):
    """Drop spans with the given names (making a valid, unsampled context); parent-based otherwise."""

    def __init__(self, *names):
        self.names = set(names)
        self.inner = ParentBased(ALWAYS_ON)

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None):
        if name in self.names:
            return SamplingResult(Decision.DROP)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links,
                                        trace_state)

    def get_description(self):
        return "DropNamed"


def free_port() -> int:
    """An ephemeral loopback port (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def _pipeline():
    tracing = InMemoryTracing()
    receiver = OTLPReceiver().start()
    configure_otlp_export(receiver)
    try:
        yield tracing, receiver
    finally:
        receiver.stop()
        tracing.close()


class Spans:
    """What a test sees: in-memory spans of this process and OTLP spans of every process."""

    def __init__(self, tracing, receiver):
        self.tracing = tracing
        self.receiver = receiver

    def local(self):
        return self.tracing.records()

    def wait(self, predicate=None, count=None, timeout=15.0):
        """All spans from every process, once ``predicate(spans)`` holds (after flushing this one)."""
        force_flush()
        return self.receiver.wait_for(predicate=predicate, count=count, timeout=timeout)

    def settle(self, quiet=0.6):
        """Flush, then wait until no new span arrived for ``quiet`` seconds; return everything."""
        import time
        force_flush()
        last = -1
        while True:
            n = len(self.receiver.spans())
            if n == last:
                return self.receiver.spans()
            last = n
            time.sleep(quiet)


@pytest.fixture
def spans(_pipeline):
    tracing, receiver = _pipeline
    force_flush()
    tracing.clear()
    receiver.clear()
    reset_stats()
    set_sampler(None)
    saved = {name: getattr(config.settings, name) for name in config.settings.__slots__}
    try:
        yield Spans(tracing, receiver)
    finally:
        for name, value in saved.items():
            setattr(config.settings, name, value)
        set_sampler(None)


def _proc_stat(pid):
    """(state, ppid, session id) of a process, or None if it is gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[3])


def _cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return None


def forked_processes():
    """Live processes forked from this one without exec (same command line), in another session.

    Thespian's multi-process Admin calls ``setsid`` and forks again (multiprocCommon.py), so it and
    the actors it forks are re-parented away from this process: they are recognised by their command
    line (a fork of ours) and by living in a session of their own.
    """
    if not os.path.isdir("/proc"):
        return set()
    me = os.getpid()
    mine, my_sid = _cmdline(me), _proc_stat(me)[2]
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        st = _proc_stat(entry)
        if st is None or st[0] == "Z" or st[2] == my_sid:
            continue
        if _cmdline(entry) == mine:
            out.add(int(entry))
    return out


def reap_leaked(before, grace=10.0):
    """Wait up to ``grace`` seconds for processes forked since ``before`` to exit; SIGKILL the rest by
    PID (never by name). Returns the PIDs that had to be killed."""
    deadline = time.monotonic() + grace
    leaked = []
    while time.monotonic() < deadline:
        leaked = sorted(forked_processes() - before)
        if not leaked:
            return []
        time.sleep(0.2)
    for pid in leaked:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return leaked


@pytest.fixture
def make_system():
    """Factory for actor systems; every one it made is shut down, even when the test fails.

    Should a system's Admin or actors survive ``shutdown()`` (seen rarely on a loaded machine), they
    are killed by PID after a grace period and a warning names them.
    """
    made, bases = [], []
    before = forked_processes()

    def make(base, capabilities=None, **kwargs):
        caps = dict(capabilities or {})
        if base == "multiprocTCPBase":
            caps.setdefault("Admin Port", free_port())
        asys = ActorSystem(base, caps, logDefs=LOG_DEFS, transientUnique=True, **kwargs)
        made.append(asys)
        bases.append(base)
        return asys

    yield make
    for asys in reversed(made):
        try:
            asys.shutdown()
        except Exception:
            pass
    if made and any(base != "simpleSystemBase" for base in bases):
        killed = reap_leaked(before)
        if killed:
            warnings.warn("actor-system processes survived shutdown and were killed: %r" % killed)


@pytest.fixture(params=BASES)
def base(request):
    return request.param


@pytest.fixture(scope="session", autouse=True)
def _no_process_outlives_the_session():
    """Last line of defence: no actor-system process forked by this test session outlives it.

    A leftover would also hold the session's stdout open and stall whoever reads it (CI).
    """
    before = forked_processes()
    yield
    killed = reap_leaked(before, grace=5.0)
    if killed:
        sys.stderr.write("conftest: killed actor-system processes left behind by the tests: %r\n" % killed)
