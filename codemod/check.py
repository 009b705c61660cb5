"""``thespian-trace migration-check``: a CI gate that keeps tracing adoption moving forward.

The check runs the shared repository-wide analysis (:mod:`codemod.analysis`) over PATHS and turns what it
finds into *findings*, each with a stable rule code, a ``path:line:col`` location and the command that fixes
it:

======  =========================================================================================
TT001   untraced ``self.send`` in an actor class          (fix: ``thespian-trace codemod PATH``)
TT002   actor class not on a traced base                  (fix: ``thespian-trace codemod PATH``)
TT003   untraced external ``ActorSystem().ask/tell``      (fix: ``thespian-trace codemod --external PATH``)
TT004   indirect send the codemod cannot rewrite          (fix: manual review)
TT005   opt-out comment without a reason                  (fix: add ``reason=...`` to the comment)
TT006   opt-out whose ``until=YYYY-MM-DD`` date has passed (fix: migrate, or move the date)
TT007   name the analysis could not resolve               (fix: manual review)
TT900   file that cannot be parsed                        (fix: fix the syntax error)
======  =========================================================================================

Baseline ratchet
----------------
``--baseline FILE`` accepts the findings recorded in FILE and fails only on new ones. Entries are keyed on
*meaning*: ``rule, module, class, method, ordinal`` (the ordinal of the site within its method, as the
analysis counts it), never line numbers, so inserting lines or reordering methods does not churn the file.
Matching is done per ``(rule, module, class, method)`` group: exact ordinals first, then by count, so a
traced send inserted *above* a baselined one in the same method does not turn the old one into a "new"
finding (an untraced one grows the group and is new). A baseline entry with no finding left is *stale* and
fails the check (with the exact command that removes it), so the baseline can only shrink.
``--update-baseline`` drops stale entries; it adds new findings only when the file does not exist yet or
with ``--allow-growth``. Entries of a module that currently fails to parse, and of ``--ignore``d rules, are
kept unchecked (neither stale nor dropped), so a broken file cannot shrink the baseline by accident.

File format (UTF-8, ``#`` comments, one tab-separated entry per line, sorted, ``-`` for "none")::

    # thespian-trace migration-check baseline v1
    TT001	app.workers	Worker	receiveMsg_Job	2

Exit codes: 0 clean, 1 findings / regressions / stale entries / coverage below ``--min-coverage``,
2 usage or I/O error (including an unreadable or malformed baseline).

"Today" for TT006 comes from ``--today YYYY-MM-DD`` (hidden) or ``THESPIAN_TRACE_TODAY``, else the clock.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, TextIO, Tuple

__all__ = [
    "RULES",
    "Rule",
    "Finding",
    "BaselineEntry",
    "BaselineError",
    "Ratchet",
    "PackageStats",
    "Report",
    "load_baseline",
    "write_baseline",
    "format_baseline",
    "parse_baseline",
    "compare_baseline",
    "render_text",
    "render_json",
    "render_github",
    "render_sarif",
    "collect",
    "main",
]

TOOL_NAME = "thespian-trace migration-check"
TOOL_URI = "https://github.com/thespian-trace/thespian-trace#migration-check"
BASELINE_HEADER = "# thespian-trace migration-check baseline v1"
NONE = "-"
TODAY_ENV = "THESPIAN_TRACE_TODAY"
# GitHub shows at most 10 annotations of each type (error/warning/notice) per step and 50 per job
# (actions/toolkit docs/problem-matchers.md, "Limitations"). We emit at most this many of each type
# and fold the rest into one summary annotation plus the step summary.
GITHUB_ANNOTATIONS_PER_TYPE = 10

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


# --------------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """A stable rule: code, short name, one-line description, SARIF/GitHub level and how to fix it."""

    code: str
    name: str
    description: str
    level: str  # "error" | "warning"
    fix: str  # template; {path} is replaced by the file's path (shell-quoted)


RULES: Dict[str, Rule] = {
    r.code: r
    for r in (
        Rule("TT001", "untraced-send", "untraced `self.send` in an actor class", "error",
             "thespian-trace codemod {path}"),
        Rule("TT002", "untraced-actor-class", "actor class not on a traced base", "error",
             "thespian-trace codemod {path}"),
        Rule("TT003", "untraced-external-send", "untraced external `ActorSystem` ask/tell", "error",
             "thespian-trace codemod --external {path}"),
        Rule("TT004", "manual-review-send", "indirect send the codemod cannot rewrite safely", "error",
             "manual review: call `self.traced_send(...)` directly, or add "
             "`# thespian-trace: ignore reason=...`"),
        Rule("TT005", "opt-out-without-reason", "opt-out comment without a reason", "warning",
             "add a reason: `# thespian-trace: ignore reason=<why>`"),
        Rule("TT006", "opt-out-expired", "opt-out whose until= date has passed", "error",
             "remove the opt-out and run `thespian-trace codemod {path}`, or move the until= date"),
        Rule("TT007", "unresolved-name", "base class or name the analysis could not resolve", "warning",
             "manual review: make the base importable from PATHS or add an opt-out with a reason"),
        Rule("TT900", "parse-error", "file cannot be parsed", "error",
             "fix the syntax error (the codemod skips this file until then)"),
    )
}


# ------------------------------------------------------------------------------------------ findings
@dataclass(frozen=True)
class Finding:
    """One reported problem. ``module/cls/method/ordinal`` give its meaning-based identity."""

    code: str
    path: str  # display path (posix, relative to the working directory when possible)
    line: int  # 1-based
    col: int  # 1-based
    message: str
    module: str
    cls: str = NONE
    method: str = NONE
    ordinal: int = 0
    snippet: str = ""  # normalised source text of the site, for content fingerprints
    fix_hint: str = ""  # overrides the rule's fix when set

    @property
    def rule(self) -> Rule:
        return RULES[self.code]

    @property
    def key(self) -> "BaselineEntry":
        return BaselineEntry(self.code, self.module, self.cls or NONE, self.method or NONE, self.ordinal)

    @property
    def fix(self) -> str:
        """The command (or manual step) that fixes this finding."""
        if self.fix_hint:
            return self.fix_hint
        return self.rule.fix.format(path=shlex.quote(self.path))

    def sort_key(self) -> Tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.code)


@dataclass(frozen=True, order=True)
class BaselineEntry:
    """A recorded finding, keyed on meaning (never on line numbers)."""

    code: str
    module: str
    cls: str
    method: str
    ordinal: int

    @property
    def group(self) -> Tuple[str, str, str, str]:
        return (self.code, self.module, self.cls, self.method)

    def to_line(self) -> str:
        return "\t".join((self.code, self.module, self.cls, self.method, str(self.ordinal)))

    def describe(self) -> str:
        where = self.module
        if self.cls != NONE:
            where += ":" + self.cls
            if self.method != NONE:
                where += "." + self.method
        elif self.method != NONE:
            where += ":" + self.method
        return f"{self.code} {where} #{self.ordinal}"


class BaselineError(Exception):
    """The baseline file cannot be read or is malformed (exit code 2)."""


def parse_baseline(text: str, source: str = "<baseline>") -> List[BaselineEntry]:
    """Parse baseline text; raises :class:`BaselineError` on malformed lines. Duplicates collapse."""
    entries = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith(("<<<<<<<", "=======", ">>>>>>>")):
            raise BaselineError(f"{source}:{lineno}: unresolved merge conflict marker")
        parts = line.split("\t")
        if len(parts) != 5:
            raise BaselineError(f"{source}:{lineno}: expected 5 tab-separated fields, got {len(parts)}")
        code, module, cls, method, ordinal = (p.strip() for p in parts)
        if code not in RULES:
            raise BaselineError(f"{source}:{lineno}: unknown rule code {code!r}")
        if not module:
            raise BaselineError(f"{source}:{lineno}: empty module")
        try:
            ordinal_i = int(ordinal)
        except ValueError:
            raise BaselineError(f"{source}:{lineno}: ordinal {ordinal!r} is not an integer") from None
        entries.add(BaselineEntry(code, module, cls or NONE, method or NONE, ordinal_i))
    return sorted(entries)


def format_baseline(entries: Iterable[BaselineEntry]) -> str:
    """Serialise entries: header, then one sorted, de-duplicated entry per line."""
    lines = [
        BASELINE_HEADER,
        "# Accepted untraced sites, keyed on meaning: rule, module, class, method, ordinal in method.",
        "# Only shrinks: regenerate with `thespian-trace migration-check PATHS --baseline FILE "
        "--update-baseline`.",
    ]
    lines.extend(e.to_line() for e in sorted(set(entries)))
    return "\n".join(lines) + "\n"


def load_baseline(path: str) -> List[BaselineEntry]:
    """Read a baseline file; raises :class:`BaselineError` when unreadable or malformed."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        hint = (" (create it with --update-baseline)" if isinstance(exc, FileNotFoundError) else "")
        raise BaselineError(f"cannot read baseline {path}: {exc}{hint}") from exc
    return parse_baseline(text, path)


