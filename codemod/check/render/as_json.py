"""The JSON format: findings (new and accepted), stale entries, counts and adoption."""
from __future__ import annotations

import json

from ..baseline import NONE
from ..findings import Finding
from ..report import Report
from .common import code_counts, fingerprints

__all__ = ["render_json"]

TOOL_NAME = "thespian-trace migration-check"


def _finding_json(f: Finding, status: str, fingerprint: str) -> dict:
    return {
        "code": f.code,
        "rule": f.rule.name,
        "level": f.rule.level,
        "path": f.path,
        "line": f.line,
        "col": f.col,
        "message": f.message,
        "fix": f.fix,
        "module": f.module,
        "class": None if f.cls == NONE else f.cls,
        "method": None if f.method == NONE else f.method,
        "ordinal": f.ordinal,
        "baseline": status,
        "fingerprint": fingerprint,
    }


def render_json(report: Report) -> str:
    """A JSON document with findings (new and accepted), stale entries and the adoption summary."""
    t = report.total
    ordered = [(f, "new") for f in report.ratchet.new] + [(f, "accepted") for f in report.ratchet.accepted]
    # fingerprints are computed over all findings in source order, exactly as in SARIF
    by_source = sorted(range(len(ordered)), key=lambda i: ordered[i][0].sort_key())
    fps = dict(zip(by_source, fingerprints([ordered[i][0] for i in by_source])))
    doc = {
        "version": 1,
        "tool": TOOL_NAME,
        "exit_code": report.exit_code,
        "files_scanned": report.files_scanned,
        "findings": [_finding_json(f, status, fps[i]) for i, (f, status) in enumerate(ordered)],
        "stale_baseline_entries": [
            {"code": e.code, "module": e.module, "class": None if e.cls == NONE else e.cls,
             "method": None if e.method == NONE else e.method, "ordinal": e.ordinal}
            for e in report.ratchet.stale
        ],
        "stale_fix": report.stale_hint() if report.ratchet.stale else None,
        "unchecked_baseline_entries": [e.to_line().replace("\t", " ") for e in report.ratchet.carried],
        "counts": {"new": code_counts(report.ratchet.new),
                   "accepted": code_counts(report.ratchet.accepted)},
        "adoption": {
            "packages": [
                {"package": s.package, "send_sites": s.total, "traced": s.traced,
                 "untraced": s.untraced, "manual_review": s.manual, "unknown": s.unknown,
                 "coverage": round(s.coverage, 2)}
                for s in report.stats
            ],
            "send_sites": t.total,
            "traced": t.traced,
            "unknown": t.unknown,
            "coverage": round(t.coverage, 2),
            "min_coverage": report.min_coverage,
            "coverage_ok": not report.coverage_failed,
        },
        "baseline": report.baseline_path,
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
