"""Evidence of Thespian's createActor/exit race, so the leak check can tolerate exactly that case.

The race (Thespian 4.0.1, on both multi-process bases, reproduced with Thespian alone by
``tools/shutdown_repro.py --variant bare``): ``createActor`` forks the child and returns at once;
the child is only registered with its parent when its ``EndpointConnected`` arrives. If the parent
begins to exit (``ActorExitRequest``, also the recursive one ``shutdown()`` sends) before that, its
``_shutdownActor`` asks only the registered children to exit, and then either

* the late child connects while the parent is exiting: the parent registers it, never asks it to
  exit and waits for it forever; ``shutdown()`` gives up after 10 s and the whole system (Admin,
  logger, parent, child) stays alive; or
* the parent is gone first: the child's handshake fails (its failure callback raises inside the
  transport and is only logged) and the child runs on, orphaned.

:func:`install` wraps ``ActorManager._shutdownActor`` to *observe* only (behaviour unchanged): when
an actor starts exiting with children that have not connected yet, it appends a line
``pid sid child_pid...`` to the session's evidence file. It is installed in the test process before
any actor system forks, so every actor process inherits it (fork start method). The leak check then
tolerates a leftover only when it belongs to an actor system (same session id, as Thespian's Admin
calls ``setsid``) in which this evidence was recorded and in which a recorded late child is still
alive; anything else still fails the test.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, List, Set, Tuple

_state = {"path": None, "installed": False}


def install(path: str) -> bool:
    """Record the race into ``path`` from now on (idempotent). Returns whether the hook is active."""
    _state["path"] = path
    if _state["installed"]:
        return True
    try:
        from thespian.system.actorManager import ActorManager
        original = ActorManager.__dict__["_shutdownActor"]
    except Exception:  # another Thespian layout: no evidence, so nothing is ever tolerated
        return False

    def _shutdownActor(self, shutdownChildren=True):
        if not getattr(self, "_exiting", None):
            _note_pending_children(self)
        return original(self, shutdownChildren)

    _shutdownActor.__wrapped__ = original
    ActorManager._shutdownActor = _shutdownActor
    _state["installed"] = True
    return True


def _note_pending_children(manager) -> None:
    try:
        pending = [info.childProc.pid for info in getattr(manager, "_child_procs", ())
                   if not hasattr(info, "childRealAddr") and info.childProc.pid]
        if not pending or not _state["path"]:
            return
        line = "%d %d %s\n" % (os.getpid(), os.getsid(0), " ".join(str(pid) for pid in pending))
        fd = os.open(_state["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())  # one small O_APPEND write: atomic between processes
        finally:
            os.close(fd)
    except Exception:  # observation only: never disturb the actor's exit
        pass


def evidence(path: str) -> List[Tuple[int, int, Set[int]]]:
    """``(exiting actor pid, its session id, pids of its children not yet connected)`` records."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    out.append((int(parts[0]), int(parts[1]), {int(p) for p in parts[2:]}))
    except (OSError, ValueError):
        pass
    return out


def explained(leftovers: Iterable[int], sids: Dict[int, int], path: str) -> Set[int]:
    """The leftover PIDs this race explains: those in an actor system (session id) where an actor
    exited with late children and one of those late children is itself among the leftovers."""
    leftovers = set(leftovers)
    racy_sids = {sid for _, sid, late in evidence(path) if late & leftovers}
    return {pid for pid in leftovers if sids.get(pid) in racy_sids}