def write_baseline(path: str, entries: Iterable[BaselineEntry]) -> None:
    """Write the baseline atomically (temp file + rename); raises OSError on failure."""
    text = format_baseline(entries)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".baseline-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@dataclass
class Ratchet:
    """Result of comparing current findings with a baseline."""

    new: List[Finding] = field(default_factory=list)
    accepted: List[Finding] = field(default_factory=list)
    stale: List[BaselineEntry] = field(default_factory=list)
    # entries that could not be judged this run (their module failed to parse, or their rule is
    # --ignore'd): neither accepted nor stale, and kept as they are by --update-baseline
    carried: List[BaselineEntry] = field(default_factory=list)


def compare_baseline(findings: Sequence[Finding], entries: Sequence[BaselineEntry]) -> Ratchet:
    """Split findings into new/accepted and find stale entries.

    Per ``(rule, module, class, method)`` group, exact ordinals match first; the rest pair up by count
    (lowest ordinals first), so ordinal shifts inside a method neither create "new" findings nor stale
    entries as long as the number of sites in the group did not grow or shrink.
    """
    by_group_f: Dict[Tuple[str, str, str, str], List[Finding]] = {}
    for f in findings:
        by_group_f.setdefault(f.key.group, []).append(f)
    by_group_e: Dict[Tuple[str, str, str, str], List[BaselineEntry]] = {}
    for e in sorted(set(entries)):
        by_group_e.setdefault(e.group, []).append(e)

    result = Ratchet()
    for group in set(by_group_f) | set(by_group_e):
        cur = sorted(by_group_f.get(group, []), key=lambda f: (f.ordinal, f.line, f.col))
        base = list(by_group_e.get(group, []))
        base_ordinals = {e.ordinal: e for e in base}
        unmatched_f: List[Finding] = []
        for f in cur:
            e = base_ordinals.pop(f.ordinal, None)
            if e is not None:
                result.accepted.append(f)
            else:
                unmatched_f.append(f)
        leftover = sorted(base_ordinals.values())
        n = min(len(unmatched_f), len(leftover))
        result.accepted.extend(unmatched_f[:n])
        result.new.extend(unmatched_f[n:])
        result.stale.extend(leftover[n:])
    result.new.sort(key=Finding.sort_key)
    result.accepted.sort(key=Finding.sort_key)
    result.stale.sort()
    return result


