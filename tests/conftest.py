"""Shared fixtures: one tracing pipeline per test session, actor systems that are always shut down.

Spans from every process reach a real OTLP/HTTP receiver on loopback through the SDK's
``OTLPSpanExporter`` (configured in this process before any actor system forks, so actor processes
inherit it); in-process tests can also read the in-memory exporter.
"""
import os
import shutil
import socket
import sys
import tempfile
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

import thespian_races  # noqa: E402
from leakcheck import SessionTracker, describe, session_id  # noqa: E402

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
    tracing = InMemoryTracing()  # installs the SDK provider (swappable sampler) first
    receiver = OTLPReceiver().start()
    # The test kit's exporter: a fork-safe session (thespian_trace.forksafe) and a bounded flush as
    # each actor process ends; actors forked mid-export keep their spans (test_fork_safety.py).
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


# --------------------------------------------------------------------------------------------------
# Leaked processes: every process this session starts carries its token (leakcheck.py); whatever a
# test leaves alive fails that test, and is killed by PID.

# Seconds a test's processes get to exit after its teardown (shutdown is asynchronous).
LEAK_GRACE = float(os.environ.get("THESPIAN_TRACE_TEST_LEAK_GRACE", "10"))
_tracker = SessionTracker()
_race_dir = None
_RACE_EVIDENCE = os.devnull


def pytest_configure(config):
    global _race_dir, _RACE_EVIDENCE
    _tracker.start()  # before collection: nothing may start a process unmarked
    _race_dir = tempfile.mkdtemp(prefix="thespian-trace-races-")
    _RACE_EVIDENCE = os.path.join(_race_dir, "evidence")
    thespian_races.install(_RACE_EVIDENCE)
    config.addinivalue_line("markers", "multihost: runs on the network-namespace bed (netbed.py)")


def forked_processes():
    """PIDs of the live processes this session started (forked or exec'd), other than itself."""
    return {pid for pid, _ in _tracker.processes()}


def reap_leaked(before, grace=LEAK_GRACE):
    """Wait up to ``grace`` seconds for this session's processes not in ``before`` (PIDs) to exit;
    SIGKILL the rest by PID (never by name). Returns the PIDs that had to be killed."""
    baseline = {k: v for k, v in _tracker.processes().items() if k[0] in before}
    return sorted(_tracker.kill(_tracker.wait_gone(baseline, grace)))


def _leftovers(before, grace):
    """Wait up to ``grace`` s for this session's processes not in ``before`` to exit; kill the rest by
    PID. Returns (unexplained, explained by Thespian's createActor/exit race), each {key: cmdline}.

    Leftovers that the race explains (thespian_races.py) are killed after 2 s instead of ``grace``:
    that system waits for a child it never asked to exit, nothing will change.
    """
    start = time.monotonic()
    while True:
        left = {k: v for k, v in _tracker.processes().items() if k not in before}
        if not left:
            return {}, {}
        pids = [pid for pid, _ in left]
        racy = thespian_races.explained(pids, {pid: session_id(pid) for pid in pids}, _RACE_EVIDENCE)
        waited = time.monotonic() - start
        if waited >= grace or (waited >= min(2.0, grace) and set(pids) <= racy):
            break
        time.sleep(0.1)
    _tracker.kill(left)
    unexplained = {k: v for k, v in left.items() if k[0] not in racy}
    return unexplained, {k: v for k, v in left.items() if k[0] in racy}


def _race_warning(explained, where):
    warnings.warn(
        "%s: killed %d process(es) of an actor system hit by Thespian's createActor/exit race (an "
        "actor exited before a child it had just created connected; see tests/thespian_races.py): %s"
        % (where, len(explained), describe(explained)))


@pytest.fixture(autouse=True)
def _no_leaked_processes(request):
    """Fail the test (at teardown) if a process it started is still alive after its own teardown.

    Autouse, so it is set up before and torn down after the test's other fixtures (``make_system``
    shuts its systems down first). Processes started by the test itself, by its fixtures, or by the
    scripts it ran (their children included) are all covered; a leftover is killed by PID. The one
    exception is Thespian's own createActor/exit race, tolerated (with a warning) only where it is
    proven to have happened (thespian_races.py).
    """
    before = _tracker.processes()
    yield
    unexplained, explained = _leftovers(before, LEAK_GRACE)
    if explained:
        _race_warning(explained, request.node.nodeid)
    if unexplained:
        pytest.fail("processes left behind by this test (alive %.0fs after its teardown; killed): %s"
                    % (LEAK_GRACE, describe(unexplained)), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """Last line of defence: nothing this session started outlives it (a leftover would also hold the
    session's stdout open and stall whoever reads it, such as CI). A leftover fails the run."""
    unexplained, explained = _leftovers({}, 5.0)
    if explained:
        sys.stderr.write("\nconftest: Thespian createActor/exit race at the end of the session; "
                         "killed: %s\n" % describe(explained))
    if unexplained:
        sys.stderr.write("\nconftest: processes left behind by the test session (killed): %s\n"
                         % describe(unexplained))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    netbed = sys.modules.get("netbed")  # only when the multi-host bed was used
    left = netbed.owned_leftovers() if netbed is not None else []
    if left:
        sys.stderr.write("\nconftest: network namespaces/interfaces left behind: %r\n" % left)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _tracker.stop()
    if _race_dir:
        shutil.rmtree(_race_dir, ignore_errors=True)


@pytest.fixture
def make_system():
    """Factory for actor systems; every one it made is shut down, even when the test fails.

    A process that survives ``shutdown()`` fails the test (``_no_leaked_processes``).
    """
    made = []

    def make(base, capabilities=None, **kwargs):
        caps = dict(capabilities or {})
        if base == "multiprocTCPBase":
            caps.setdefault("Admin Port", free_port())
        asys = ActorSystem(base, caps, logDefs=LOG_DEFS, transientUnique=True, **kwargs)
        made.append(asys)
        return asys

    yield make
    for asys in reversed(made):
        try:
            asys.shutdown()
        except Exception:
            pass


@pytest.fixture(params=BASES)
def base(request):
    return request.param
