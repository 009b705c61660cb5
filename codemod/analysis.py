"""Repository-wide Thespian actor analysis, shared by the codemod and migration-check.

Built on the stdlib :mod:`ast` module only (fast; LibCST is used solely by the rewriter,
and only on files that this analysis says need a change).

Entry points
============
``analyze_paths(paths, include=(), exclude=(), respect_gitignore=True) -> RepoAnalysis``
    Discover ``*.py`` files under ``paths`` (see :func:`iter_python_files`) and analyze them together.
``analyze_sources({path: text_or_bytes, ...}) -> RepoAnalysis``
    Same, for in-memory files (tests); ``__init__.py`` keys make packages.
``analyze_files(files, contents=None) -> RepoAnalysis``
    Exactly these paths (``contents`` may map path -> bytes already read).
``iter_python_files(paths, include=(), exclude=(), respect_gitignore=True) -> list[str]``
    The file discovery used by both CLIs: directories are walked (hidden directories, ``__pycache__``,
    ``node_modules``, ``*.egg-info`` and virtualenvs skipped), ``.gitignore`` files from the git root
    down are honoured (pathspec), ``include``/``exclude`` are gitwildmatch globs matched against the
    path relative to the argument it was found under (a pattern without ``/`` matches the basename).
    Files named explicitly are always kept unless excluded.

Data model (all plain dataclasses, picklable)
=============================================
``RepoAnalysis``
    ``files: list[FileAnalysis]``; helpers ``classes()``, ``actor_classes()``, ``class_by_qualname(q)``,
    ``file_for(path)``, ``send_sites()``, ``external_sites()``, ``manual_review()``, ``unresolved()``.
``FileAnalysis``
    ``path`` (as discovered), ``module`` (dotted, from the ``__init__.py`` chain; a file outside any
    package is its stem), ``parse_error`` (``None`` or ``"line N: message"``; such a file has no other
    findings), ``generated`` (a ``#`` comment line contains ``@generated``;
    the codemod skips such files), ``file_optout`` (``OptOut`` or ``None``),
    ``classes: list[ClassInfo]``, ``send_sites: list[SendSite]``, ``external_sites: list[ExternalSite]``,
    ``optouts: list[OptOut]``, ``unresolved: list[Unresolved]``.
``ClassInfo``
    ``name``, ``qualname`` (``Outer.Inner``; classes in functions: ``func.<locals>.C``), ``module``,
    ``path``, ``line``, ``col``; ``bases: list[BaseRef]`` (source text, resolved dotted name or ``None``,
    ``origin`` in {"project", "external", "builtin", "unknown"}, ``is_actor``); ``is_actor``;
    ``traced`` (reaches ``thespian_trace.TracedActor``/``TracedPlainActor``/a ``thespian_trace`` mixin);
    ``actor_kind`` ("dispatcher" when the chain reaches ``ActorTypeDispatcher``, "plain" for ``Actor``
    only, else ``None``); ``base_chain`` (qualified names from the class to the Thespian root, e.g.
    ``["shop.base.BaseActor", "thespian.actors.ActorTypeDispatcher"]``); ``defines_receive_message``;
    ``defines_send``; ``rebase: list[(base_index, new_name)]`` (what the codemod switches: direct
    ``ActorTypeDispatcher`` -> ``TracedActor``, direct ``Actor`` -> ``TracedPlainActor``; empty when the
    class is traced, opted out, or already an actor through another base such as a project actor base);
    ``optout``; ``will_be_traced`` (traced already, or rebased by the codemod itself or through a project
    base; False when the base that would be rebased is opted out or in a skipped file; sends in such a
    class are manual_review, since ``traced_send`` would not exist there).
``SendSite``
    One syntactic send site inside a function: ``path``, ``module``, ``line`` (1-based), ``col`` (0-based),
    ``end_line``, ``end_col``, ``class_name`` (class qualname, ``None`` for module-level functions),
    ``method`` (dotted function path below the class, e.g. ``receiveMsg_Order.flush`` or
    ``handle.<lambda>``), ``ordinal`` (0-based index among *all* send sites of the same
    (class_name, method) in source order, whatever their kind, so tracing one send does not renumber the
    others), ``kind`` in {"untraced_send", "traced_send", "manual_review"}, ``reason`` (human text;
    empty for plain untraced/traced sends), ``optout`` (``OptOut`` covering it or ``None``) and
    ``rewritable`` (``kind == "untraced_send"`` and not opted out and not in a generated file).
    ``key`` = ``(module, class_name, method, ordinal)``.
    A send site is an attribute ``<self>.send`` / ``<self>.traced_send`` or ``super().send`` /
    ``super().traced_send`` where ``<self>`` is the first parameter of the enclosing method. Sites are
    reported for actor classes, for classes whose base could not be resolved (manual_review), and for
    module-level functions whose first parameter is called ``self`` (manual_review). Methods of
    non-actor classes (``self.pipe.send``, an HTTP adapter's ``super().send``) never produce sites;
    look-alike names (``self.send_samples``) never match.
    manual_review reasons: send bound to a variable, ``functools.partial(self.send, ...)``, passed as a
    callback argument, used without being called, ``self`` rebound, the class defines its own ``send``,
    ``super().send``, the send runs in a thread target the analysis can see (``threading.Thread(target=)``,
    ``Timer``, ``executor.submit``, ``loop.run_in_executor``, ``_thread.start_new_thread``), module-level
    function, unresolvable class base, the class stays on an untraced base (its base is opted out or in a
    skipped file, so ``traced_send`` would not exist). Sites in a class whose ``class`` line is opted out
    keep their computed kind and carry ``optout``.
``ExternalSite``
    ``ActorSystem`` ask/tell outside actors: ``path``, ``module``, ``line``, ``col``, ``scope`` (dotted
    enclosing function/class path, "" at module level), ``ordinal`` (0-based among all
    ``X.ask(...)``/``X.tell(...)``/``traced_ask(...)``/``traced_tell(...)`` calls of that scope),
    ``op`` ("ask"/"tell"), ``traced`` (a ``thespian_trace.traced_ask``/``traced_tell`` call),
    ``receiver`` (source text), ``optout``, ``rewritable``. A receiver counts as an ActorSystem when it
    is ``ActorSystem(...)`` itself, or a name/``self.attr`` assigned from ``ActorSystem(...)``, bound by
    ``with ActorSystem() as x``, or a parameter annotated ``ActorSystem``.
``OptOut``
    ``path``, ``line``, ``reason`` (``None`` when absent), ``until`` (``datetime.date`` or ``None``),
    ``until_raw`` (text as written, also when it is not a valid date), ``file_level``, ``text``;
    ``expired(today=None) -> bool``.
``Unresolved``
    ``path``, ``line``, ``col``, ``name`` (source text), ``context`` (e.g. ``base of class shop.x.Foo``),
    ``reason``.

Opt-out comment syntax (exact)
==============================
A comment (a real ``#`` comment token, not text in a string)::

    # thespian-trace: ignore
    # thespian-trace: ignore[free reason text]
    # thespian-trace: ignore reason="free text" until=2026-12-31
    # thespian-trace: ignore reason=legacy-path until=2026-12-31
    # thespian-trace: ignore free reason text until=2026-12-31
    # thespian-trace: ignore-file            (anywhere in the file: the whole file; same options)

Whitespace around ``:`` is optional. The reason is the ``[...]`` text, else the value of ``reason=``
(quoted, or the text up to `` until=``), else any remaining free text; ``until=`` takes ``YYYY-MM-DD``.
Coverage: a comment on any line of a simple statement covers that statement; a comment on the header
line(s) of a compound statement (``class``, ``def`` including its decorator lines, ``for``, ``if``,
``with``, ``try``...) covers the whole statement and body; a comment on a line of its own covers nothing. Opted-out sites are still listed (with
``optout`` set) so migration-check can audit the opt-outs; the codemod never touches them.

Module resolution
=================
Names are resolved repository-wide: local classes, ``import a.b as c``, ``from m import n as k``,
relative imports, star imports (honouring ``__all__``), module-level aliases (``ATD = ta.ActorTypeDispatcher``)
and attribute chains (``thespian.actors.ActorTypeDispatcher``, ``ta.ActorTypeDispatcher``). A project's own
class that shadows a Thespian name (``class Actor(ActorTypeDispatcher)``) is a project class. Modules under
``thespian``/``thespian_trace`` are always external, never project modules. Anything unresolvable is
reported in ``unresolved``.
"""
from __future__ import annotations