# --------------------------------------------------------------------------------------------- stats
@dataclass
class PackageStats:
    """Send-site adoption for one package."""

    package: str
    traced: int = 0
    untraced: int = 0
    manual: int = 0
    opted_out: int = 0

    @property
    def total(self) -> int:
        return self.traced + self.untraced + self.manual + self.opted_out

    @property
    def coverage(self) -> float:
        """Percentage of send sites that are traced (100.0 when there are none)."""
        return 100.0 if self.total == 0 else 100.0 * self.traced / self.total

    def line(self) -> str:
        extra = f", {self.manual} need manual review" if self.manual else ""
        extra += f", {self.opted_out} opted out" if self.opted_out else ""
        return (f"{self.package}: {self.total} send sites, {_pct(self.coverage)} traced "
                f"({self.untraced} untraced{extra})")


def _pct(value: float) -> str:
    # floor to 1 decimal: never claim 100% while one site is untraced
    floored = int(value * 10) / 10
    return f"{floored:g}%"


def package_of(module: str) -> str:
    """The package a module belongs to (its dotted parent), ``<root>`` for a top-level module."""
    return module.rpartition(".")[0] or "<root>"


def total_stats(stats: Sequence[PackageStats]) -> PackageStats:
    t = PackageStats("total")
    for s in stats:
        t.traced += s.traced
        t.untraced += s.untraced
        t.manual += s.manual
        t.opted_out += s.opted_out
    return t


