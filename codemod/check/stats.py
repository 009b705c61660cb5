"""Adoption statistics: send sites per package and how many are traced.

Every site the analysis found counts once: traced, untraced, manual review, unknown (the analysis could
not classify it) or opted out. Only traced sites count as traced, so the figure never includes what the
analysis could not see. Wakeups and external ask/tell calls are send sites too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

__all__ = ["PackageStats", "pct", "package_of", "package_for", "total_stats", "count_file"]


@dataclass
class PackageStats:
    """Send-site adoption for one package."""

    package: str
    traced: int = 0
    untraced: int = 0
    manual: int = 0
    opted_out: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.traced + self.untraced + self.manual + self.opted_out + self.unknown

    @property
    def coverage(self) -> float:
        """Percentage of send sites that are traced (100.0 when there are none)."""
        return 100.0 if self.total == 0 else 100.0 * self.traced / self.total

    def line(self) -> str:
        extra = f", {self.manual} need manual review" if self.manual else ""
        extra += f", {self.unknown} unknown" if self.unknown else ""
        extra += f", {self.opted_out} opted out" if self.opted_out else ""
        return (f"{self.package}: {self.total} send sites, {pct(self.coverage)} traced "
                f"({self.untraced} untraced{extra})")


def pct(value: float) -> str:
    """A percentage floored to one decimal: never claims 100% while one site is untraced."""
    floored = int(value * 10) / 10
    return f"{floored:g}%"


def package_of(module: str) -> str:
    """The package a module belongs to (its dotted parent), ``<root>`` for a top-level module."""
    return module.rpartition(".")[0] or "<root>"


def package_for(fa, shown_path: str) -> str:
    """Package of a file: the dotted parent of its module, else its directory (``<root>`` for .)."""
    module = fa.module or ""
    if "." in module:
        return package_of(module)
    if os.path.basename(fa.path) == "__init__.py" and module:
        return module
    d = os.path.dirname(shown_path)
    return d or "<root>"


def total_stats(stats: Sequence[PackageStats]) -> PackageStats:
    """The sum of several packages' stats."""
    t = PackageStats("total")
    for s in stats:
        t.traced += s.traced
        t.untraced += s.untraced
        t.manual += s.manual
        t.opted_out += s.opted_out
        t.unknown += s.unknown
    return t


def count_file(pkg: PackageStats, fa) -> None:
    """Add the send sites and external calls of one analysed file to ``pkg``."""
    for s in fa.send_sites:
        if s.kind == "traced_send":
            pkg.traced += 1
        elif s.optout is not None:
            pkg.opted_out += 1
        elif s.kind == "untraced_send":
            pkg.untraced += 1
        elif s.kind == "unknown":
            pkg.unknown += 1
        else:
            pkg.manual += 1
    for e in fa.external_sites:
        if e.traced:
            pkg.traced += 1
        elif e.optout is not None:
            pkg.opted_out += 1
        else:
            pkg.untraced += 1
