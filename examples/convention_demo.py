"""Two actor systems, two OS processes, one trace: a Thespian Convention traced end to end.

The script starts the *leader* actor system (multiprocTCPBase on loopback) and an embedded OTLP/HTTP
collector, then runs itself again as a second OS process with ``--member``: that process starts the
*member* actor system, which joins the leader's Convention and offers a capability the leader lacks.
A traced request then crosses both systems:

    traced_ask (leader script) -> Front (leader) -> Greeter (member, placed by capability) -> Front -> reply

Both processes (and every actor process they fork) export their spans over OTLP/HTTP to the collector,
each under its own ``service.name`` (convention-leader / convention-member). The script prints the one
trace as a tree, shuts everything down (the member process by PID if it does not exit on its own), and
exits 0 only if a single connected trace crossed both systems.

    python examples/convention_demo.py
    python examples/convention_demo.py --ports 1900,1901 --timeout 30
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from typing import List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from thespian.actors import ActorExitRequest, ActorSystem  # noqa: E402

import thespian_trace  # noqa: E402,F401  (installs the receive hook before any actor system starts)
from thespian_trace import traced_ask  # noqa: E402
from thespian_trace.testing import (OTLPReceiver, SpanRecord, assert_chain,  # noqa: E402
                                    assert_single_trace, configure_otlp_export, force_flush,
                                    format_tree)

import convention_demo_actors as ca  # noqa: E402

LOG_DEFS = {"version": 1, "disable_existing_loggers": False,
            "handlers": {"null": {"class": "logging.NullHandler"}},
            "root": {"level": "CRITICAL", "handlers": ["null"]}}
CHAIN = ["ask Request", "process Front", "process Greeter", "process Front"]
LEADER, MEMBER = "convention-leader", "convention-member"


def say(role: str, text: str) -> None:
    print("[%s] %s" % (role, text), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_ports(text: Optional[str]) -> Tuple[int, int]:
    if not text:
        p1 = free_port()
        p2 = free_port()
        while p2 == p1:
            p2 = free_port()
        return p1, p2
    parts = [int(p) for p in text.split(",")]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise SystemExit("--ports takes two different ports: LEADER,MEMBER")
    return parts[0], parts[1]


def start_system(name: str, capabilities: dict) -> ActorSystem:
    os.environ[ca.SYSTEM_ENV] = name  # inherited by the Admin and every actor process it forks
    return ActorSystem("multiprocTCPBase", capabilities, logDefs=LOG_DEFS)


# ------------------------------------------------------------------------------------------------
# member process


def run_member(args: argparse.Namespace) -> int:
    p1, p2 = parse_ports(args.ports)
    configure_otlp_export(args.otlp, resource_attrs={"service.name": MEMBER})
    asys = start_system(MEMBER, {"Admin Port": p2, "Convention Address.IPv4": ("127.0.0.1", p1),
                                 ca.MEMBER_CAPABILITY: True})
    say("member", "actor system up on 127.0.0.1:%d, joining the Convention at 127.0.0.1:%d" % (p2, p1))
    stop = threading.Event()

    def wait_for_leader() -> None:  # the leader closes our stdin (or writes "stop") when done
        try:
            sys.stdin.readline()
        finally:
            stop.set()

    threading.Thread(target=wait_for_leader, daemon=True).start()
    if not stop.wait(args.timeout):
        say("member", "no word from the leader in %ss; shutting down" % args.timeout)
    try:
        asys.shutdown()
    finally:
        force_flush()
    say("member", "actor system shut down")
    return 0


# ------------------------------------------------------------------------------------------------
# leader process


def wait_for_member(asys: ActorSystem, deadline: float) -> List[dict]:
    registrar = asys.createActor(ca.Registrar)
    try:
        if asys.ask(registrar, "watch", 10) != "watching":
            raise RuntimeError("Registrar did not answer")
        while time.monotonic() < deadline:
            members = asys.ask(registrar, "members?", 10) or []
            if any(caps.get(ca.MEMBER_CAPABILITY) for caps in members):
                return members
            time.sleep(0.1)
        raise TimeoutError("the member system did not join the Convention in time")
    finally:
        asys.tell(registrar, ActorExitRequest())


def crossing_trace(spans: List[SpanRecord], trace_id: str) -> List[SpanRecord]:
    """The spans of ``trace_id`` if they form one tree containing the full chain across both systems."""
    mine = [r for r in spans if r.trace_id == trace_id]
    assert_single_trace(mine)
    chain = assert_chain(mine, CHAIN)
    services = [r.resource.get("service.name") for r in chain]
    assert services == [LEADER, LEADER, MEMBER, LEADER], services
    return mine


def stop_member(member: subprocess.Popen, p2: int) -> None:
    """Ask the member to leave; terminate (then kill) it by PID if it does not; never leave its
    actor system running (its Admin is a daemon of its own: shut it down through its port)."""
    try:
        if member.stdin:
            member.stdin.write(b"stop\n")
            member.stdin.close()
    except OSError:
        pass
    try:
        member.wait(15)
        return
    except subprocess.TimeoutExpired:
        say("leader", "member process %d did not exit; terminating it" % member.pid)
    member.terminate()
    try:
        member.wait(5)
    except subprocess.TimeoutExpired:
        member.kill()
        member.wait(5)
    # The member's actor system outlives a killed script: shut it down through its Admin port.
    subprocess.run([sys.executable, "-c",
                    "from thespian.actors import ActorSystem; "
                    "ActorSystem('multiprocTCPBase', {'Admin Port': %d}).shutdown()" % p2],
                   timeout=20, check=False)


def run_leader(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    p1, p2 = parse_ports(args.ports)
    receiver = OTLPReceiver().start()
    configure_otlp_export(receiver, resource_attrs={"service.name": LEADER})
    say("leader", "OTLP/HTTP collector on %s" % receiver.endpoint)
    leader = member = None
    ok = False
    try:
        leader = start_system(LEADER, {"Admin Port": p1})
        say("leader", "actor system up on 127.0.0.1:%d" % p1)
        member = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--member", "--ports", "%d,%d" % (p1, p2),
             "--otlp", receiver.endpoint, "--timeout", str(args.timeout)],
            stdin=subprocess.PIPE)
        say("leader", "started the member system in process %d" % member.pid)
        members = wait_for_member(leader, deadline)
        say("leader", "member joined the Convention: %s" % ", ".join(
            sorted(k for caps in members for k in caps if k == ca.MEMBER_CAPABILITY)))

        front = leader.createActor(ca.Front)
        reply = traced_ask(leader, front, ca.Request("hello from the leader"),
                           max(1.0, deadline - time.monotonic()))
        if not isinstance(reply, ca.Reply):
            say("leader", "FAILED: no reply (%r)" % (reply,))
            return 1
        say("leader", "reply %r via %s" % (reply.text, " -> ".join(
            "%s(%s, pid %d)" % (cls, system, pid) for system, pid, cls in reply.path)))

        force_flush()
        roots: List[SpanRecord] = []

        def complete(spans: List[SpanRecord]) -> bool:
            roots[:] = [r for r in spans if r.name == CHAIN[0]]
            return any(crossing_trace(spans, root.trace_id) for root in roots)

        try:
            spans = receiver.wait_for(complete, timeout=max(1.0, deadline - time.monotonic()))
        except TimeoutError as exc:
            say("leader", "FAILED: no trace crossed both systems\n%s" % exc)
            return 1
        trace_ids = {r.trace_id for r in spans}
        mine = crossing_trace(spans, roots[-1].trace_id)
        print()
        print(format_tree(mine, max_attrs=1))
        print()
        for rec in sorted(mine, key=lambda r: r.start_ns):
            print("  %-18s %-18s pid %-7s %s" % (rec.name, rec.resource.get("service.name"),
                                                rec.attributes.get("demo.pid", "-"),
                                                rec.attributes.get("messaging.thespian.actor.address", "")))
        print()
        ok = len(trace_ids) == 1
        if ok:
            say("leader", "OK: one trace (%s) crossed both actor systems: %d spans, %s" % (
                roots[-1].trace_id, len(mine), ", ".join(
                    "%s=%d" % (svc, sum(1 for r in mine if r.resource.get("service.name") == svc))
                    for svc in (LEADER, MEMBER))))
        else:
            say("leader", "FAILED: expected exactly one trace, got %d" % len(trace_ids))
        return 0 if ok else 1
    finally:
        if member is not None:
            stop_member(member, p2)
            say("leader", "member process exited with %s" % member.returncode)
        if leader is not None:
            leader.shutdown()
            say("leader", "actor system shut down")
        force_flush()
        receiver.stop()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ports", help="LEADER,MEMBER admin ports on 127.0.0.1 (default: two free ports)")
    ap.add_argument("--timeout", type=float, default=45.0,
                    help="seconds the whole run may take (default 45)")
    ap.add_argument("--member", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--otlp", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.member:
        if not args.otlp or not args.ports:
            ap.error("--member needs --otlp and --ports")
        return run_member(args)
    return run_leader(args)


if __name__ == "__main__":
    sys.exit(main())