# -------------------------------------------------------------------------------------------- report
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
        out.append(f"adoption: {t.total} send sites, {_pct(t.coverage)} traced")
        if self.min_coverage is not None:
            verdict = "FAILED" if self.coverage_failed else "ok"
            out.append(f"coverage floor {self.min_coverage:g}%: {verdict}")
        return out


# ------------------------------------------------------------------------------------------ reporters
def _code_counts(findings: Iterable[Finding]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for f in findings:
        counts[f.code] = counts.get(f.code, 0) + 1
    return dict(sorted(counts.items()))


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
        "counts": {"new": _code_counts(report.ratchet.new),
                   "accepted": _code_counts(report.ratchet.accepted)},
        "adoption": {
            "packages": [
                {"package": s.package, "send_sites": s.total, "traced": s.traced,
                 "untraced": s.untraced, "manual_review": s.manual,
                 "coverage": round(s.coverage, 2)}
                for s in report.stats
            ],
            "send_sites": t.total,
            "traced": t.traced,
            "coverage": round(t.coverage, 2),
            "min_coverage": report.min_coverage,
            "coverage_ok": not report.coverage_failed,
        },
        "baseline": report.baseline_path,
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


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
                f"::{level} file={_gh_prop(f.path)},line={f.line},col={f.col},"
                f"title={_gh_prop(f.code + ' ' + f.rule.name)}::{_gh_data(f.message + ' (fix: ' + f.fix + ')')}"
            )
        if rest:
            counts = ", ".join(f"{c}: {n}" for c, n in _code_counts(rest).items())
            files = sorted({f.path for f in rest})
            listed = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            out.append(
                f"::{level} title={_gh_prop(f'{len(rest)} more migration-check {level}s')}::"
                + _gh_data(f"{len(rest)} more {level}s not shown as annotations ({counts}) in {listed}. "
                           "See the log below or run `thespian-trace migration-check --format text`.")
            )
    if stale:
        names = "; ".join(e.describe() for e in stale[:5]) + (" ..." if len(stale) > 5 else "")
        out.append(
            f"::error title={_gh_prop(f'{len(stale)} stale baseline entries')}::"
            + _gh_data(f"{len(stale)} baseline entries no longer match a finding ({names}); "
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
        for code, n in _code_counts(r.new).items():
            lines.append(f"| {code} {RULES[code].name} | {n} | {RULES[code].fix.format(path='PATH')} |")
        lines.append("")
    lines += ["| package | send sites | traced |", "|---|---:|---:|"]
    for s in report.stats:
        lines.append(f"| {s.package} | {s.total} | {_pct(s.coverage)} |")
    t = report.total
    lines.append(f"| **total** | {t.total} | {_pct(t.coverage)} |")
    return "\n".join(lines) + "\n\n"


def fingerprints(findings: Sequence[Finding]) -> List[str]:
    """Content-based fingerprints: hash of rule, module, class, method and normalised site text.

    Line numbers are not part of it, so a moved site keeps its fingerprint; identical texts in the
    same method are told apart by their occurrence index.
    """
    seen: Dict[str, int] = {}
    out = []
    for f in findings:
        text = " ".join(f.snippet.split())
        base = "\x1f".join((f.code, f.module, f.cls, f.method, text))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(hashlib.sha256(f"{base}\x1f{n}".encode("utf-8")).hexdigest()[:32])
    return out


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
            "help": {"text": f"Fix: {r.fix.format(path='PATH')}"},
            "helpUri": TOOL_URI,
            "defaultConfiguration": {"level": r.level},
        }
        for r in RULES.values()
    ]
    ordered = sorted(report.ratchet.new + report.ratchet.accepted, key=Finding.sort_key)
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
                "text": f"coverage {_pct(report.total.coverage)} below --min-coverage {report.min_coverage:g}%"}})
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