import ast
import bisect
import builtins
import datetime
import io
import os
import re
import sys
import tokenize
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "RepoAnalysis", "FileAnalysis", "ClassInfo", "BaseRef", "SendSite", "ExternalSite", "OptOut",
    "Unresolved", "analyze_paths", "analyze_sources", "iter_python_files", "parse_optout",
    "THESPIAN_DISPATCHER", "THESPIAN_ACTOR", "THESPIAN_ACTOR_SYSTEM", "TRACED_ACTOR", "TRACED_PLAIN_ACTOR",
    "TRACE_MODULE",
]

THESPIAN_DISPATCHER = "thespian.actors.ActorTypeDispatcher"
THESPIAN_ACTOR = "thespian.actors.Actor"
THESPIAN_ACTOR_SYSTEM = "thespian.actors.ActorSystem"
TRACE_MODULE = "thespian_trace"
TRACED_ACTOR = "TracedActor"
TRACED_PLAIN_ACTOR = "TracedPlainActor"

_THESPIAN_ACTORS_NAMES = frozenset("""
Actor ActorAddress ActorExitRequest ActorSystem ActorSystemConventionUpdate ActorSystemException
ActorSystemFailure ActorSystemMessage ActorSystemRequestTimeout ActorSystemStartupFailure ActorTypeDispatcher
ChildActorExited DeadEnvelope ExternalContext InvalidActorAddress InvalidActorSourceHash
InvalidActorSpecification LoadedSource NoCompatibleSystemForActor PoisonMessage ThespianGeneration
ThespianWatch Thespian_ActorStatus Thespian_StatusReq Thespian_SystemStatus UnloadedSource ValidateSource
ValidatedSource WakeupMessage WatchMessage requireCapability
""".split())
_TRACE_NAMES = frozenset("TracedActor TracedPlainActor traced_ask traced_tell".split())
_EXTERNAL_ROOTS = ("thespian", TRACE_MODULE)
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()) or """
abc argparse array ast asyncio base64 bisect builtins collections concurrent contextlib copy csv dataclasses
datetime decimal enum functools glob hashlib heapq http io itertools json logging math multiprocessing
numbers operator os pathlib pickle queue random re select selectors shutil signal socket socketserver sqlite3
ssl string struct subprocess sys tempfile threading time traceback types typing unittest urllib uuid warnings
weakref xml zipfile _thread""".split())
_BUILTINS = frozenset(dir(builtins))

_THREAD_FUNCS = {
    # callable name -> (positional index of the target, keyword name of the target)
    "Thread": (1, "target"), "Process": (1, "target"), "Timer": (1, "function"),
    "start_new_thread": (0, "function"), "submit": (0, "fn"), "run_in_executor": (1, "func"),
    "call_soon_threadsafe": (0, "callback"), "apply_async": (0, "func"),
}
_COMPOUND = tuple(getattr(ast, n) for n in ("If", "Try", "TryStar", "With", "For", "While") if hasattr(ast, n))
_RELEVANT_RE = re.compile(rb"send|\bself\s*=(?!=)|\bask\b|\btell\b|traced_|ActorSystem|\bclass\s|Thread|Timer|Process|"
                          rb"start_new_thread|submit|run_in_executor|call_soon_threadsafe|apply_async")
_GENERATED_RE = re.compile(rb"^[ \t]*#[^\n]*@generated", re.M)
_THREAD_RE = re.compile(rb"Thread|Timer|Process|start_new_thread|submit|run_in_executor|call_soon_threadsafe|"
                        rb"apply_async")
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox",
                        ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "build", "dist"})

_OPTOUT_RE = re.compile(r"#\s*thespian-trace\s*:\s*ignore(?P<file>-file)?(?![\w-])(?P<rest>.*)$")
_UNTIL_RE = re.compile(r"(?:^|\s)until=(?P<until>\S*)")
_REASON_RE = re.compile(r"""(?:^|\s)reason=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>.*?))(?=\s+until=|\s*$)""")


# --------------------------------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------------------------------
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

    @property
    def full_name(self) -> str:
        """``module.qualname``."""
        return "%s.%s" % (self.module, self.qualname) if self.module else self.qualname


@dataclass
class SendSite:
    """A ``self.send``/``self.traced_send`` site (see module docstring)."""
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

    @property
    def key(self) -> Tuple[str, Optional[str], str, int]:
        """Line-independent identity: ``(module, class_name, method, ordinal)``."""
        return (self.module, self.class_name, self.method, self.ordinal)


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


@dataclass
class RepoAnalysis:
    """The analysis of a set of files, resolved together."""
    files: List[FileAnalysis] = field(default_factory=list)

    def classes(self) -> List[ClassInfo]:
        """All classes of all files."""
        return [c for f in self.files for c in f.classes]

    def actor_classes(self) -> List[ClassInfo]:
        """All classes that are Thespian actors (directly or transitively)."""
        return [c for c in self.classes() if c.is_actor]

    def class_by_qualname(self, full_name: str) -> Optional[ClassInfo]:
        """Look a class up by ``module.qualname``."""
        for c in self.classes():
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
        """All send sites of all files."""
        return [s for f in self.files for s in f.send_sites]

    def external_sites(self) -> List[ExternalSite]:
        """All external ask/tell sites of all files."""
        return [s for f in self.files for s in f.external_sites]

    def manual_review(self) -> List[SendSite]:
        """Send sites needing manual review that are not opted out."""
        return [s for s in self.send_sites() if s.kind == "manual_review" and s.optout is None]

    def unresolved(self) -> List[Unresolved]:
        """All unresolved names of all files."""
        return [u for f in self.files for u in f.unresolved]

    def parse_errors(self) -> List[FileAnalysis]:
        """Files that could not be parsed."""
        return [f for f in self.files if f.parse_error]


