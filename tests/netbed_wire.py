"""A network cable with latency, in user space: two TAP devices and a relay between them.

The multi-host test bed (netbed.py) uses it where a link needs added latency and the kernel has no
``sch_netem`` (this machine's VM kernel has neither netem nor loadable modules, so
``tc qdisc ... netem delay`` fails with "Specified qdisc kind is unknown"). One end becomes a host's
``eth0``, the other a port of the bed's bridge; every Ethernet frame (ARP included) crossing the
cable is held for ``delay_ms`` in each direction, in order. ``down`` drops every frame (a cut cable:
the host sees no error, only silence), like a bridge port set down.

Run by the bed as ``python netbed_wire.py HOST_IFNAME SWITCH_IFNAME`` (root, ``/dev/net/tun``).
It prints ``ready`` once both devices exist, then reads JSON commands on stdin, one per line
(``{"delay_ms": 25}``, ``{"down": true}``), answering ``ok`` to each. It exits on end of input,
which also removes both devices (they live only as long as this process holds them).
"""
import fcntl
import heapq
import itertools
import json
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def main(host_name: str, switch_name: str) -> int:
    host, switch = open_tap(host_name), open_tap(switch_name)
    peer = {host: switch, switch: host}
    delay, down = 0.0, False
    queue = []  # (due, seq, out fd, frame)
    seq = itertools.count()
    last_due = {host: 0.0, switch: 0.0}  # keep each direction in order when the delay changes
    stdin, pending = sys.stdin.fileno(), b""
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        readable, _, _ = select.select([host, switch, stdin], [], [], timeout)
        for fd in readable:
            if fd == stdin:
                chunk = os.read(stdin, 4096)
                if not chunk:
                    return 0
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    command = json.loads(line)
                    if "delay_ms" in command:
                        delay = float(command["delay_ms"]) / 1000.0
                    if "down" in command:
                        down = bool(command["down"])
                        if down:
                            queue.clear()  # frames on a cut cable are lost
                    sys.stdout.write("ok\n")
                    sys.stdout.flush()
                continue
            for _ in range(64):  # drain what is there, a bounded batch per wakeup
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if down:
                    continue
                out = peer[fd]
                due = max(time.monotonic() + delay, last_due[out])
                last_due[out] = due
                heapq.heappush(queue, (due, next(seq), out, frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                os.write(out, frame)
            except OSError:  # device down or gone: the frame is lost, as on a real link
                pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