# ------------------------------------------------------------------------------------------- collect
@dataclass
class Collected:
    """What :func:`collect` found: findings, per-package adoption stats, number of files scanned."""

    findings: List[Finding]
    stats: List[PackageStats]
    files_scanned: int
    modules: Set[str] = field(default_factory=set)  # modules of all files scanned (parsed or not)
    unparsed_modules: Set[str] = field(default_factory=set)  # modules whose file failed to parse


def collect(paths: Sequence[str], today: Optional[_dt.date] = None,
            exclude: Sequence[str] = ()) -> Collected:
    """Run the shared analysis over ``paths`` and turn it into findings and adoption stats."""
    from .analysis import analyze_paths

    repo = analyze_paths(list(paths), exclude=list(exclude))
    return findings_from_analysis(repo, today=today)


def _display_path(path: str) -> str:
    p = path
    if os.path.isabs(p):
        try:
            rel = os.path.relpath(p)
            if not rel.startswith(".."):
                p = rel
        except ValueError:  # other drive on Windows
            pass
    p = p.replace(os.sep, "/")
    return p[2:] if p.startswith("./") else p


def _clean(text: str) -> str:
    """Make a name safe for a tab-separated baseline field."""
    return " ".join(str(text).split()) or NONE


class _Lines:
    """Source lines for content fingerprints, read only for files that have findings."""

    def __init__(self) -> None:
        self._cache: Dict[str, List[str]] = {}

    def get(self, path: str, line: int) -> str:
        return self.raw(path, line).strip()

    def raw(self, path: str, line: int) -> str:
        lines = self._cache.get(path)
        if lines is None:
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                lines = data.decode("utf-8", "replace").splitlines()
            except OSError:
                lines = []
            self._cache[path] = lines
        return lines[line - 1] if 0 < line <= len(lines) else ""


