"""The text format: ruff-like ``path:line:col: CODE message (fix: ...)`` lines, then the summary."""
from __future__ import annotations

from typing import List

from ..findings import Finding
from ..report import Report

__all__ = ["render_text"]


def render_text(report: Report, show_accepted: bool = False) -> str:
    """ruff-like ``path:line:col: CODE message`` lines, stale entries, then the summary."""
    out: List[str] = []
    shown = report.ratchet.new + (report.ratchet.accepted if show_accepted else [])
    accepted_ids = {id(f) for f in report.ratchet.accepted} if show_accepted else set()
    for f in sorted(shown, key=Finding.sort_key):
        tag = " [baseline]" if id(f) in accepted_ids else ""
        out.append(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}{tag} (fix: {f.fix})")
    for e in report.ratchet.stale:
        out.append(f"{report.baseline_path}: stale baseline entry {e.describe()} (no longer found)")
    if report.ratchet.stale:
        n = len(report.ratchet.stale)
        out.append(f"{report.baseline_path}: {n} stale entr{'ies' if n != 1 else 'y'}; {report.stale_hint()}")
        if report.stale_outside:
            out.append(f"{report.baseline_path}: note: {report.stale_outside} of them belong to modules that "
                       "were not scanned; if those still exist, run with the same PATHS as CI instead")
    if out:
        out.append("")
    out.extend(report.summary_lines())
    return "\n".join(out) + "\n"