# --------------------------------------------------------------------------------------------------
# opt-out comments
# --------------------------------------------------------------------------------------------------
def parse_optout(comment: str, path: str = "", line: int = 0) -> Optional[OptOut]:
    """Parse one comment token; return an OptOut when it is a ``thespian-trace: ignore`` comment."""
    m = _OPTOUT_RE.search(comment)
    if not m:
        return None
    rest = m.group("rest").strip()
    reason = None
    if rest.startswith("["):
        end = rest.find("]")
        if end >= 0:
            reason = rest[1:end].strip() or None
            rest = rest[end + 1:].strip()
    until_raw = None
    um = _UNTIL_RE.search(rest)
    if um:
        until_raw = um.group("until")
    rm = _REASON_RE.search(rest)
    if rm and reason is None:
        val = rm.group("dq") if rm.group("dq") is not None else (
            rm.group("sq") if rm.group("sq") is not None else rm.group("bare"))
        reason = (val or "").strip() or None
    elif reason is None:
        free = _UNTIL_RE.sub(" ", rest).strip()
        reason = free or None
    until = None
    if until_raw:
        try:
            until = datetime.date.fromisoformat(until_raw)
        except ValueError:
            until = None
    return OptOut(path=path, line=line, reason=reason, until=until, until_raw=until_raw,
                  file_level=bool(m.group("file")), text=comment.strip())


def _scan_optouts(data: bytes, path: str) -> List[OptOut]:
    out: List[OptOut] = []
    try:
        for tok in tokenize.tokenize(io.BytesIO(data).readline):
            if tok.type == tokenize.COMMENT and "thespian-trace" in tok.string:
                o = parse_optout(tok.string, path, tok.start[0])
                if o is not None:
                    out.append(o)
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        pass
    return out


# --------------------------------------------------------------------------------------------------
# file discovery
# --------------------------------------------------------------------------------------------------
def _find_git_root(start: str) -> Optional[str]:
    d = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _pathspec(lines: List[str]):
    import pathspec
    try:
        return pathspec.PathSpec.from_lines("gitignore", lines)
    except (KeyError, LookupError):  # pathspec < 0.12
        return pathspec.PathSpec.from_lines("gitwildmatch", lines)


def _load_gitignore(directory: str):
    p = os.path.join(directory, ".gitignore")
    if not os.path.isfile(p):
        return None
    with open(p, encoding="utf-8", errors="replace") as fh:
        return _pathspec(fh.read().splitlines())


def _compile_globs(patterns: Sequence[str]):
    if not patterns:
        return None
    return _pathspec(list(patterns))


def _ignored(specs, abspath: str, is_dir: bool) -> bool:
    ignored = False
    for base, spec in specs:
        rel = os.path.relpath(abspath, base).replace(os.sep, "/")
        if rel.startswith(".."):
            continue
        if is_dir:
            rel += "/"
        # a later (deeper) .gitignore may re-include; evaluate in order
        for pat in spec.patterns:
            if pat.include is None:
                continue
            if pat.match_file(rel) is not None:
                ignored = bool(pat.include)
    return ignored


def iter_python_files(paths: Iterable[str], include: Sequence[str] = (), exclude: Sequence[str] = (),
                      respect_gitignore: bool = True) -> List[str]:
    """Return the sorted, de-duplicated ``*.py`` files under ``paths`` (see module docstring)."""
    inc = _compile_globs(include)
    exc = _compile_globs(exclude)
    found: List[str] = []
    seen = set()

    def keep(rel: str) -> bool:
        rel = rel.replace(os.sep, "/")
        if exc is not None and exc.match_file(rel):
            return False
        if inc is not None and not inc.match_file(rel):
            return False
        return True

    for arg in paths:
        if os.path.isfile(arg):
            if keep(os.path.basename(arg)) and keep(arg):
                ap = os.path.abspath(arg)
                if ap not in seen:
                    seen.add(ap)
                    found.append(arg)
            continue
        if not os.path.isdir(arg):
            raise FileNotFoundError(arg)
        specs = []
        if respect_gitignore:
            root = _find_git_root(arg)
            absarg = os.path.abspath(arg)
            if root is not None:
                # ancestors' .gitignore files from the git root down to the argument
                chain = []
                d = absarg
                while True:
                    chain.append(d)
                    if d == root:
                        break
                    parent = os.path.dirname(d)
                    if parent == d:
                        break
                    d = parent
                for d in reversed(chain[1:]):
                    s = _load_gitignore(d)
                    if s is not None:
                        specs.append((d, s))
        dir_specs = {}
        for dirpath, dirnames, filenames in os.walk(arg):
            absdir = os.path.abspath(dirpath)
            cur = list(dir_specs.get(os.path.dirname(absdir), specs)) if absdir != os.path.abspath(arg) else list(specs)
            if respect_gitignore:
                s = _load_gitignore(absdir)
                if s is not None:
                    cur.append((absdir, s))
            dir_specs[absdir] = cur
            kept = []
            for d in sorted(dirnames):
                if d in _SKIP_DIRS or d.startswith(".") or d.endswith(".egg-info"):
                    continue
                if respect_gitignore and cur and _ignored(cur, os.path.join(absdir, d), True):
                    continue
                kept.append(d)
            dirnames[:] = kept
            for fn in sorted(filenames):
                if not fn.endswith(".py"):
                    continue
                full = os.path.join(dirpath, fn)
                if respect_gitignore and cur and _ignored(cur, os.path.abspath(full), False):
                    continue
                if not keep(os.path.relpath(full, arg)):
                    continue
                ap = os.path.abspath(full)
                if ap not in seen:
                    seen.add(ap)
                    found.append(full)
    return found


# --------------------------------------------------------------------------------------------------
# per-file collection (phase 1)
# --------------------------------------------------------------------------------------------------
class _Cand:
    """A syntactic send candidate, classified in phase 2."""
    __slots__ = ("node", "cls", "method", "ordinal", "attr", "via_super", "usage", "reason",
                 "rebound", "thread", "selfname", "func_path")

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


class _ExtCand:
    __slots__ = ("node", "scope", "ordinal", "op", "traced_name", "receiver", "func_stack", "cls")

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


class _ClassRec:
    __slots__ = ("info", "node", "methods", "thread_methods", "self_attrs", "cands", "base_recs")

    def __init__(self, info, node):
        self.base_recs = []
        self.info = info
        self.node = node
        self.methods = set()
        self.thread_methods = {}
        self.self_attrs = {}
        self.cands = []


class _FileState:
    """Phase-1 results kept alive until resolution is done."""

    def __init__(self, fa: FileAnalysis, tree: Optional[ast.Module], data: bytes):
        self.fa = fa
        self.tree = tree
        self.data = data
        self.bindings: Dict[str, tuple] = {}
        self.stars: List[str] = []
        self.all_names: Optional[List[str]] = None
        self.classes: List[_ClassRec] = []
        self.class_by_q: Dict[str, _ClassRec] = {}
        self.cands: List[_Cand] = []
        self.ext: List[_ExtCand] = []
        self.func_assigns: Dict[int, Dict[str, ast.AST]] = {}  # id(func node) or 0 -> name -> value expr
        self.rebound: set = set()
        self.package = ""
        self.threads = False


def _abs_module(state: _FileState, module: Optional[str], level: int) -> str:
    if not level:
        return module or ""
    pkg = state.package.split(".") if state.package else []
    if level - 1 > 0:
        pkg = pkg[: len(pkg) - (level - 1)] if level - 1 <= len(pkg) else []
    base = ".".join(pkg)
    if module:
        return base + "." + module if base else module
    return base