def findings_from_analysis(repo, today: Optional[_dt.date] = None) -> Collected:
    """Turn a :class:`codemod.analysis.RepoAnalysis` into findings and per-package adoption stats.

    Skipped: ``@generated`` files (the codemod skips them too) and sites covered by an opt-out comment
    (those are audited by TT005/TT006 instead). Opted-out sites still count as not traced in the stats.
    """
    today = today or _dt.date.today()
    lines = _Lines()
    findings: List[Finding] = []
    stats: Dict[str, PackageStats] = {}
    scanned = 0

    shown: Dict[str, str] = {}

    def add(code: str, fa, line: int, col: int, message: str, cls: Optional[str], method: Optional[str],
            ordinal: int, snippet: Optional[str] = None, fix: str = "") -> None:
        path = shown.get(fa.path)
        if path is None:
            path = shown[fa.path] = _display_path(fa.path)
        findings.append(Finding(
            code=code, path=path, line=max(int(line or 1), 1), col=max(int(col or 0), 0) + 1,
            message=message, module=fa.module or NONE, cls=_clean(cls) if cls else NONE,
            method=_clean(method) if method else NONE, ordinal=ordinal,
            snippet=lines.get(fa.path, line) if snippet is None else snippet, fix_hint=fix))

    modules: Set[str] = set()
    unparsed: Set[str] = set()
    for fa in repo.files:
        scanned += 1
        modules.add(fa.module or NONE)
        if fa.parse_error:
            unparsed.add(fa.module or NONE)
            m = re.match(r"line (\d+)(?::(\d+))?", fa.parse_error)
            line = int(m.group(1)) if m else 1
            add("TT900", fa, line, 0, f"cannot parse file: {fa.parse_error}", None, None, 0,
                snippet=fa.parse_error)
            continue
        if fa.generated:
            continue
        pkg = stats.setdefault(_package_for(fa), PackageStats(_package_for(fa)))
        # scope of each opt-out = first thing it covers (class / method / external scope)
        optout_scope: Dict[Tuple[str, int], Tuple[Optional[str], Optional[str]]] = {}

        for c in fa.classes:
            if c.optout is not None:
                optout_scope.setdefault((c.optout.path, c.optout.line), (c.qualname, None))
            if c.rebase and c.optout is None:
                bases = ", ".join(c.bases[i].text for i, _ in c.rebase)
                targets = ", ".join(name for _, name in c.rebase)
                add("TT002", fa, c.line, c.col,
                    f"actor class {c.qualname} is not on a traced base ({bases} -> {targets})",
                    c.qualname, None, 0)

        for s in fa.send_sites:
            where = f"{s.class_name}.{s.method}" if s.class_name else s.method
            if s.optout is not None:
                optout_scope.setdefault((s.optout.path, s.optout.line), (s.class_name, s.method))
                if s.kind == "traced_send":
                    pkg.traced += 1
                else:
                    pkg.opted_out += 1
                continue
            if s.kind == "traced_send":
                pkg.traced += 1
            elif s.kind == "untraced_send":
                pkg.untraced += 1
                add("TT001", fa, s.line, s.col, f"untraced `self.send(...)` in actor {where}",
                    s.class_name, s.method, s.ordinal)
            else:
                pkg.manual += 1
                add("TT004", fa, s.line, s.col, f"send in {where} needs manual review: {s.reason}",
                    s.class_name, s.method, s.ordinal)

        for e in fa.external_sites:
            scope = e.scope or "<module>"
            if e.optout is not None:
                optout_scope.setdefault((e.optout.path, e.optout.line), (None, scope))
                if e.traced:
                    pkg.traced += 1
                else:
                    pkg.opted_out += 1
                continue
            if e.traced:
                pkg.traced += 1
                continue
            pkg.untraced += 1
            call = f"{e.receiver}.{e.op}(...)" if e.receiver else f"{e.op}(...)"
            if e.reason:
                add("TT003", fa, e.line, e.col,
                    f"untraced external `{call}` in {scope} ({e.reason})", None, scope, e.ordinal,
                    fix=f"manual review: call `traced_{e.op}(asys, ...)` from thespian_trace by hand")
            else:
                add("TT003", fa, e.line, e.col, f"untraced external `{call}` in {scope}",
                    None, scope, e.ordinal)

        counters: Dict[Tuple[str, Optional[str], Optional[str]], int] = {}
        for o in sorted(fa.optouts, key=lambda o: o.line):
            cls, method = optout_scope.get((o.path, o.line), (None, None))
            if o.file_level:
                cls, method = None, "<file>"
            problems = []
            if not o.reason:
                problems.append(("TT005", f"opt-out `{o.text}` has no reason"))
            if o.until_raw and o.until is None:
                problems.append(("TT006", f"opt-out `{o.text}` has an invalid until= date {o.until_raw!r}"
                                          " (use YYYY-MM-DD)"))
            elif o.expired(today):
                problems.append(("TT006", f"opt-out `{o.text}` expired on {o.until.isoformat()}"))
            for code, msg in problems:
                k = (code, cls, method)
                counters[k] = counters.get(k, 0) + 1
                add(code, fa, o.line, _optout_col(fa.path, o.line, lines), msg, cls, method, counters[k] - 1,
                    snippet=o.text)

        name_counts: Dict[str, int] = {}
        for u in fa.unresolved:
            key = _clean(u.name)
            name_counts[key] = name_counts.get(key, 0) + 1
            add("TT007", fa, u.line, u.col, f"cannot resolve `{u.name}` ({u.context}): {u.reason}",
                None, key, name_counts[key] - 1)

    findings.sort(key=Finding.sort_key)
    return Collected(findings=findings, stats=sorted(stats.values(), key=lambda s: s.package),
                     files_scanned=scanned, modules=modules, unparsed_modules=unparsed)


