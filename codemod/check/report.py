"""The report every renderer formats: findings, the ratchet, adoption stats, the closing summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from .baseline import Ratchet
from .findings import Finding
from .stats import PackageStats, pct, total_stats

__all__ = ["Report", "EXIT_OK", "EXIT_FINDINGS", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


@dataclass
class Report:
    """Everything a reporter needs."""

    findings: List[Finding]
    ratchet: Ratchet
    stats: List[PackageStats]
    files_scanned: int = 0
    baseline_path: Optional[str] = None
    update_command: Optional[str] = None
    min_coverage: Optional[float] = None
    baseline_written: Optional[str] = None
    growth_refused: int = 0
    stale_removed: int = 0
    stale_outside: int = 0  # stale entries whose module was not among the files scanned
    context_files: int = 0  # files under the analysed root read for resolution only
    root: Optional[str] = None
    skipped: list = field(default_factory=list)  # discovery.Skipped: folders not walked, and why

    @property
    def total(self) -> PackageStats:
        return total_stats(self.stats)

    @property
    def coverage_failed(self) -> bool:
        return self.min_coverage is not None and self.total.coverage + 1e-9 < self.min_coverage

    @property
    def failed(self) -> bool:
        return bool(self.ratchet.new or self.ratchet.stale or self.coverage_failed)

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.failed else EXIT_OK

    def stale_hint(self) -> str:
        cmd = self.update_command or "thespian-trace migration-check PATHS --baseline FILE --update-baseline"
        return f"remove stale entries with: {cmd}"

    def summary_lines(self) -> List[str]:
        """The closing summary: verdict counts, adoption per package and overall, coverage floor."""
        out: List[str] = []
        r = self.ratchet
        parts = [f"{len(r.new)} new finding{'s' if len(r.new) != 1 else ''}"]
        if self.baseline_path is not None:
            parts.append(f"{len(r.accepted)} accepted by baseline")
            parts.append(f"{len(r.stale)} stale baseline entr{'ies' if len(r.stale) != 1 else 'y'}")
            if r.carried:
                parts.append(f"{len(r.carried)} kept unchecked (ignored rule or unparsable module)")
        out.append(f"migration-check: {self.files_scanned} files; " + ", ".join(parts))
        if self.context_files:
            out.append(f"  ({self.context_files} more file{'s' if self.context_files != 1 else ''} under "
                       f"{self.root} analysed to resolve actor classes, not reported on)")
        for sk in self.skipped:
            out.append(f"  skipped: {sk.path} ({sk.reason})")
        if self.baseline_written:
            n_entries = len(self.ratchet.accepted) + len(self.ratchet.carried)
            msg = (f"baseline written to {self.baseline_written}: {n_entries} entries, "
                   f"{self.stale_removed} stale removed")
            if self.growth_refused:
                msg += (f" ({self.growth_refused} new finding(s) NOT added; fix them, or pass "
                        f"--allow-growth to accept them)")
            out.append(msg)
        for s in self.stats:
            out.append("  " + s.line())
        t = self.total
        unknown = f" ({t.unknown} unknown, counted as not traced)" if t.unknown else ""
        out.append(f"adoption: {t.total} send sites, {pct(t.coverage)} traced{unknown}")
        if self.min_coverage is not None:
            verdict = "FAILED" if self.coverage_failed else "ok"
            out.append(f"coverage floor {self.min_coverage:g}%: {verdict}")
        return out
