"""Find the processes a test run left behind, exactly and cheaply, and kill them by PID.

A test session marks every process it starts, in two ways that together cover all of them:

* an environment variable (``THESPIAN_TRACE_TEST_SESSION``) holding the session's token, set in
  ``os.environ`` at session start: every process *exec'd* afterwards (a script run with
  ``subprocess``, and everything that script forks) carries it in ``/proc/PID/environ``;
* an anonymous memory file named after the token (``memfd_create``), held open by the session
  process: every process *forked* from it without exec (Thespian's Admin and actor processes, which
  keep the session's command line) inherits the descriptor. ``/proc/PID/environ`` cannot serve here:
  it shows the environment the process image was exec'd with, never a later ``os.environ`` change.

A process caught in the middle of an exec has an empty ``/proc/PID/environ`` (the kernel sets the
new image's environment up after the parent's ``Popen`` has already returned: seen right after
``Popen`` in 110 of 300 starts on Python 3.13, 248 of 300 with the other core loaded); it belongs to
the session when its parent does, so a snapshot taken just after a fixture started a process still
counts it (without this, CI blamed a session fixture's process on the test that first used it).

A nested session (a test that runs pytest) appends its token to the variable, so the outer session
still recognises the inner one's leftovers. Nothing is ever matched by name: a process belongs to a
session only through its token, so a concurrent test run on the same machine (same command line,
other helpers' actor systems) is never touched. Linux only; elsewhere every query returns nothing.

Cost: one read of ``/proc/*/environ`` per process (about 3 ms for 200 processes), plus a readlink of
the open descriptors of the few processes whose command line equals the session's.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Dict, List, Optional, Tuple

ENV_VAR = "THESPIAN_TRACE_TEST_SESSION"
_PROC = "/proc"

ProcKey = Tuple[int, int]  # (pid, start time in clock ticks): a PID is reused, this pair is not


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def proc_stat(pid: int) -> Optional[Tuple[str, int, int]]:
    """(state, ppid, start time) of a process, or None if it is gone."""
    raw = _read("%s/%d/stat" % (_PROC, pid))
    if raw is None:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def session_id(pid: int) -> Optional[int]:
    """The session id of a process (Thespian's Admin calls setsid: one per actor system)."""
    raw = _read("%s/%d/stat" % (_PROC, pid))
    if raw is None:
        return None
    return int(raw[raw.rfind(b")") + 2:].split()[3])


def cmdline(pid: int) -> str:
    raw = _read("%s/%d/cmdline" % (_PROC, pid)) or b""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


class SessionTracker:
    """The marks of one test session and the queries over them (see the module docstring)."""

    def __init__(self, token: Optional[str] = None) -> None:
        self.token = token or "tt%s" % uuid.uuid4().hex[:16]
        self.pid = os.getpid()
        self.enabled = os.path.isdir(_PROC) and hasattr(os, "memfd_create")
        self._fd: Optional[int] = None
        self._env_mark = ("%s=" % ENV_VAR).encode()
        self._my_cmdline = _read("%s/%d/cmdline" % (_PROC, self.pid)) if self.enabled else None
        self._memfd_name = "thespian-trace-session-" + self.token

    def start(self) -> "SessionTracker":
        """Set the marks. Call before the session starts any process."""
        outer = os.environ.get(ENV_VAR)
        os.environ[ENV_VAR] = self.token if not outer else outer + ":" + self.token
        if self.enabled and self._fd is None:
            self._fd = os.memfd_create(self._memfd_name)  # close-on-exec: exec'd children have the env
        return self

    def stop(self) -> None:
        outer = os.environ.get(ENV_VAR, "")
        rest = [t for t in outer.split(":") if t and t != self.token]
        if rest:
            os.environ[ENV_VAR] = ":".join(rest)
        else:
            os.environ.pop(ENV_VAR, None)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ------------------------------------------------------------------------------------------
    def _env_token(self, pid: int) -> Optional[bool]:
        """Whether the process's environment holds the token; None if it is empty (mid-exec)."""
        env = _read("%s/%d/environ" % (_PROC, pid))
        if env == b"":
            return None
        if not env or self._env_mark not in env:
            return False
        for entry in env.split(b"\0"):
            if entry.startswith(self._env_mark):
                return self.token in entry[len(self._env_mark):].decode("ascii", "replace").split(":")
        return False

    def _holds_memfd(self, pid: int) -> bool:
        base = "%s/%d/fd" % (_PROC, pid)
        try:
            fds = os.listdir(base)
        except OSError:
            return False
        want = "/memfd:" + self._memfd_name
        for fd in fds:
            try:
                if os.readlink(base + "/" + fd).startswith(want):
                    return True
            except OSError:
                continue
        return False

    def processes(self) -> Dict[ProcKey, str]:
        """Live (non-zombie) processes of this session other than the session process itself,
        as ``{(pid, start): command line}``."""
        if not self.enabled:
            return {}
        mine = set()
        mid_exec = []  # empty environment: the session's if the parent is (module docstring)
        for entry in os.listdir(_PROC):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid == self.pid:
                continue
            marked = self._env_token(pid)
            if marked is None:
                mid_exec.append(pid)
                continue
            if not marked and self._fd is not None:
                # A fork without exec keeps the session's command line and its descriptors.
                if _read("%s/%d/cmdline" % (_PROC, pid)) == self._my_cmdline:
                    marked = self._holds_memfd(pid)
            if marked:
                mine.add(pid)
        parents = {pid: proc_stat(pid) for pid in mid_exec}
        grew = True
        while grew:  # a chain of processes all mid-exec is rare, but costs nothing to follow
            grew = False
            for pid, st in parents.items():
                if pid not in mine and st is not None and (st[1] == self.pid or st[1] in mine):
                    mine.add(pid)
                    grew = True
        out = {}
        for pid in mine:
            st = proc_stat(pid)
            if st is None or st[0] in ("Z", "X"):
                continue
            out[(pid, st[2])] = cmdline(pid)
        return out

    def wait_gone(self, before: Dict[ProcKey, str], grace: float) -> Dict[ProcKey, str]:
        """Processes of this session not in ``before`` that are still alive after ``grace`` seconds
        (returns as soon as there are none)."""
        deadline = time.monotonic() + grace
        while True:
            left = {k: v for k, v in self.processes().items() if k not in before}
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.1)

    @staticmethod
    def kill(procs: Dict[ProcKey, str]) -> List[int]:
        """SIGKILL each process by PID, only if it is still the same process (start time). Returns
        the PIDs signalled."""
        killed = []
        for pid, start in procs:
            st = proc_stat(pid)
            if st is None or st[2] != start:
                continue  # exited meanwhile; the PID may already be someone else's
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
        return killed


def describe(procs: Dict[ProcKey, str]) -> str:
    return "; ".join("pid %d: %s" % (pid, cmd[:160]) for (pid, _), cmd in sorted(procs.items()))
