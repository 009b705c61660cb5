"""A multi-host test bed from Linux network namespaces, and the pytest fixture that runs it.

Layout (every name carries the owning process's PID, so concurrent test runs on one machine never
meet, and leftovers of a killed run are recognised by a dead owner)::

    ttnb-<pid>-<n>-sw       a "switch" namespace holding the bridge br0
    ttnb-<pid>-<n>-<host>   one namespace per host: lo, and eth0 = 10.231.0.<k>/24, cabled to br0

Nothing is configured in the machine's own namespace: the bridge lives in the switch namespace, so
the private range 10.231.0.0/24 exists only inside the bed (and every bed can reuse it). A host's
cable is a veth pair by default, or a user-space cable with latency (netbed_wire.py) where the test
asks for a delay, because this machine's kernel has no ``sch_netem``. A partition is the host's
bridge port set down (frames silently dropped both ways, as when a switch port dies); healing sets
it up again.

Processes run inside a host with ``ip netns exec``; :meth:`NetBed.spawn` starts one with a JSON-lines
control channel on its stdin/stdout (:class:`HostProcess`). :meth:`NetBed.teardown` always runs
(the fixture calls it after a failed test too): it closes the control channels, kills by PID
whatever still runs inside the bed's namespaces (``ip netns pids``), stops the cables and deletes
the namespaces, then checks that no namespace or interface of the bed is left.

Requirements: Linux, root (CAP_NET_ADMIN, CAP_SYS_ADMIN), iproute2's ``ip``; ``/dev/net/tun`` for
links with latency. :func:`unavailable_reason` says why a bed cannot be built here, and the fixture
skips with that reason.
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, Iterator, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
SUBNET = "10.231.0"  # /24, used only inside the bed's namespaces
PREFIX = "ttnb-"
_NS_RE = re.compile(r"^ttnb-(\d+)-(\d+)-([a-z0-9]+)$")
_LINK_RE = re.compile(r"^tn(\d+)x")  # transient names in the machine's namespace, before the move
_counter = iter(range(1, 1 << 30))


class BedError(RuntimeError):
    """A bed operation failed (with the command and its output)."""


def _run(args: List[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise BedError("%s -> %d: %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))
    return proc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def list_namespaces() -> List[str]:
    proc = _run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def _ns_pids(ns: str) -> List[int]:
    proc = _run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _kill_ns_processes(ns: str, grace: float = 3.0) -> List[int]:
    """SIGTERM then SIGKILL, by PID, every process inside namespace ``ns``."""
    pids = _ns_pids(ns)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = [p for p in _ns_pids(ns) if p in pids]
            time.sleep(0.05)
        if not pids:
            break
    return pids


def remove_stale() -> List[str]:
    """Remove namespaces and transient links of beds whose owning process is dead (a killed run).
    Returns what was removed."""
    removed = []
    for ns in list_namespaces():
        m = _NS_RE.match(ns)
        if m and not _pid_alive(int(m.group(1))):
            _kill_ns_processes(ns)
            _run(["ip", "netns", "del", ns], check=False)
            removed.append(ns)
    proc = _run(["ip", "-o", "link", "show"], check=False)
    for line in proc.stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        m = _LINK_RE.match(name)
        if m and not _pid_alive(int(m.group(1))):
            _run(["ip", "link", "del", name], check=False)
            removed.append(name)
    return removed


def unavailable_reason() -> Optional[str]:
    """Why a bed cannot be built on this machine, or None if it can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux (platform %s)" % sys.platform
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run the suite as root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (Debian: apt-get install iproute2)"
    probe = "%s%d-0-probe" % (PREFIX, os.getpid())
    proc = _run(["ip", "netns", "add", probe], check=False)
    if proc.returncode != 0:
        return "cannot create a network namespace here: %s" % proc.stderr.strip()
    _run(["ip", "netns", "del", probe], check=False)
    return None


def wire_unavailable_reason() -> Optional[str]:
    """Why a cable with latency cannot be made here (``/dev/net/tun`` is needed), or None."""
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing: no TAP devices for cables with latency"
    return None


class HostError(RuntimeError):
    """A command failed inside a host process (carries its traceback)."""


