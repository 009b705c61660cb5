"""Generate a deterministic benchmark corpus of mixed actor and non-actor Python code.

    python benchmarks/gen_corpus.py OUT_DIR [--files 200] [--lines 40000] [--seed 0]

The corpus is a package ``corpus`` with project base classes (``corpus/base.py``), actor modules
(``ActorTypeDispatcher`` subclasses, project-base subclasses, plain ``Actor`` subclasses, sends in
loops/comprehensions/nested functions, look-alikes, a few manual-review patterns) and plain modules
(no actors at all). About 35% of the files are actor modules. Same arguments, same bytes.
"""
from __future__ import annotations

import argparse
import os
import random
import textwrap
from typing import Dict

BASE = '''"""Project base classes."""
from thespian.actors import ActorTypeDispatcher as ATD


class ServiceActor(ATD):
    """Base of the corpus' service actors."""

    def reply(self, to, message):
        self.send(to, message)


class QuietActor(ATD):
    pass
'''

ACTOR_HEADER = '''"""Actor module {name}."""
import functools
import logging

from thespian.actors import ActorTypeDispatcher, Actor, ActorExitRequest

from corpus.base import ServiceActor

log = logging.getLogger(__name__)
'''

ACTOR_CLASS = '''

class {cls}(ActorTypeDispatcher):
    """Handles {msg} messages."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.peers = []
        self.count = 0

    def receiveMsg_{msg}(self, message, sender):
        self.count += 1
        log.debug("got %s", message)
        self.send(sender, ("ack", self.count))
        for peer in self.peers:
            self.send(peer, message)  # forward to peers
        [self.send(p, "tick") for p in self.peers]
        self.send(
            sender,
            {{"count": self.count,
             "kind": "{msg}"}},  # summary
        )

    def receiveMsg_str(self, text, sender):
        if text == "join":
            self.peers.append(sender)
        else:
            self.send_samples(text)

    def send_samples(self, text):
        return [text] * {n}
'''

SUB_CLASS = '''

class {cls}(ServiceActor):
    def receiveMsg_tuple(self, pair, sender):
        def notify(target):
            self.send(target, pair)
        notify(sender)
        self.reply(sender, len(pair))
        self.send(*pair)

    def receiveMsg_int(self, value, sender):
        total = 0
        for i in range(value % {n} + 1):
            total += i
        self.send(sender, total)
'''

PLAIN_CLASS = '''

class {cls}(Actor):
    def receiveMessage(self, message, sender):
        if isinstance(message, ActorExitRequest):
            return
        self.send(sender, message)
'''

REVIEW_CLASS = '''

class {cls}(ServiceActor):
    def receiveMsg_list(self, items, sender):
        later = functools.partial(self.send, sender)
        for item in items:
            later(item)
'''

LOOKALIKE = '''

class {cls}Pipe:
    """Not an actor."""

    def __init__(self, conn):
        self.conn = conn

    def send(self, data):
        self.conn.send(data)

    def flush(self, items):
        for item in items:
            self.send(item)
'''

PLAIN_FUNC = '''

def {fn}(values, factor={n}):
    """Compute a {fn} over values."""
    result = []
    for index, value in enumerate(values):
        if value is None:
            continue
        scaled = value * factor + index
        if scaled % 3 == 0:
            result.append(scaled // 3)
        elif scaled % 5 == 0:
            result.append(-scaled)
        else:
            result.append(scaled)
    return {{"name": "{fn}", "count": len(result), "total": sum(result)}}
'''

PLAIN_CLASS_NONACTOR = '''

class {cls}:
    """A plain data holder."""

    def __init__(self, name, size={n}):
        self.name = name
        self.size = size
        self.items = []

    def add(self, item):
        if len(self.items) >= self.size:
            raise ValueError("full: %s" % self.name)
        self.items.append(item)
        return len(self.items)

    def summary(self):
        return ", ".join(str(i) for i in self.items)
'''


def _lines(text: str) -> int:
    return text.count("\n")


def generate(out_dir: str, files: int = 200, lines: int = 40000, seed: int = 0,
             actor_share: float = 0.35) -> Dict[str, int]:
    """Write the corpus under ``out_dir``; return counts (files, lines, actor_files)."""
    rng = random.Random(seed)
    pkg = os.path.join(out_dir, "corpus")
    os.makedirs(pkg, exist_ok=True)
    written = {"files": 0, "lines": 0, "actor_files": 0}

    def write(rel: str, text: str) -> None:
        p = os.path.join(pkg, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        written["files"] += 1
        written["lines"] += _lines(text)

    write("__init__.py", '"""Generated benchmark corpus."""\n')
    write("base.py", BASE)
    n_sub = max(1, files // 20)
    for s in range(n_sub):
        write("pkg%02d/__init__.py" % s, "")
    remaining = files - written["files"]
    per_file = max(40, (lines - written["lines"]) // max(1, remaining))
    for i in range(remaining):
        rel = "pkg%02d/mod%03d.py" % (i % n_sub, i)
        if rng.random() < actor_share:
            text = ACTOR_HEADER.format(name=rel)
            k = 0
            while _lines(text) < per_file:
                choice = rng.choice(("actor", "actor", "sub", "plain", "look", "review", "func"))
                name = "C%03d_%d" % (i, k)
                n = rng.randint(2, 9)
                if choice == "actor":
                    text += ACTOR_CLASS.format(cls="Actor" + name, msg="Msg" + name, n=n)
                elif choice == "sub":
                    text += SUB_CLASS.format(cls="Service" + name, n=n)
                elif choice == "plain":
                    text += PLAIN_CLASS.format(cls="Plain" + name)
                elif choice == "look":
                    text += LOOKALIKE.format(cls="Look" + name)
                elif choice == "review":
                    text += REVIEW_CLASS.format(cls="Review" + name)
                else:
                    text += PLAIN_FUNC.format(fn="compute_%s" % name.lower(), n=n)
                k += 1
            written["actor_files"] += 1
        else:
            text = '"""Plain module %s."""\nimport math\nimport os\n' % rel
            k = 0
            while _lines(text) < per_file:
                name = "%03d_%d" % (i, k)
                n = rng.randint(2, 9)
                if rng.random() < 0.5:
                    text += PLAIN_FUNC.format(fn="stat_" + name, n=n)
                else:
                    text += PLAIN_CLASS_NONACTOR.format(cls="Holder" + name, n=n)
                k += 1
        write(rel, text)
    return written


def main(argv=None) -> int:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or ""))
    p.add_argument("out_dir")
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--lines", type=int, default=40000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    print(generate(a.out_dir, a.files, a.lines, a.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
