"""What the analysis reports: plain, picklable dataclasses (see :mod:`codemod.analysis`)."""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ..discovery import Skipped
from ..sites import BY_ATTR, REF_FAMILY, SiteKey

__all__ = ["OptOut", "Unresolved", "BaseRef", "ClassInfo", "SendSite", "ExternalSite", "FileAnalysis",
           "RepoAnalysis", "UNTRACED", "TRACED", "MANUAL", "UNKNOWN"]

# SendSite.kind
UNTRACED = "untraced_send"
TRACED = "traced_send"
MANUAL = "manual_review"
UNKNOWN = "unknown"


@dataclass
class OptOut:
    """One ``# thespian-trace: ignore`` comment."""
    path: str
    line: int
    reason: Optional[str] = None
    until: Optional[datetime.date] = None
    until_raw: Optional[str] = None
    file_level: bool = False
    text: str = ""

    def expired(self, today: Optional[datetime.date] = None) -> bool:
        """True when ``until`` is set and lies strictly before ``today`` (default: today's date)."""
        if self.until is None:
            return False
        return self.until < (today or datetime.date.today())


@dataclass
class Unresolved:
    """A name the analysis could not resolve (never skipped silently)."""
    path: str
    line: int
    col: int
    name: str
    context: str
    reason: str


@dataclass
class BaseRef:
    """One base-class expression of a class."""
    text: str
    resolved: Optional[str]
    origin: str  # "project" | "external" | "builtin" | "unknown"
    is_actor: bool = False
    traced: bool = False
    reason: str = ""


@dataclass
class ClassInfo:
    """A class definition and its actor status."""
    name: str
    qualname: str
    module: str
    path: str
    line: int
    col: int
    bases: List[BaseRef] = field(default_factory=list)
    is_actor: bool = False
    traced: bool = False
    actor_kind: Optional[str] = None
    base_chain: List[str] = field(default_factory=list)
    defines_receive_message: bool = False
    defines_send: bool = False
    rebase: List[Tuple[int, str]] = field(default_factory=list)
    optout: Optional[OptOut] = None
    will_be_traced: bool = False
    # the files whose rewrite puts this class on a traced base (its own when it is rebased, those of the
    # project bases that are); a send in it is rewritten only in a run that rewrites all of them
    traced_by: List[str] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        """``module.qualname``."""
        return "%s.%s" % (self.module, self.qualname) if self.module else self.qualname


@dataclass
class SendSite:
    """A send site (see :mod:`codemod.sites`): where it is, what it is, what the codemod does with it."""
    path: str
    module: str
    line: int
    col: int
    end_line: int
    end_col: int
    class_name: Optional[str]
    method: str
    ordinal: int
    kind: str
    reason: str = ""
    optout: Optional[OptOut] = None
    rewritable: bool = False
    op: str = "send"                 # the attribute as written: send, traced_send, wakeupAfter, ...
    family: str = "send"             # ordinal family (sites.Operation.family, or sites.REF_FAMILY)
    needs: List[str] = field(default_factory=list)  # files the same run must rewrite (ClassInfo.traced_by)

    @property
    def site_key(self) -> SiteKey:
        """The identity the rewrite matches on."""
        return SiteKey(self.class_name, self.method, self.family, self.ordinal)

    @property
    def key(self) -> Tuple[str, Optional[str], str, str, int]:
        """Line-independent identity: ``(module, class_name, method, family, ordinal)``."""
        return (self.module, self.class_name, self.method, self.family, self.ordinal)

    @property
    def traced_name(self) -> str:
        """The method the codemod calls instead (``traced_send``, ``traced_wakeup_after``)."""
        return BY_ATTR[self.op].traced

    @property
    def is_ref(self) -> bool:
        """A send through an actor reference held by another object (never rewritten)."""
        return self.family == REF_FAMILY


