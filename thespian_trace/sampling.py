"""Fanout-size sampling: the bigger the fanout, the smaller the share of recipients that stay traced.

``FanoutTable`` maps a fanout size N to the probability p(N) that one recipient's handling is traced.
Between table points p is interpolated linearly in log(N)/log(p) space; outside them it is clamped.
The decision is made once, at the sender, so no carrier is ever built for a dropped recipient.
"""
from __future__ import annotations

import math
import random
from typing import Iterable, List, Optional, Sequence, Tuple

__all__ = ["FanoutTable", "DEFAULT_TABLE", "parse_table", "choose_kept"]


class FanoutTable:
    """Probability of keeping one recipient of an N-recipient fanout."""

    __slots__ = ("points", "_logs")

    def __init__(self, points: Iterable[Tuple[int, float]]) -> None:
        pts = sorted((int(n), float(p)) for n, p in points)
        if not pts:
            raise ValueError("a fanout table needs at least one (size, probability) point")
        for n, p in pts:
            if n < 1 or not (0.0 < p <= 1.0):
                raise ValueError("fanout table point %r: size must be >= 1 and 0 < p <= 1" % ((n, p),))
        if len({n for n, _ in pts}) != len(pts):
            raise ValueError("fanout table has a repeated size: %r" % (pts,))
        self.points: Tuple[Tuple[int, float], ...] = tuple(pts)
        self._logs = tuple((math.log(n), math.log(p)) for n, p in pts)

    def probability(self, n: int) -> float:
        """p(n): clamped outside the table, log-log interpolated inside it."""
        pts = self.points
        if n <= pts[0][0]:
            return pts[0][1]
        if n >= pts[-1][0]:
            return pts[-1][1]
        ln = math.log(n)
        logs = self._logs
        for i in range(1, len(pts)):
            if n <= pts[i][0]:
                (x0, y0), (x1, y1) = logs[i - 1], logs[i]
                return math.exp(y0 + (y1 - y0) * (ln - x0) / (x1 - x0))
        return pts[-1][1]  # pragma: no cover - unreachable, loop always returns

    def __repr__(self) -> str:
        return "FanoutTable(%r)" % (self.points,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FanoutTable) and other.points == self.points


DEFAULT_TABLE = FanoutTable([(1, 1.0), (100, 0.1), (10000, 0.001)])


def parse_table(text: str) -> FanoutTable:
    """Parse ``"1:1,100:0.1,10000:0.001"`` (the ``THESPIAN_TRACE_FANOUT_TABLE`` format)."""
    points = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        size, sep, prob = item.partition(":")
        if not sep:
            raise ValueError("fanout table entry %r is not SIZE:PROBABILITY" % item)
        points.append((int(size), float(prob)))
    return FanoutTable(points)


def choose_kept(n: int, p: float, rng: random.Random, exact: Optional[int] = None) -> Sequence[int]:
    """Indices (ascending) of the recipients to keep out of ``n``.

    With ``exact`` set, exactly ``min(exact, n)`` recipients are kept, chosen uniformly. Otherwise each is
    kept independently with probability ``p``; gaps are drawn from the geometric distribution, so the cost
    is proportional to the number kept, not to ``n`` (10 draws, not 10,000, for a 10,000 fanout at 0.1%).
    """
    if exact is not None:
        k = max(0, min(int(exact), n))
        return sorted(rng.sample(range(n), k))
    if p >= 1.0:
        return range(n)
    if p <= 0.0:
        return ()
    kept: List[int] = []
    log_q = math.log1p(-p)
    i = -1
    while True:
        u = rng.random()
        # Geometric gap >= 1: the number of trials up to and including the next success.
        i += 1 + int(math.log(1.0 - u) / log_q)
        if i >= n:
            return kept
        kept.append(i)
