"""The GitHub format: workflow-command annotations within GitHub's limits, the full log, a step summary."""
from __future__ import annotations

import os
from typing import Dict, List

from ..findings import Finding
from ..report import Report
from ..rules import RULES
from ..stats import pct
from .as_text import render_text
from .common import code_counts

__all__ = ["render_github", "github_step_summary", "escape_data", "escape_property"]

# GitHub shows at most 10 annotations of each type (error/warning/notice) per step and 50 per job
# (actions/toolkit docs/problem-matchers.md, "Limitations"). We emit at most this many of each type
# and fold the rest into one summary annotation plus the step summary.
GITHUB_ANNOTATIONS_PER_TYPE = 10


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report, limit: int = GITHUB_ANNOTATIONS_PER_TYPE) -> str:
    """GitHub workflow commands: up to ``limit`` annotations per type, the rest folded into one.

    GitHub displays at most 10 error and 10 warning annotations per step; anything beyond is silently
    dropped, so we emit ``limit - 1`` individual annotations of a type and one more that summarises the
    rest by rule and file. Every finding is still printed as a plain log line, and when
    ``GITHUB_STEP_SUMMARY`` is set a Markdown summary is appended to it.
    """
    out: List[str] = []
    by_level: Dict[str, List[Finding]] = {"error": [], "warning": []}
    for f in report.ratchet.new:
        by_level.setdefault(f.rule.level, []).append(f)
    stale = report.ratchet.stale
    for level, items in by_level.items():
        budget = limit
        if level == "error" and stale:
            budget -= 1  # keep one slot for the stale-baseline annotation
        if len(items) > budget:
            show, rest = items[: max(budget - 1, 0)], items[max(budget - 1, 0):]
        else:
            show, rest = items, []
        for f in show:
            out.append(
                f"::{level} file={escape_property(f.path)},line={f.line},col={f.col},"
                f"title={escape_property(f.code + ' ' + f.rule.name)}::{escape_data(f.message + ' (fix: ' + f.fix + ')')}"
            )
        if rest:
            counts = ", ".join(f"{c}: {n}" for c, n in code_counts(rest).items())
            files = sorted({f.path for f in rest})
            listed = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            out.append(
                f"::{level} title={escape_property(f'{len(rest)} more migration-check {level}s')}::"
                + escape_data(f"{len(rest)} more {level}s not shown as annotations ({counts}) in {listed}. "
                           "See the log below or run `thespian-trace migration-check --format text`.")
            )
    if stale:
        names = "; ".join(e.describe() for e in stale[:5]) + (" ..." if len(stale) > 5 else "")
        out.append(
            f"::error title={escape_property(f'{len(stale)} stale baseline entries')}::"
            + escape_data(f"{len(stale)} baseline entries no longer match a finding ({names}); "
                       f"{report.stale_hint()}")
        )
    # the complete list, as plain log lines (not subject to annotation limits)
    out.append("::group::migration-check findings")
    out.append(render_text(report).rstrip("\n"))
    out.append("::endgroup::")
    out.extend(report.summary_lines())
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        try:
            with open(summary_path, "a", encoding="utf-8") as fh:
                fh.write(github_step_summary(report))
        except OSError:
            pass
    return "\n".join(out) + "\n"


def github_step_summary(report: Report) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: verdict, counts per rule, adoption table."""
    r = report.ratchet
    lines = ["### thespian-trace migration-check", ""]
    lines.append(f"**{'FAILED' if report.failed else 'passed'}**: {len(r.new)} new findings, "
                 f"{len(r.accepted)} accepted by baseline, {len(r.stale)} stale baseline entries.")
    lines.append("")
    if r.new:
        lines += ["| rule | count | fix |", "|---|---:|---|"]
        for code, n in code_counts(r.new).items():
            lines.append(f"| {code} {RULES[code].name} | {n} | {RULES[code].fix.format(path='PATH')} |")
        lines.append("")
    lines += ["| package | send sites | traced |", "|---|---:|---:|"]
    for s in report.stats:
        lines.append(f"| {s.package} | {s.total} | {pct(s.coverage)} |")
    t = report.total
    lines.append(f"| **total** | {t.total} | {pct(t.coverage)} |")
    return "\n".join(lines) + "\n\n"