@dataclass
class ExternalSite:
    """An ``ActorSystem`` ``ask``/``tell`` call (or its traced form) outside actors."""
    path: str
    module: str
    line: int
    col: int
    scope: str
    ordinal: int
    op: str
    traced: bool
    receiver: str = ""
    reason: str = ""
    optout: Optional[OptOut] = None
    rewritable: bool = False

    @property
    def key(self) -> Tuple[str, str, int]:
        """Line-independent identity: ``(module, scope, ordinal)``."""
        return (self.module, self.scope, self.ordinal)


@dataclass
class FileAnalysis:
    """Everything the analysis found in one file."""
    path: str
    module: str
    parse_error: Optional[str] = None
    generated: bool = False
    file_optout: Optional[OptOut] = None
    classes: List[ClassInfo] = field(default_factory=list)
    send_sites: List[SendSite] = field(default_factory=list)
    external_sites: List[ExternalSite] = field(default_factory=list)
    optouts: List[OptOut] = field(default_factory=list)
    unresolved: List[Unresolved] = field(default_factory=list)
    # module-level import bindings: (bound name, kind "import"|"from", module, imported name, line, toplevel)
    imports: List[Tuple[str, str, str, Optional[str], int, bool]] = field(default_factory=list)
    root_dir: str = ""
    # False for files under the analysed root but outside the PATHS: read for resolution only
    target: bool = True


@dataclass
class RepoAnalysis:
    """The analysis of a set of files, resolved together."""
    files: List[FileAnalysis] = field(default_factory=list)
    root: Optional[str] = None
    root_reason: str = ""
    skipped: List[Skipped] = field(default_factory=list)

    def targets(self) -> List[FileAnalysis]:
        """The files under the PATHS (the others were analysed for resolution only)."""
        return [f for f in self.files if f.target]

    def is_target(self, path: str) -> bool:
        """Is ``path`` a target that parsed (so a rewrite of it can happen in this run)?"""
        cache = self.__dict__.get("_target_paths")
        if cache is None:
            cache = self.__dict__["_target_paths"] = {
                os.path.normcase(os.path.abspath(f.path)) for f in self.files if f.target and not f.parse_error}
        return os.path.normcase(os.path.abspath(path)) in cache

    def classes(self) -> List[ClassInfo]:
        """All classes of the target files."""
        return [c for f in self.targets() for c in f.classes]

    def actor_classes(self) -> List[ClassInfo]:
        """All classes of the target files that are Thespian actors (directly or transitively)."""
        return [c for c in self.classes() if c.is_actor]

    def class_by_qualname(self, full_name: str) -> Optional[ClassInfo]:
        """Look a class up by ``module.qualname`` (in any analysed file)."""
        for f in self.files:
            for c in f.classes:
                if c.full_name == full_name:
                    return c
        return None

    def file_for(self, path: str) -> Optional[FileAnalysis]:
        """The FileAnalysis of ``path`` (compared after normalisation)."""
        want = os.path.normcase(os.path.abspath(path))
        for f in self.files:
            if f.path == path or os.path.normcase(os.path.abspath(f.path)) == want:
                return f
        return None

    def send_sites(self) -> List[SendSite]:
        """All send sites of the target files."""
        return [s for f in self.targets() for s in f.send_sites]

    def external_sites(self) -> List[ExternalSite]:
        """All external ask/tell sites of the target files."""
        return [s for f in self.targets() for s in f.external_sites]

    def manual_review(self) -> List[SendSite]:
        """Send sites of the target files needing manual review that are not opted out."""
        return [s for s in self.send_sites() if s.kind == MANUAL and s.optout is None]

    def unresolved(self) -> List[Unresolved]:
        """All unresolved names of the target files."""
        return [u for f in self.targets() for u in f.unresolved]

    def parse_errors(self) -> List[FileAnalysis]:
        """Target files that could not be parsed."""
        return [f for f in self.targets() if f.parse_error]