def _collect_module_bindings(state: _FileState, body: List[ast.stmt], toplevel: bool = True) -> None:
    fa = state.fa
    for st in body:
        t = type(st)
        if t is ast.Import:
            for a in st.names:
                if a.asname:
                    state.bindings[a.asname] = ("module", a.name)
                    fa.imports.append((a.asname, "import", a.name, None, st.lineno, toplevel))
                else:
                    top = a.name.split(".")[0]
                    state.bindings[top] = ("module", top)
                    fa.imports.append((top, "import", a.name, None, st.lineno, toplevel))
        elif t is ast.ImportFrom:
            mod = _abs_module(state, st.module, st.level)
            for a in st.names:
                if a.name == "*":
                    state.stars.append(mod)
                    fa.imports.append(("*", "from", mod, "*", st.lineno, toplevel))
                else:
                    bound = a.asname or a.name
                    state.bindings[bound] = ("from", mod, a.name)
                    fa.imports.append((bound, "from", mod, a.name, st.lineno, toplevel))
        elif t is ast.ClassDef:
            state.bindings[st.name] = ("class", st.name)
        elif t in (ast.FunctionDef, ast.AsyncFunctionDef):
            state.bindings[st.name] = ("other",)
        elif t is ast.Assign:
            for tg in st.targets:
                if isinstance(tg, ast.Name):
                    if tg.id == "__all__" and isinstance(st.value, (ast.List, ast.Tuple)):
                        state.all_names = [e.value for e in st.value.elts
                                           if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                    elif isinstance(st.value, (ast.Name, ast.Attribute)):
                        state.bindings[tg.id] = ("alias", st.value)
                    else:
                        state.bindings[tg.id] = ("value", st.value)
        elif t is ast.AnnAssign and isinstance(st.target, ast.Name):
            state.bindings[st.target.id] = ("value", st.value)
        elif t in (ast.If, ast.Try) or (sys.version_info >= (3, 11) and t.__name__ == "TryStar"):
            _collect_module_bindings(state, st.body, False)
            for h in getattr(st, "handlers", ()):
                _collect_module_bindings(state, h.body, False)
            _collect_module_bindings(state, st.orelse, False)
            _collect_module_bindings(state, getattr(st, "finalbody", []), False)


def _first_param(fn) -> Optional[str]:
    a = fn.args
    params = list(getattr(a, "posonlyargs", [])) + list(a.args)
    if params:
        return params[0].arg
    return None


def _param_names(fn) -> List[str]:
    a = fn.args
    names = [p.arg for p in list(getattr(a, "posonlyargs", [])) + list(a.args) + list(a.kwonlyargs)]
    if a.vararg:
        names.append(a.vararg.arg)
    if a.kwarg:
        names.append(a.kwarg.arg)
    return names


def _is_staticmethod(fn) -> bool:
    for d in getattr(fn, "decorator_list", ()):
        if isinstance(d, ast.Name) and d.id == "staticmethod":
            return True
        if isinstance(d, ast.Attribute) and d.attr == "staticmethod":
            return True
    return False


def _call_name(func: ast.AST) -> Optional[str]:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _thread_target(call: ast.Call) -> Optional[ast.AST]:
    name = _call_name(call.func)
    spec = _THREAD_FUNCS.get(name or "")
    if spec is None:
        return None
    idx, kw = spec
    for k in call.keywords:
        if k.arg == kw:
            return k.value
    if len(call.args) > idx:
        return call.args[idx]
    return None


class _Collector:
    """Single recursive walk collecting classes, send candidates and external candidates."""

    def __init__(self, state: _FileState, deep: bool):
        self.s = state
        self.deep = deep
        # ordinal counters
        self.send_counts: Dict[Tuple[Optional[str], str], int] = {}
        self.ext_counts: Dict[str, int] = {}

    def run(self, tree: ast.Module) -> None:
        self.body(tree.body, None, (), None, None, (), (), frozenset())

    # ctx: cls (_ClassRec|None), method tuple, selfname, thread reason, scope tuple, func stack, qual prefix
    rel_lines: Optional[List[int]] = None

    def relevant(self, st: ast.AST) -> bool:
        """Does the statement span a line that can hold a send, ask/tell, thread start or class?"""
        rl = self.rel_lines
        if rl is None:
            return True
        i = bisect.bisect_left(rl, st.lineno)
        return i < len(rl) and rl[i] <= (st.end_lineno or st.lineno)

    def body(self, stmts, cls, method, selfname, thread, scope, funcs, threadnames, qual=()) -> None:
        for st in stmts:
            if self.deep and type(st) is not ast.ClassDef and not self.relevant(st):
                continue
            self.node(st, None, cls, method, selfname, thread, scope, funcs, threadnames, qual)

    def node(self, n, parent, cls, method, selfname, thread, scope, funcs, threadnames, qual):
        t = type(n)
        if t is ast.ClassDef:
            self.classdef(n, cls, method, scope, funcs, threadnames, qual)
            return
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            if not self.deep and cls is None and not method:
                return
            self.funcdef(n, n.name, cls, method, selfname, thread, scope, funcs, threadnames, qual)
            return
        if t is ast.Lambda:
            if not self.deep:
                return
            self.funcdef(n, "<lambda>", cls, method, selfname, thread, scope, funcs, threadnames, qual)
            return
        if not self.deep:
            if t in _COMPOUND:
                for child in ast.iter_child_nodes(n):
                    if isinstance(child, ast.stmt):
                        self.node(child, n, cls, method, selfname, thread, scope, funcs, threadnames, qual)
            return
        if t is ast.Attribute:
            if n.attr in ("send", "traced_send") and (method or funcs):
                v = n.value
                via_super = (type(v) is ast.Call and type(v.func) is ast.Name and v.func.id == "super")
                if (type(v) is ast.Name and selfname is not None and v.id == selfname) or via_super:
                    self.add_cand(n, parent, cls, method, selfname, thread, via_super, funcs)
        elif t is ast.Call:
            f = n.func
            if type(f) is ast.Attribute and f.attr in ("ask", "tell"):
                self.add_ext(n, f.attr, None, scope, funcs, cls)
            elif type(f) is ast.Name and f.id in ("traced_ask", "traced_tell"):
                self.add_ext(n, f.id[7:], f.id, scope, funcs, cls)
            # thread targets given as lambdas or self.method
            tgt = _thread_target(n)
            if tgt is not None:
                label = _call_name(f)
                if type(tgt) is ast.Lambda:
                    self._lambda_threads[id(tgt)] = label
                elif type(tgt) is ast.Attribute and type(tgt.value) is ast.Name and cls is not None \
                        and tgt.value.id == selfname:
                    cls.thread_methods[tgt.attr] = label
        elif t is ast.Name:
            if selfname is not None and n.id == selfname and type(n.ctx) is ast.Store:
                self.s.rebound.add((cls.info.qualname if cls else None, method))
        elif t is ast.Assign or t is ast.AnnAssign:
            self.record_assign(n, cls, selfname, funcs)
        elif t is ast.With or t is ast.AsyncWith:
            for item in n.items:
                if item.optional_vars is not None and type(item.optional_vars) is ast.Name:
                    self._assigns(funcs)[item.optional_vars.id] = item.context_expr
        for child in ast.iter_child_nodes(n):
            self.node(child, n, cls, method, selfname, thread, scope, funcs, threadnames, qual)

    _lambda_threads: Dict[int, str]

    def _assigns(self, funcs) -> Dict[str, ast.AST]:
        key = id(funcs[-1]) if funcs else 0
        d = self.s.func_assigns.get(key)
        if d is None:
            d = self.s.func_assigns[key] = {}
        return d

    def record_assign(self, n, cls, selfname, funcs):
        value = n.value
        if value is None:
            return
        targets = n.targets if type(n) is ast.Assign else [n.target]
        for tg in targets:
            if type(tg) is ast.Name:
                if funcs:  # module-level assignments live in bindings
                    self._assigns(funcs)[tg.id] = value
            elif type(tg) is ast.Attribute and type(tg.value) is ast.Name and cls is not None \
                    and tg.value.id == selfname:
                cls.self_attrs[tg.attr] = (value, funcs)

    def classdef(self, n, cls, method, scope, funcs, threadnames, qual):
        if funcs:
            qn = ".".join(qual) + ".<locals>." + n.name if qual else n.name
        else:
            qn = ".".join(qual + (n.name,))
        fa = self.s.fa
        info = ClassInfo(name=n.name, qualname=qn, module=fa.module, path=fa.path, line=n.lineno,
                         col=n.col_offset)
        rec = _ClassRec(info, n)
        self.s.classes.append(rec)
        self.s.class_by_q[qn] = rec
        for st in n.body:
            if type(st) in (ast.FunctionDef, ast.AsyncFunctionDef):
                rec.methods.add(st.name)
                if st.name == "receiveMessage":
                    info.defines_receive_message = True
                elif st.name == "send":
                    info.defines_send = True
        # decorators and bases are evaluated in the enclosing scope
        for d in n.decorator_list:
            self.node(d, n, cls, method, None, None, scope, funcs, threadnames, qual)
        for b in n.bases:
            self.node(b, n, cls, method, None, None, scope, funcs, threadnames, qual)
        for k in n.keywords:
            self.node(k, n, cls, method, None, None, scope, funcs, threadnames, qual)
        # thread targets named by nested functions anywhere in the class
        names = set()
        if self.deep and self.s.threads:
            for sub in ast.walk(n):
                if type(sub) is ast.Call:
                    tgt = _thread_target(sub)
                    if tgt is not None and type(tgt) is ast.Name:
                        names.add(tgt.id)
                    elif tgt is not None and type(tgt) is ast.Attribute and type(tgt.value) is ast.Name:
                        rec.thread_methods.setdefault(tgt.attr, _call_name(sub.func))
        newqual = tuple(qn.split("."))
        self.body(n.body, rec, (), None, None, scope + (n.name,), (), frozenset(names), newqual)

    def funcdef(self, n, name, cls, method, selfname, thread, scope, funcs, threadnames, qual):
        is_lambda = type(n) is ast.Lambda
        if not is_lambda:
            for d in n.decorator_list:
                self.node(d, n, cls, method, selfname, thread, scope, funcs, threadnames, qual)
        new_method = method + (name,)
        new_self = selfname
        if not method:  # a method (directly in a class) or a module-level function
            if is_lambda or not _is_staticmethod(n):
                new_self = _first_param(n)
            else:
                new_self = None
            if cls is None and new_self != "self":
                new_self = None
        else:
            if selfname is not None and selfname in _param_names(n):
                self.s.rebound.add((cls.info.qualname if cls else None, new_method))
        new_thread = thread
        if cls is not None and not method and not is_lambda and name in cls.thread_methods:
            new_thread = "%s(target=self.%s)" % (cls.thread_methods[name], name)
        elif method and not is_lambda and name in threadnames:
            new_thread = "thread target %s" % name
        elif is_lambda and id(n) in self._lambda_threads:
            new_thread = "%s(target=lambda ...)" % self._lambda_threads[id(n)]
        if not self.deep:
            return
        new_funcs = funcs + (n,)
        args = n.args
        for d in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
            self.node(d, n, cls, new_method, new_self, new_thread, scope, new_funcs, threadnames, qual)
        # annotated parameters: remember annotations for ActorSystem detection
        if not is_lambda:
            for p in list(getattr(args, "posonlyargs", [])) + list(args.args) + list(args.kwonlyargs):
                if p.annotation is not None:
                    self._assigns(new_funcs)[p.arg] = ("annotation", p.annotation)
        body = [n.body] if is_lambda else n.body
        newqual = qual + (name,)
        for st in body:
            self.node(st, n, cls, new_method, new_self, new_thread, scope + (name,), new_funcs,
                      threadnames, newqual)

    def add_cand(self, n, parent, cls, method, selfname, thread, via_super, funcs):
        cq = cls.info.qualname if cls is not None else None
        m = ".".join(method)
        key = (cq, m)
        ordinal = self.send_counts.get(key, 0)
        self.send_counts[key] = ordinal + 1
        usage = "call"
        reason = ""
        if parent is None or type(parent) is not ast.Call or parent.func is not n:
            usage = "ref"
            pt = type(parent)
            if pt in (ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.AugAssign):
                reason = "send bound to a variable"
            elif pt is ast.Call:
                fname = _call_name(parent.func) or ""
                if fname == "partial" or fname == "partialmethod":
                    reason = "functools.partial(%s.%s, ...)" % ("super()" if via_super else selfname, n.attr)
                else:
                    reason = "send passed as a callback argument to %s()" % (fname or "a call")
            elif pt is ast.keyword:
                reason = "send passed as a callback keyword argument"
            else:
                reason = "send used without being called (stored, returned or passed on)"
        c = _Cand(node=n, cls=cls, method=m, ordinal=ordinal, attr=n.attr, via_super=via_super,
                  usage=usage, reason=reason, rebound=False, thread=thread, selfname=selfname,
                  func_path=method)
        self.s.cands.append(c)

    def add_ext(self, n, op, traced_name, scope, funcs, cls):
        sc = ".".join(scope)
        ordinal = self.ext_counts.get(sc, 0)
        self.ext_counts[sc] = ordinal + 1
        receiver = n.func.value if traced_name is None else None
        self.s.ext.append(_ExtCand(node=n, scope=sc, ordinal=ordinal, op=op, traced_name=traced_name,
                                   receiver=receiver, func_stack=funcs, cls=cls))


def _module_name(path: str, is_file) -> Tuple[str, str, str]:
    """Return (module, package, root_dir) for ``path`` using the ``__init__.py`` chain."""
    ap = os.path.abspath(path)
    d, fn = os.path.split(ap)
    stem = fn[:-3] if fn.endswith(".py") else fn
    parts = [] if stem == "__init__" else [stem]
    while is_file(os.path.join(d, "__init__.py")):
        parts.insert(0, os.path.basename(d))
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    module = ".".join(parts) if parts else os.path.basename(d)
    if stem == "__init__":
        package = module
    else:
        package = module.rpartition(".")[0]
    return module, package, d


def _analyze_one(path: str, data: bytes, is_file) -> _FileState:
    module, package, root = _module_name(path, is_file)
    fa = FileAnalysis(path=path, module=module, root_dir=root)
    fa.generated = b"@generated" in data and _GENERATED_RE.search(data) is not None
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        fa.parse_error = ("line %s: %s" % (line, msg)) if line else msg
        st = _FileState(fa, None, data)
        return st
    st = _FileState(fa, tree, data)
    st.package = package
    _collect_module_bindings(st, tree.body)
    if b"thespian-trace" in data:
        fa.optouts = _scan_optouts(data, path)
        for o in fa.optouts:
            if o.file_level:
                fa.file_optout = o
    first = _RELEVANT_RE.search(data)
    deep = first is not None
    col = _Collector(st, deep)
    if deep:
        # line numbers that can matter for the deep walk; statements spanning none are skipped
        lines: List[int] = []
        line, pos = 1, 0
        for m in _RELEVANT_RE.finditer(data, first.start()):
            line += data.count(b"\n", pos, m.start())
            pos = m.start()
            if not lines or lines[-1] != line:
                lines.append(line)
        col.rel_lines = lines
        st.threads = _THREAD_RE.search(data) is not None
    col._lambda_threads = {}
    col.run(tree)
    _renumber(st)
    return st


def _renumber(st: _FileState) -> None:
    """Assign ordinals in source order (pre-order of the syntax tree, as LibCST visits it)."""
    groups: Dict[tuple, List[_Cand]] = {}
    for c in st.cands:
        groups.setdefault((c.cls.info.qualname if c.cls is not None else None, c.method), []).append(c)
    for lst in groups.values():
        lst.sort(key=lambda c: (c.node.lineno, c.node.col_offset))
        for i, c in enumerate(lst):
            c.ordinal = i
    egroups: Dict[str, List[_ExtCand]] = {}
    for e in st.ext:
        egroups.setdefault(e.scope, []).append(e)
    for lst in egroups.values():
        lst.sort(key=lambda e: (e.node.lineno, e.node.col_offset, -(e.node.end_lineno or 0),
                                -(e.node.end_col_offset or 0)))
        for i, e in enumerate(lst):
            e.ordinal = i


# --------------------------------------------------------------------------------------------------
# resolution (phase 2)
# --------------------------------------------------------------------------------------------------
class _Resolver:
    def __init__(self, states: List[_FileState]):
        self.states = states
        self.by_module: Dict[str, List[_FileState]] = {}
        for s in states:
            if s.tree is None:
                continue
            top = s.fa.module.split(".")[0]
            if top in _EXTERNAL_ROOTS:
                continue
            self.by_module.setdefault(s.fa.module, []).append(s)
        self.class_status: Dict[int, tuple] = {}

    def module(self, importer: _FileState, name: str) -> Optional[_FileState]:
        if not name or name.split(".")[0] in _EXTERNAL_ROOTS:
            return None
        cands = self.by_module.get(name)
        if not cands:
            return None
        if len(cands) == 1:
            return cands[0]
        for c in cands:
            if c.fa.root_dir == importer.fa.root_dir:
                return c
        return cands[0]

    # result: ("class", state, rec) | ("external", dotted) | ("module", state) | ("builtin", n)
    #         | ("value",) | ("unknown", reason)
    def name(self, st: _FileState, name: str, depth: int = 0) -> tuple:
        if depth > 40:
            return ("unknown", "resolution cycle")
        b = st.bindings.get(name)
        if b is not None:
            return self.binding(st, name, b, depth)
        for mod in reversed(st.stars):
            r = self.star_lookup(st, mod, name, depth)
            if r is not None:
                return r
        if name in _BUILTINS:
            return ("builtin", name)
        ext_stars = [m for m in st.stars if self.module(st, m) is None]
        if ext_stars:
            return ("unknown", "may come from star import of %s" % ", ".join(ext_stars))
        return ("unknown", "name %r is not defined or imported in %s" % (name, st.fa.module))

    def binding(self, st, name, b, depth):
        k = b[0]
        if k == "class":
            rec = st.class_by_q.get(b[1])
            return ("class", st, rec) if rec else ("value",)
        if k == "module":
            tgt = self.module(st, b[1])
            return ("module", tgt) if tgt is not None else ("external", b[1])
        if k == "from":
            mod, attr = b[1], b[2]
            tgt = self.module(st, mod)
            if tgt is None:
                sub = self.module(st, mod + "." + attr if mod else attr)
                if sub is not None:
                    return ("module", sub)
                return ("external", (mod + "." + attr) if mod else attr)
            r = self.name(tgt, attr, depth + 1)
            if r[0] != "unknown":
                return r
            sub = self.module(st, mod + "." + attr)
            if sub is not None:
                return ("module", sub)
            return ("unknown", "%r is not defined in %s" % (attr, mod))
        if k == "alias":
            return self.expr(st, b[1], depth + 1)
        return ("value",)

    def star_lookup(self, st, mod, name, depth):
        tgt = self.module(st, mod)
        if tgt is None:
            if mod == "thespian.actors" and name in _THESPIAN_ACTORS_NAMES:
                return ("external", mod + "." + name)
            if mod.split(".")[0] == TRACE_MODULE and name in _TRACE_NAMES:
                return ("external", TRACE_MODULE + "." + name)
            return None
        if tgt.all_names is not None:
            if name not in tgt.all_names:
                return None
        elif name.startswith("_"):
            return None
        r = self.name(tgt, name, depth + 1)
        if r[0] == "unknown" and name not in tgt.bindings and not tgt.stars:
            return None
        return r

    def expr(self, st, node, depth=0) -> tuple:
        t = type(node)
        if t is ast.Name:
            return self.name(st, node.id, depth)
        if t is ast.Attribute:
            base = self.expr(st, node.value, depth + 1)
            if base[0] == "module":
                tgt = base[1]
                if node.attr in tgt.bindings or tgt.stars:
                    r = self.name(tgt, node.attr, depth + 1)
                    if r[0] != "unknown":
                        return r
                sub = self.module(st, tgt.fa.module + "." + node.attr)
                if sub is not None:
                    return ("module", sub)
                return ("unknown", "%r is not defined in %s" % (node.attr, tgt.fa.module))
            if base[0] == "external":
                return ("external", base[1] + "." + node.attr)
            if base[0] == "class":
                rec = base[1].class_by_q.get(base[2].info.qualname + "." + node.attr)
                if rec is not None:
                    return ("class", base[1], rec)
                return ("value",)
            return base if base[0] == "unknown" else ("value",)
        if t is ast.Subscript:
            return self.expr(st, node.value, depth + 1)
        if t is ast.Call:
            return ("unknown", "base is computed by a call")
        return ("unknown", "unsupported base expression")

    # ---- class status -------------------------------------------------------------------------
    def status(self, st: _FileState, rec: _ClassRec, stack=()) -> tuple:
        """Return (is_actor, traced, kind, chain, unresolved_flag)."""
        key = id(rec)
        got = self.class_status.get(key)
        if got is not None:
            return got
        if key in stack:
            return (False, False, None, [], True)
        stack = stack + (key,)
        info = rec.info
        info.bases = []
        is_actor = traced = False
        kind = None
        chain: List[str] = []
        unresolved = False
        for b in rec.node.bases:
            text = _segment(st, b)
            r = self.expr(self._scope_state(st), b)
            ref = BaseRef(text=text, resolved=None, origin="unknown")
            if r[0] == "class":
                s2, rec2 = r[1], r[2]
                ref.origin = "project"
                ref.resolved = rec2.info.full_name
                rec.base_recs.append(rec2)
                a, tr, k, ch, un = self.status(s2, rec2, stack)
                ref.is_actor, ref.traced = a, tr
                unresolved = unresolved or un
                if a:
                    if not is_actor or (tr and not traced):
                        chain = [rec2.info.full_name] + ch
                    is_actor = True
                    traced = traced or tr
                    kind = "dispatcher" if (k == "dispatcher" or kind == "dispatcher") else (kind or k)
            elif r[0] == "external":
                ref.origin = "external"
                ref.resolved = r[1]
                ek = _external_kind(r[1])
                if ek is not None:
                    ref.is_actor = True
                    ref.traced = ek.startswith("traced")
                    if not is_actor or (ref.traced and not traced):
                        chain = [r[1]]
                    is_actor = True
                    traced = traced or ref.traced
                    k = {"dispatcher": "dispatcher", "traced_dispatcher": "dispatcher",
                         "plain": "plain", "traced_plain": "plain"}.get(ek)
                    kind = "dispatcher" if (k == "dispatcher" or kind == "dispatcher") else (kind or k)
                else:
                    top = r[1].split(".")[0]
                    if top not in _STDLIB and top not in _EXTERNAL_ROOTS and top != "builtins":
                        ref.reason = "external base from %s is not analyzed" % r[1].rpartition(".")[0]
            elif r[0] == "builtin":
                ref.origin = "builtin"
                ref.resolved = "builtins." + r[1]
            elif r[0] == "module":
                ref.reason = "base resolves to a module"
                unresolved = True
            elif r[0] == "value":
                ref.origin = "unknown"
                ref.reason = "base is a value, not a class the analysis can follow"
                unresolved = True
            else:
                ref.reason = r[1]
                unresolved = True
            info.bases.append(ref)
        if traced and kind is None:
            kind = "dispatcher"
        res = (is_actor, traced, kind, chain, unresolved)
        self.class_status[key] = res
        return res

    def _scope_state(self, st):
        return st


def _external_kind(dotted: str) -> Optional[str]:
    if dotted == THESPIAN_DISPATCHER:
        return "dispatcher"
    if dotted == THESPIAN_ACTOR:
        return "plain"
    parts = dotted.split(".")
    if parts[0] == TRACE_MODULE and len(parts) >= 2:
        last = parts[-1]
        if last == TRACED_ACTOR:
            return "traced_dispatcher"
        if last == TRACED_PLAIN_ACTOR:
            return "traced_plain"
        if last.startswith("Traced") or last.endswith("Mixin"):
            return "traced"
    return None


def _segment(st: _FileState, node: ast.AST) -> str:
    try:
        return ast.unparse(node)  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - py<3.9
        return "<expr>"


def _optout_ranges(tree: ast.Module, optouts: List[OptOut]) -> List[Tuple[int, int, OptOut]]:
    """Map each opt-out comment to the line range it covers."""
    lines = {o.line: o for o in optouts if not o.file_level}
    if not lines:
        return []
    out: List[Tuple[int, int, OptOut]] = []
    best: Dict[int, Tuple[int, int]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        start = node.lineno
        decos = getattr(node, "decorator_list", None)
        if decos:
            start = min([start] + [d.lineno for d in decos])
        end = node.end_lineno or node.lineno
        body = getattr(node, "body", None)
        compound = isinstance(body, list) and body and isinstance(body[0], ast.stmt)
        if compound:
            header_end = max(node.lineno, body[0].lineno - 1) if body[0].lineno > node.lineno else node.lineno
            for ln in lines:
                if start <= ln <= header_end:
                    out.append((start, end, lines[ln]))
        else:
            for ln in lines:
                if start <= ln <= end:
                    prev = best.get(ln)
                    if prev is None or (end - start) < (prev[1] - prev[0]):
                        best[ln] = (start, end)
    for ln, (s, e) in best.items():
        out.append((s, e, lines[ln]))
    return out


def _finish(states: List[_FileState]) -> RepoAnalysis:
    res = _Resolver(states)
    covs: Dict[int, object] = {}
    unres: Dict[int, set] = {}
    rec_state: Dict[int, _FileState] = {}
    # pass 1: classes of every file (actor status, rebase plan)
    for st in states:
        fa = st.fa
        if st.tree is None:
            continue
        ranges = _optout_ranges(st.tree, fa.optouts) if fa.optouts else []

        def covering(line: int, fa: FileAnalysis = fa, ranges=ranges) -> Optional[OptOut]:
            if fa.file_optout is not None:
                return fa.file_optout
            for s, e, o in ranges:
                if s <= line <= e:
                    return o
            return None

        covs[id(st)] = covering
        unresolved_classes = unres[id(st)] = set()
        for rec in st.classes:
            rec_state[id(rec)] = st
            info = rec.info
            is_actor, traced, kind, chain, un = res.status(st, rec)
            info.is_actor, info.traced, info.actor_kind, info.base_chain = is_actor, traced, kind, chain
            info.optout = covering(info.line)
            looks_actorish = bool(rec.methods & {"receiveMessage"}) or any(
                m.startswith("receiveMsg_") for m in rec.methods)
            for ref, bnode in zip(info.bases, rec.node.bases):
                # unknown names are always reported; third-party bases only when the class looks like
                # an actor (receiveMessage / receiveMsg_* methods), so HTTP adapters etc. stay quiet
                if ref.origin == "unknown" or (ref.reason and not is_actor and looks_actorish):
                    fa.unresolved.append(Unresolved(
                        path=fa.path, line=bnode.lineno, col=bnode.col_offset, name=ref.text,
                        context="base of class %s" % info.full_name, reason=ref.reason or "unresolved"))
                    if not is_actor:
                        unresolved_classes.add(id(rec))
            if is_actor and not traced and info.optout is None and st.fa.module.split(".")[0] not in _EXTERNAL_ROOTS:
                if not any(r.is_actor and r.origin == "project" for r in info.bases):
                    for i, ref in enumerate(info.bases):
                        if ref.resolved == THESPIAN_DISPATCHER:
                            info.rebase.append((i, TRACED_ACTOR))
                        elif ref.resolved == THESPIAN_ACTOR:
                            info.rebase.append((i, TRACED_PLAIN_ACTOR))
            fa.classes.append(info)

    # will the class be on a traced base once the codemod ran? (rebases in skipped files do not happen)
    wbt: Dict[int, bool] = {}

    def will_be_traced(rec: _ClassRec, depth: int = 0) -> bool:
        key = id(rec)
        if key in wbt:
            return wbt[key]
        wbt[key] = False  # cycle guard
        info = rec.info
        owner = rec_state.get(key)
        skipped = owner is None or owner.fa.generated or owner.fa.file_optout is not None
        val = info.traced or (bool(info.rebase) and not skipped) or (
            depth < 50 and any(will_be_traced(b, depth + 1) for b in rec.base_recs if b.info.is_actor))
        wbt[key] = val
        info.will_be_traced = val
        return val

    for st in states:
        for rec in st.classes:
            if rec.info.is_actor:
                will_be_traced(rec)

    # pass 2: send sites and external sites
    for st in states:
        fa = st.fa
        if st.tree is None:
            continue
        covering = covs[id(st)]
        unresolved_classes = unres[id(st)]

        # classes (in the chain) that define send themselves
        def chain_defines_send(rec: _ClassRec, depth: int = 0) -> bool:
            if rec.info.defines_send:
                return True
            return depth < 50 and any(chain_defines_send(b, depth + 1) for b in rec.base_recs)

        send_override: Dict[int, bool] = {}
        for c in st.cands:
            rec = c.cls
            kind = None
            reason = ""
            if rec is None:
                if c.attr != "send" or c.via_super:
                    continue
                kind, reason = "manual_review", "module-level function uses self.send; self is probably an actor"
            else:
                info = rec.info
                if not info.is_actor:
                    if id(rec) not in unresolved_classes:
                        continue
                    if c.attr != "send" or c.via_super:
                        continue
                    kind, reason = "manual_review", "base class of %s could not be resolved" % info.qualname
                else:
                    if id(rec) not in send_override:
                        send_override[id(rec)] = chain_defines_send(rec)
                    rebound = any((info.qualname, c.func_path[:i]) in st.rebound
                                  for i in range(1, len(c.func_path) + 1))
                    if c.attr == "traced_send":
                        kind = "traced_send"
                    elif c.via_super:
                        kind, reason = "manual_review", "super().send() bypasses traced_send"
                    elif rebound:
                        kind, reason = "manual_review", "'%s' is rebound here; it may not be the actor" % c.selfname
                    elif send_override[id(rec)]:
                        kind, reason = "manual_review", "class defines its own send(); rewriting would bypass it"
                    elif c.thread:
                        kind, reason = "manual_review", "send runs in a thread (%s); no trace context there" % c.thread
                    elif c.usage != "call":
                        kind, reason = "manual_review", c.reason
                    elif not info.will_be_traced and info.optout is None:
                        kind, reason = "manual_review", (
                            "class stays on an untraced base (%s is opted out, generated or unrewritable); "
                            "traced_send would not exist" % (info.base_chain[0] if info.base_chain else "its base"))
                    else:
                        kind = "untraced_send"
            n = c.node
            site = SendSite(path=fa.path, module=fa.module, line=n.lineno, col=n.col_offset,
                            end_line=n.end_lineno or n.lineno, end_col=n.end_col_offset or 0,
                            class_name=rec.info.qualname if rec is not None else None, method=c.method,
                            ordinal=c.ordinal, kind=kind, reason=reason)
            site.optout = covering(site.line)
            site.rewritable = kind == "untraced_send" and site.optout is None and not fa.generated
            fa.send_sites.append(site)

        for e in st.ext:
            n = e.node
            if e.traced_name is not None:
                r = res.name(st, e.traced_name)
                if not (r[0] == "external" and r[1].split(".")[0] == TRACE_MODULE):
                    continue
                recv = _segment(st, n.args[0]) if n.args else ""
                site = ExternalSite(path=fa.path, module=fa.module, line=n.lineno, col=n.col_offset,
                                    scope=e.scope, ordinal=e.ordinal, op=e.op, traced=True, receiver=recv)
            else:
                if not _is_actor_system(res, st, e):
                    continue
                site = ExternalSite(path=fa.path, module=fa.module, line=n.lineno, col=n.col_offset,
                                    scope=e.scope, ordinal=e.ordinal, op=e.op, traced=False,
                                    receiver=_segment(st, e.receiver))
                nargs = len(n.args) + len(n.keywords)
                bad = any(type(a) is ast.Starred for a in n.args) or any(k.arg is None for k in n.keywords)
                if bad or (e.op == "tell" and nargs != 2) or (e.op == "ask" and nargs not in (2, 3)):
                    site.reason = "unusual argument list; rewrite by hand"
            site.optout = covering(site.line)
            site.rewritable = (not site.traced and not site.reason and site.optout is None
                               and not fa.generated)
            fa.external_sites.append(site)
    for st in states:
        st.tree = None
    return RepoAnalysis(files=[s.fa for s in states])


def _is_actor_system(res: _Resolver, st: _FileState, e: _ExtCand) -> bool:
    def is_asys(expr, funcs, depth=0) -> bool:
        if depth > 10 or expr is None:
            return False
        if type(expr) is tuple and expr and expr[0] == "annotation":
            r = res.expr(st, expr[1])
            return r[0] == "external" and r[1] == THESPIAN_ACTOR_SYSTEM
        t = type(expr)
        if t is ast.Call:
            r = res.expr(st, expr.func)
            return r[0] == "external" and r[1] == THESPIAN_ACTOR_SYSTEM
        if t is ast.Name:
            for i in range(len(funcs) - 1, -1, -1):
                d = st.func_assigns.get(id(funcs[i]))
                if d and expr.id in d:
                    return is_asys(d[expr.id], funcs[:i + 1], depth + 1)
            d = st.func_assigns.get(0)
            if d and expr.id in d:
                return is_asys(d[expr.id], (), depth + 1)
            b = st.bindings.get(expr.id)
            if b is not None and b[0] == "value":
                return is_asys(b[1], (), depth + 1)
            return False
        if t is ast.Attribute and type(expr.value) is ast.Name and e.cls is not None:
            v = e.cls.self_attrs.get(expr.attr)
            return v is not None and is_asys(v[0], v[1], depth + 1)
        return False

    return is_asys(e.receiver, e.func_stack)


# --------------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------------
def analyze_sources(sources: Mapping[str, Union[str, bytes]]) -> RepoAnalysis:
    """Analyze in-memory files ``{path: source}``; paths decide module names (``__init__.py`` keys)."""
    norm = {os.path.abspath(p) for p in sources}

    def is_file(p: str) -> bool:
        return os.path.abspath(p) in norm

    states = []
    for p, src in sources.items():
        data = src.encode("utf-8") if isinstance(src, str) else src
        states.append(_analyze_one(p, data, is_file))
    return _finish(states)


def analyze_paths(paths: Iterable[str], include: Sequence[str] = (), exclude: Sequence[str] = (),
                  respect_gitignore: bool = True) -> RepoAnalysis:
    """Discover Python files under ``paths`` and analyze them together (see module docstring).

    A file that cannot be read is reported as a FileAnalysis with ``parse_error`` set.
    """
    files = iter_python_files(paths, include, exclude, respect_gitignore)
    return analyze_files(files)


def analyze_files(files: Sequence[str], contents: Optional[Mapping[str, bytes]] = None) -> RepoAnalysis:
    """Analyze exactly ``files`` (paths on disk; ``contents`` may supply bytes already read)."""
    cache: Dict[str, bool] = {}

    def is_file(p: str) -> bool:
        v = cache.get(p)
        if v is None:
            v = cache[p] = os.path.isfile(p)
        return v

    states = []
    for p in files:
        data = contents.get(p) if contents else None
        if data is None:
            try:
                with open(p, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                module, _, root = _module_name(p, is_file)
                fa = FileAnalysis(path=p, module=module, root_dir=root, parse_error="cannot read: %s" % exc)
                states.append(_FileState(fa, None, b""))
                continue
        states.append(_analyze_one(p, data, is_file))
    return _finish(states)