def _optout_col(path: str, line: int, lines: "_Lines") -> int:
    """0-based column of the opt-out comment on ``line`` (0 when unknown)."""
    raw = lines.raw(path, line)
    idx = raw.find("# thespian-trace")
    return max(idx if idx >= 0 else raw.find("#"), 0)


def _package_for(fa) -> str:
    """Package of a file: the dotted parent of its module, else its directory (``<root>`` for .)."""
    module = fa.module or ""
    if "." in module:
        return package_of(module)
    if os.path.basename(fa.path) == "__init__.py" and module:
        return module
    d = os.path.dirname(_display_path(fa.path))
    return d or "<root>"


# ------------------------------------------------------------------------------------------------ CLI
def _today(value: Optional[str]) -> _dt.date:
    raw = value or os.environ.get(TODAY_ENV)
    if raw:
        return _dt.date.fromisoformat(raw)
    return _dt.date.today()


def _coverage_arg(value: str) -> float:
    try:
        pct = float(value.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {value!r}") from None
    if not 0.0 <= pct <= 100.0:
        raise argparse.ArgumentTypeError(f"percentage must be within 0..100, got {value!r}")
    return pct


def _date_arg(value: str) -> str:
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``migration-check`` argument parser."""
    p = argparse.ArgumentParser(
        prog="thespian-trace migration-check",
        description="Report untraced Thespian send sites and actor classes; a ratcheting CI gate.",
        epilog="exit codes: 0 clean, 1 findings/regressions/stale baseline/coverage below floor, "
               "2 usage or I/O error",
    )
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="files or directories to check (default: .)")
    p.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text",
                   help="output format (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--baseline", metavar="FILE",
                   help="accept the findings recorded in FILE; fail only on new ones and on stale entries")
    p.add_argument("--update-baseline", action="store_true",
                   help="write the baseline FILE: drop stale entries; new findings are only added when "
                        "FILE does not exist yet or with --allow-growth")
    p.add_argument("--allow-growth", action="store_true",
                   help="with --update-baseline: also record new findings (the baseline grows)")
    p.add_argument("--min-coverage", type=_coverage_arg, metavar="PCT",
                   help="fail when fewer than PCT%% of send sites are traced")
    p.add_argument("--ignore", action="append", default=[], metavar="CODE",
                   help="do not report this rule code (repeatable, comma-separated allowed)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="skip files matching GLOB (repeatable)")
    p.add_argument("--show-accepted", action="store_true",
                   help="text format: also list findings accepted by the baseline")
    p.add_argument("--today", type=_date_arg, help=argparse.SUPPRESS)
    return p


def _update_command(args: argparse.Namespace) -> str:
    parts = ["thespian-trace", "migration-check", *args.paths, "--baseline", args.baseline,
             "--update-baseline"]
    for g in args.exclude:
        parts += ["--exclude", g]
    for c in args.ignore:
        parts += ["--ignore", c]
    return shlex.join(parts)


def run_check(args: argparse.Namespace, stderr: TextIO) -> Tuple[Report, int]:
    """Collect findings, apply the baseline (and update it) and build the report. Raises on I/O errors."""
    ignore = {c.strip().upper() for item in args.ignore for c in item.split(",") if c.strip()}
    unknown = ignore - set(RULES)
    if unknown:
        raise UsageError(f"--ignore: unknown rule code(s): {', '.join(sorted(unknown))}")
    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE")
    if args.allow_growth and not args.update_baseline:
        raise UsageError("--allow-growth only makes sense with --update-baseline")
    for p in args.paths:
        if not os.path.exists(p):
            raise UsageError(f"no such file or directory: {p}")

    collected = collect(args.paths, today=_today(args.today), exclude=args.exclude)
    findings = [f for f in collected.findings if f.code not in ignore]

    entries: List[BaselineEntry] = []
    baseline_exists = bool(args.baseline) and os.path.exists(args.baseline)
    if args.baseline and (baseline_exists or not args.update_baseline):
        entries = load_baseline(args.baseline)  # BaselineError -> exit 2 (also when missing)
    def undecidable(e: BaselineEntry) -> bool:
        return e.code in ignore or (e.module in collected.unparsed_modules and e.code != "TT900")

    carried = [e for e in entries if undecidable(e)]
    ratchet = compare_baseline(findings, [e for e in entries if not undecidable(e)]) if args.baseline \
        else Ratchet(new=sorted(findings, key=Finding.sort_key))
    ratchet.carried = carried

    report = Report(findings=findings, ratchet=ratchet, stats=collected.stats,
                    files_scanned=collected.files_scanned, baseline_path=args.baseline,
                    update_command=_update_command(args) if args.baseline else None,
                    min_coverage=args.min_coverage,
                    stale_outside=sum(1 for e in ratchet.stale if e.module not in collected.modules))
    if args.update_baseline:
        grow = args.allow_growth or not baseline_exists
        keep = ratchet.accepted + (ratchet.new if grow else [])
        write_baseline(args.baseline, [f.key for f in keep] + carried)
        report.baseline_written = args.baseline
        report.growth_refused = 0 if grow else len(ratchet.new)
        report.stale_removed = len(ratchet.stale)
        # the written baseline has no stale entries any more and accepts what it recorded
        report.ratchet = Ratchet(new=[] if grow else ratchet.new,
                                 accepted=sorted(keep, key=Finding.sort_key), stale=[], carried=carried)
    return report, report.exit_code


class UsageError(Exception):
    """Bad combination of arguments (exit code 2)."""


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point for ``thespian-trace migration-check ARGS``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    stderr = sys.stderr
    try:
        report, code = run_check(args, stderr)
    except UsageError as exc:
        parser.print_usage(stderr)
        print(f"thespian-trace migration-check: error: {exc}", file=stderr)
        return EXIT_USAGE
    except BaselineError as exc:
        print(f"thespian-trace migration-check: error: {exc}", file=stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"thespian-trace migration-check: I/O error: {exc}", file=stderr)
        return EXIT_USAGE

    render = {"text": render_text, "json": render_json, "github": render_github,
              "sarif": render_sarif}[args.format]
    if args.format == "text":
        body = render_text(report, show_accepted=args.show_accepted)
    else:
        body = render(report)
    try:
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(body)
        else:
            sys.stdout.write(body)
    except OSError as exc:
        print(f"thespian-trace migration-check: I/O error: {exc}", file=stderr)
        return EXIT_USAGE
    if args.output or args.format in ("json", "sarif"):
        # machine formats keep stdout clean; humans still get the verdict
        print("\n".join(report.summary_lines()), file=stderr if not args.output else sys.stdout)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