class HostProcess:
    """A process inside a bed host, driven over a JSON-lines channel (one request, one reply)."""

    def __init__(self, name: str, popen: subprocess.Popen, log_path: str) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self._replies: "queue.Queue[Optional[str]]" = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name="netbed-%s" % name, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def call(self, cmd: str, timeout: float = 60.0, **args: Any) -> Any:
        """Run ``cmd`` in the host; return its result, raise HostError with the host's traceback."""
        with self._lock:
            try:
                self.popen.stdin.write(json.dumps(dict(args, cmd=cmd)) + "\n")
                self.popen.stdin.flush()
            except (BrokenPipeError, ValueError):
                raise HostError("host %s is gone (exit %s); its log:\n%s"
                                % (self.name, self.popen.poll(), self.log_tail()))
            try:
                line = self._replies.get(timeout=timeout)
            except queue.Empty:
                raise HostError("host %s: no answer to %r within %.0fs; its log:\n%s"
                                % (self.name, cmd, timeout, self.log_tail()))
        if line is None:
            raise HostError("host %s exited (code %s) during %r; its log:\n%s"
                            % (self.name, self.popen.wait(), cmd, self.log_tail()))
        reply = json.loads(line)
        if not reply.get("ok"):
            raise HostError("host %s: %r failed:\n%s" % (self.name, cmd, reply.get("error")))
        return reply.get("result")

    def wait_ready(self, timeout: float = 60.0) -> Any:
        """The host's first line: ``{"ok": true, "result": "ready"}`` once it is up."""
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise HostError("host %s did not start within %.0fs; its log:\n%s"
                            % (self.name, timeout, self.log_tail()))
        if line is None:
            raise HostError("host %s exited at start (code %s); its log:\n%s"
                            % (self.name, self.popen.wait(), self.log_tail()))
        return json.loads(line).get("result")

    def close(self, timeout: float = 20.0) -> Optional[int]:
        """End of input: the host shuts its actor system down and exits. Returns the exit code
        (None if it had to be killed)."""
        try:
            self.popen.stdin.close()
        except OSError:
            pass
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            return None


