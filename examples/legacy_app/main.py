"""Drive the legacy order pipeline from outside the actor system.

    python main.py                      # simpleSystemBase (default)
    python main.py --base multiprocTCPBase [--admin-port N]   # default: a free port, not 1900
"""
import argparse
import logging
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from thespian.actors import ActorSystem  # noqa: E402

from actors import Frontdoor  # noqa: E402
from messages import Order  # noqa: E402

LOG_DEFS = {
    "version": 1,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "level": logging.WARNING}},
    "root": {"handlers": ["stderr"], "level": logging.WARNING},
}


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="simpleSystemBase")
    parser.add_argument("--admin-port", type=int, default=0,
                        help="admin port for multiproc bases (default: pick a free one)")
    args = parser.parse_args(argv)
    if args.base == "simpleSystemBase":
        asys = ActorSystem(args.base)
    else:
        port = args.admin_port or _free_port()
        asys = ActorSystem(args.base, capabilities={"Admin Port": port}, logDefs=LOG_DEFS)
    try:
        frontdoor = asys.createActor(Frontdoor)
        for order in (Order("A-17", ["apple", "bread", "cheese"]), Order("B-2", ["dates", "kiwi"])):
            receipt = asys.ask(frontdoor, order, 10)
            if receipt is None:
                print("order %s: no reply" % order.order_id)
                return 1
            print(receipt)
        return 0
    finally:
        asys.shutdown()


if __name__ == "__main__":
    sys.exit(main())
