"""Findings: what migration-check reports, and the driver that runs every rule over the analysis."""
from __future__ import annotations

import datetime as _dt
import os
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .baseline import NONE, BaselineEntry
from .rules import CHECKERS, PARSE_ERROR, RULES
from .rule import Rule
from .stats import PackageStats, count_file, package_for

__all__ = ["Finding", "FileContext", "Collected", "findings_from_analysis", "collect", "display_path"]


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
    def key(self) -> BaselineEntry:
        return BaselineEntry(self.code, self.module, self.cls or NONE, self.method or NONE, self.ordinal)

    @property
    def fix(self) -> str:
        """The command (or manual step) that fixes this finding."""
        if self.fix_hint:
            return self.fix_hint
        return self.rule.fix.format(path=shlex.quote(self.path))

    def sort_key(self) -> Tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.code)


def display_path(path: str) -> str:
    """A path as reports show it: relative to the working directory when below it, posix slashes."""
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


def clean(text: str) -> str:
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


class FileContext:
    """What a rule's ``check(ctx)`` sees for one file, and where it reports."""

    def __init__(self, fa, today: _dt.date, lines: _Lines, out: List[Finding], shown: Dict[str, str]) -> None:
        self.fa = fa
        self.today = today
        self._lines = lines
        self._out = out
        self._shown = shown
        self._optout_scope: Optional[Dict[Tuple[str, int], Tuple[Optional[str], Optional[str]]]] = None
        self._optout_counts: Dict[tuple, int] = {}
        self.clean = clean

    def display(self, path: str) -> str:
        got = self._shown.get(path)
        if got is None:
            got = self._shown[path] = display_path(path)
        return got

    def add(self, code: str, line: int, col: int, message: str, cls: Optional[str], method: Optional[str],
            ordinal: int, snippet: Optional[str] = None, fix: str = "") -> None:
        """Report a finding (``col`` is 0-based here, 1-based in the Finding)."""
        fa = self.fa
        self._out.append(Finding(
            code=code, path=self.display(fa.path), line=max(int(line or 1), 1), col=max(int(col or 0), 0) + 1,
            message=message, module=fa.module or NONE, cls=clean(cls) if cls else NONE,
            method=clean(method) if method else NONE, ordinal=ordinal,
            snippet=self._lines.get(fa.path, line) if snippet is None else snippet, fix_hint=fix))

    def codemod_fix(self, site) -> str:
        """The codemod command for a site; it names the files of traced bases the same run must rewrite."""
        own = os.path.abspath(self.fa.path)
        others = [p for p in site.needs if os.path.abspath(p) != own]
        if not others:
            return ""
        return "thespian-trace codemod " + " ".join(shlex.quote(self.display(p)) for p in [self.fa.path] + others)

    # ---- opt-outs ------------------------------------------------------------------------------
    def optouts(self):
        """The file's opt-out comments in line order."""
        return sorted(self.fa.optouts, key=lambda o: o.line)

    def _scope_of(self, o) -> Tuple[Optional[str], Optional[str]]:
        """The first thing an opt-out covers (class / method / external scope): its baseline identity."""
        if self._optout_scope is None:
            scope: Dict[Tuple[str, int], Tuple[Optional[str], Optional[str]]] = {}
            fa = self.fa
            for c in fa.classes:
                if c.optout is not None:
                    scope.setdefault((c.optout.path, c.optout.line), (c.qualname, None))
            for s in fa.send_sites:
                if s.optout is not None:
                    scope.setdefault((s.optout.path, s.optout.line), (s.class_name, s.method))
            for e in fa.external_sites:
                if e.optout is not None:
                    scope.setdefault((e.optout.path, e.optout.line), (None, e.scope or "<module>"))
            self._optout_scope = scope
        if o.file_level:
            return None, "<file>"
        return self._optout_scope.get((o.path, o.line), (None, None))

    def add_optout(self, code: str, o, message: str) -> None:
        """Report a problem with opt-out ``o`` (ordinals count per rule and scope)."""
        cls, method = self._scope_of(o)
        k = (code, cls, method)
        self._optout_counts[k] = self._optout_counts.get(k, 0) + 1
        raw = self._lines.raw(self.fa.path, o.line)
        idx = raw.find("# thespian-trace")
        col = max(idx if idx >= 0 else raw.find("#"), 0)
        self.add(code, o.line, col, message, cls, method, self._optout_counts[k] - 1, snippet=o.text)


@dataclass
class Collected:
    """What :func:`collect` found: findings, per-package adoption stats, number of files scanned."""

    findings: List[Finding]
    stats: List[PackageStats]
    files_scanned: int
    modules: Set[str] = field(default_factory=set)  # modules of all files scanned (parsed or not)
    unparsed_modules: Set[str] = field(default_factory=set)  # modules whose file failed to parse
    context_files: int = 0  # files under the root analysed for resolution only
    root: Optional[str] = None
    root_reason: str = ""
    skipped: list = field(default_factory=list)  # discovery.Skipped


def findings_from_analysis(repo, today: Optional[_dt.date] = None) -> Collected:
    """Run every rule over the target files of a :class:`codemod.analysis.RepoAnalysis`.

    Skipped: ``@generated`` files (the codemod skips them too) and sites covered by an opt-out comment
    (those are audited by TT005/TT006 instead). Opted-out sites still count as not traced in the stats.
    """
    today = today or _dt.date.today()
    lines = _Lines()
    findings: List[Finding] = []
    stats: Dict[str, PackageStats] = {}
    shown: Dict[str, str] = {}
    modules: Set[str] = set()
    unparsed: Set[str] = set()
    targets = repo.targets()
    for fa in targets:
        modules.add(fa.module or NONE)
        ctx = FileContext(fa, today, lines, findings, shown)
        if fa.parse_error:
            unparsed.add(fa.module or NONE)
            PARSE_ERROR.check(ctx)
            continue
        if fa.generated:
            continue
        name = package_for(fa, ctx.display(fa.path))
        count_file(stats.setdefault(name, PackageStats(name)), fa)
        for _code, check in CHECKERS:
            check(ctx)
    findings.sort(key=Finding.sort_key)
    return Collected(findings=findings, stats=sorted(stats.values(), key=lambda s: s.package),
                     files_scanned=len(targets), modules=modules, unparsed_modules=unparsed,
                     context_files=len(repo.files) - len(targets), root=repo.root, root_reason=repo.root_reason,
                     skipped=list(repo.skipped))


def collect(paths: Sequence[str], today: Optional[_dt.date] = None, exclude: Sequence[str] = (),
            root: Optional[str] = None, default_excludes: bool = True) -> Collected:
    """Analyse ``paths`` (with the rest of their repository as context) into findings and stats."""
    from ..analysis import analyze_paths

    repo = analyze_paths(list(paths), exclude=list(exclude), root=root, default_excludes=default_excludes)
    return findings_from_analysis(repo, today=today)