class NetBed:
    """Hosts in network namespaces on one bridge; see the module docstring.

    ``hosts`` maps a host name (lowercase letters/digits) to the last octet of its address;
    ``delays`` maps a host name to a one-way latency in ms for its cable (a user-space cable).
    """

    def __init__(self, hosts: Dict[str, int], delays: Optional[Dict[str, float]] = None) -> None:
        for name in hosts:
            if not re.match(r"^[a-z][a-z0-9]{0,5}$", name):
                raise ValueError("host names are 1-6 lowercase letters/digits: %r" % name)
        self.hosts = dict(hosts)
        self.delays = dict(delays or {})
        self.owner = os.getpid()
        self.n = next(_counter)
        self.tag = "%s%d-%d-" % (PREFIX, self.owner, self.n)
        self.switch = self.tag + "sw"
        self.logdir: Optional[str] = None  # made by the first spawn (host process logs)
        self._wires: Dict[str, subprocess.Popen] = {}
        self._procs: List[HostProcess] = []
        self._built = False

    # ------------------------------------------------------------------------------------------
    def ns(self, host: str) -> str:
        return self.tag + host

    def ip(self, host: str) -> str:
        return "%s.%d" % (SUBNET, self.hosts[host])

    def namespaces(self) -> List[str]:
        return [self.switch] + [self.ns(h) for h in self.hosts]

    def _link_name(self, host: str, side: str) -> str:
        return "tn%dx%d%s%s" % (self.owner, self.n, host[:2], side)  # <= 15 characters

    def build(self) -> "NetBed":
        remove_stale()
        try:
            _run(["ip", "netns", "add", self.switch])
            _run(["ip", "-n", self.switch, "link", "add", "br0", "type", "bridge"])
            _run(["ip", "-n", self.switch, "link", "set", "br0", "up"])
            for host in self.hosts:
                self._add_host(host)
            self._built = True
            return self
        except BaseException:
            self.teardown()
            raise

    def _add_host(self, host: str) -> None:
        ns = self.ns(host)
        _run(["ip", "netns", "add", ns])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        inner, outer = self._link_name(host, "h"), self._link_name(host, "s")
        if host in self.delays:
            wire = subprocess.Popen([sys.executable, os.path.join(HERE, "netbed_wire.py"), inner, outer],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self._wires[host] = wire
            if wire.stdout.readline().strip() != "ready":
                raise BedError("the cable for %s did not start (exit %s)" % (host, wire.poll()))
            self._wire(host, delay_ms=self.delays[host])
        else:
            _run(["ip", "link", "add", inner, "type", "veth", "peer", "name", outer])
        _run(["ip", "link", "set", inner, "netns", ns, "name", "eth0"])
        _run(["ip", "link", "set", outer, "netns", self.switch, "name", "p" + host])
        _run(["ip", "-n", self.switch, "link", "set", "p" + host, "master", "br0", "up"])
        _run(["ip", "-n", ns, "addr", "add", self.ip(host) + "/24", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def _wire(self, host: str, **command: Any) -> None:
        wire = self._wires[host]
        wire.stdin.write(json.dumps(command) + "\n")
        wire.stdin.flush()
        if wire.stdout.readline().strip() != "ok":
            raise BedError("the cable for %s did not acknowledge %r" % (host, command))

    # faults ------------------------------------------------------------------------------------
    def cut(self, host: str) -> None:
        """Partition ``host``: its bridge port goes down, frames are dropped both ways."""
        _run(["ip", "-n", self.switch, "link", "set", "p" + host, "down"])

    def heal(self, host: str) -> None:
        _run(["ip", "-n", self.switch, "link", "set", "p" + host, "up"])

    def set_delay(self, host: str, delay_ms: float) -> None:
        """Change the one-way latency of ``host``'s cable (only for hosts built with a delay)."""
        if host not in self._wires:
            raise ValueError("host %r was built without a latency cable (pass delays={%r: ...})"
                             % (host, host))
        self._wire(host, delay_ms=delay_ms)

    # processes ---------------------------------------------------------------------------------
    def spawn(self, host: str, argv: List[str], env: Optional[Dict[str, str]] = None,
              label: Optional[str] = None) -> HostProcess:
        """Start ``argv`` inside ``host`` with a JSON-lines control channel; stderr goes to a log."""
        label = label or host
        if self.logdir is None:
            self.logdir = tempfile.mkdtemp(prefix="netbed-")
        log_path = os.path.join(self.logdir, "%s.log" % label)
        log = open(log_path, "w")
        popen = subprocess.Popen(["ip", "netns", "exec", self.ns(host)] + argv,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                 text=True, env=env, cwd=os.path.dirname(HERE))
        log.close()
        proc = HostProcess(label, popen, log_path)
        self._procs.append(proc)
        return proc

    # teardown ----------------------------------------------------------------------------------
    def leftovers(self) -> List[str]:
        """Namespaces or machine-namespace interfaces of this bed that still exist."""
        out = [ns for ns in list_namespaces() if ns.startswith(self.tag)]
        proc = _run(["ip", "-o", "link", "show"], check=False)
        prefix = "tn%dx%d" % (self.owner, self.n)
        out += [line.split(":")[1].strip() for line in proc.stdout.splitlines()
                if ":" in line and line.split(":")[1].strip().startswith(prefix)]
        return out

    def teardown(self, grace: float = 10.0) -> List[str]:
        """Stop everything and delete the bed; always safe to call. Returns the problems found (a
        host process or a process inside a host that did not exit by itself, something left
        behind), empty when everything went down cleanly. Whatever is found is killed by PID."""
        problems = []
        for proc in self._procs:  # end of input first for all, so they shut down in parallel
            try:
                proc.popen.stdin.close()
            except OSError:
                pass
        for proc in self._procs:
            if proc.close(timeout=grace + 10) is None:
                problems.append("host process %s did not exit by itself (killed); its log:\n%s"
                                % (proc.name, proc.log_tail()))
        self._procs.clear()
        present = set(list_namespaces())
        deadline = time.monotonic() + grace
        for ns in self.namespaces():
            if ns not in present:
                continue
            while _ns_pids(ns) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = _ns_pids(ns)
            if left:
                problems.append("processes %r were still running in %s (killed)" % (left, ns))
                still = _kill_ns_processes(ns)
                if still:
                    problems.append("processes %r in %s survived SIGKILL" % (still, ns))
            _run(["ip", "netns", "del", ns], check=False)
        for wire in self._wires.values():
            try:
                wire.stdin.close()
            except OSError:
                pass
            try:
                wire.wait(5)
            except subprocess.TimeoutExpired:
                problems.append("a latency cable did not stop (killed)")
                wire.kill()
                wire.wait(5)
        self._wires.clear()
        left = self.leftovers()
        if left:
            problems.append("left behind: %r" % left)
        if self.logdir:
            shutil.rmtree(self.logdir, ignore_errors=True)
        return problems


# ----------------------------------------------------------------------------------------------
# The three-host Convention of the multi-host tests


class Cluster:
    """Hosts ``a`` (Convention leader and the edge), ``b`` and ``c`` (members), ``d`` (the OTLP
    collector) on a :class:`NetBed`, each host one process (netbed_host.py) with its own
    ``service.name``/``host.name``. ``host_env`` adds environment variables per host (for example
    ``{"c": {"THESPIAN_TRACE_MODE": "receive"}}``)."""

    HOSTS = {"a": 1, "b": 2, "c": 3, "d": 4}

    def __init__(self, bed: NetBed, host_env: Optional[Dict[str, Dict[str, str]]] = None,
                 export_timeout: float = 10.0, queue: int = 2048) -> None:
        self.bed = bed
        self.host_env = host_env or {}
        self.export_timeout = export_timeout
        self.queue = queue
        self.procs: Dict[str, HostProcess] = {}
        self.placement: Dict[str, str] = {}

    @property
    def collector_url(self) -> str:
        return "http://%s:4318" % self.bed.ip("d")

    def _env(self, host: str) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OTEL_", "THESPIAN_TRACE_MODE", "THESPIAN_TRACE_AUTOCONFIGURE"))}
        env.update(TT_HOST=host, THESPIAN_BASE_IPADDR=self.bed.ip(host), TT_LEADER=self.bed.ip("a"),
                   TT_COLLECTOR=self.collector_url, TT_EXPORT_TIMEOUT=str(self.export_timeout),
                   TT_QUEUE=str(self.queue), PYTHONUNBUFFERED="1")
        env.update(self.host_env.get(host, {}))
        return env

    def start(self, timeout: float = 60.0) -> "Cluster":
        script = os.path.join(HERE, "netbed_host.py")
        roles = {"d": "collector", "a": "leader", "b": "member", "c": "member"}
        for host in ("d", "a"):  # the collector and the leader first: the others need them
            self.procs[host] = self.bed.spawn(host, [sys.executable, script, roles[host]],
                                              env=self._env(host))
            self.procs[host].wait_ready(timeout)
        for host in ("b", "c"):
            self.procs[host] = self.bed.spawn(host, [sys.executable, script, roles[host]],
                                              env=self._env(host))
        for host in ("b", "c"):
            self.procs[host].wait_ready(timeout)
        self.leader.call("wait_members", capabilities=["host_b", "host_c"], timeout=timeout)
        self.placement = self.leader.call("setup", timeout=timeout)
        return self

    @property
    def leader(self) -> HostProcess:
        return self.procs["a"]

    @property
    def collector(self) -> HostProcess:
        return self.procs["d"]

    def flush(self) -> None:
        """Flush the edge's and members' host processes (actor processes export on their own)."""
        for host in ("a", "b", "c"):
            self.procs[host].call("flush")

    def spans(self) -> List[Any]:
        """Every span the collector host received, as thespian_trace.testing.SpanRecord."""
        from thespian_trace.testing import SpanRecord
        return [SpanRecord(**d) for d in self.collector.call("spans")]


def owned_leftovers(owner: Optional[int] = None) -> List[str]:
    """Namespaces and machine-namespace interfaces of beds owned by ``owner`` (default: this
    process) that still exist: after a test session, this must be empty."""
    owner = os.getpid() if owner is None else owner
    out = [ns for ns in list_namespaces() if ns.startswith("%s%d-" % (PREFIX, owner))]
    proc = _run(["ip", "-o", "link", "show"], check=False)
    out += [line.split(":")[1].strip() for line in proc.stdout.splitlines()
            if ":" in line and line.split(":")[1].strip().startswith("tn%dx" % owner)]
    return out


@contextlib.contextmanager
def running_cluster(delays: Optional[Dict[str, float]] = None, **kwargs: Any) -> Iterator[Cluster]:
    """A started :class:`Cluster` on a fresh bed, always torn down. Skips the calling test (with
    the reason) where no bed can be made; raises AssertionError after the body if the teardown
    found anything wrong (a process that did not exit by itself, a namespace left behind)."""
    import pytest
    reason = unavailable_reason() or (wire_unavailable_reason() if delays else None)
    if reason:
        pytest.skip(reason)
    bed = NetBed(Cluster.HOSTS, delays).build()
    try:
        yield Cluster(bed, **kwargs).start()
    finally:
        problems = bed.teardown()
    if problems:
        raise AssertionError("multi-host bed teardown: " + "; ".join(problems))
