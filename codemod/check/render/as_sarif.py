"""The SARIF 2.1.0 format: one run, every rule with its documentation, new and baselined results."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Tuple

from ..baseline import NONE
from ..report import Report
from ..rules import RULES
from ..stats import pct
from .common import fingerprints

__all__ = ["render_sarif"]

TOOL_URI = "https://github.com/thespian-trace/thespian-trace#migration-check"


def _sarif_uri(path: str) -> Tuple[str, Optional[str]]:
    p = Path(path)
    if p.is_absolute():
        return p.as_uri(), None
    return p.as_posix(), "%SRCROOT%"


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0 log: one run, all rules, new and baselined results (baselined ones suppressed)."""
    codes = list(RULES)
    rules = [
        {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.description},
            "fullDescription": {"text": f"{r.description}. Fix: {r.fix.format(path='PATH')}"},
            "help": {"text": r.explain()},
            "helpUri": TOOL_URI,
            "defaultConfiguration": {"level": r.level},
        }
        for r in RULES.values()
    ]
    ordered = sorted(report.ratchet.new + report.ratchet.accepted, key=lambda f: f.sort_key())
    accepted_ids = {id(f) for f in report.ratchet.accepted}
    fps = fingerprints(ordered)
    results = []
    for f, fp in zip(ordered, fps):
        uri, base = _sarif_uri(f.path)
        art: dict = {"uri": uri}
        if base:
            art["uriBaseId"] = base
        res: dict = {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code),
            "level": f.rule.level,
            "message": {"text": f"{f.message} (fix: {f.fix})"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": art,
                    "region": {"startLine": max(f.line, 1), "startColumn": max(f.col, 1)},
                },
                "logicalLocations": [{
                    "fullyQualifiedName": ".".join(
                        x for x in (f.module, f.cls, f.method) if x and x != NONE),
                    "kind": "function" if f.method != NONE else ("type" if f.cls != NONE else "module"),
                }],
            }],
            "partialFingerprints": {"thespianTraceSite/v1": fp},
            "properties": {"baselineKey": f.key.to_line().replace("\t", " ")},
        }
        if report.baseline_path is not None:
            if id(f) in accepted_ids:
                res["baselineState"] = "unchanged"
                res["suppressions"] = [{"kind": "external",
                                        "justification": f"recorded in baseline {report.baseline_path}"}]
            else:
                res["baselineState"] = "new"
        results.append(res)
    run: dict = {
        "tool": {"driver": {"name": "thespian-trace", "informationUri": TOOL_URI,
                            "semanticVersion": _version(), "rules": rules}},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(os.getcwd()).as_uri() + "/"}},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "staleBaselineEntries": [e.describe() for e in report.ratchet.stale],
            "adoption": {s.package: {"sendSites": s.total, "traced": s.traced} for s in report.stats},
        },
    }
    if report.ratchet.stale or report.coverage_failed:
        notes = []
        for e in report.ratchet.stale:
            notes.append({"level": "error",
                          "message": {"text": f"stale baseline entry {e.describe()}; {report.stale_hint()}"}})
        if report.coverage_failed:
            notes.append({"level": "error", "message": {
                "text": f"coverage {pct(report.total.coverage)} below --min-coverage {report.min_coverage:g}%"}})
        run["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": notes}]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }
    return json.dumps(doc, indent=2) + "\n"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("thespian-trace")
    except Exception:  # pragma: no cover - not installed
        return "0.0.0"
