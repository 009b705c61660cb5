"""The LibCST rewrite: traced sends, traced bases, import fix-ups, opt-in external ask/tell.

The decisions are made by :mod:`codemod.analysis` (stdlib ``ast``, repository-wide). This module turns
them into a :class:`FilePlan` per file and applies the plan with one LibCST pass that matches sites by
meaning, not by position: ``(class qualname, method path, ordinal)`` for sends and
``(scope, ordinal)`` for external calls, counted in source order exactly as the analysis counts them.
No LibCST metadata is computed, and files without a plan are never parsed by LibCST.

Public API:
    ``plan_file(repo, fa, external=False) -> FilePlan``
    ``rewrite_source(data: bytes, plan) -> RewriteResult`` (bytes in, bytes out; encoding, BOM and
    newlines preserved; the result is verified to compile and to contain exactly the planned changes)
    ``TraceSendsCommand``: the same rewrite as a LibCST ``VisitorBasedCodemodCommand`` for
    ``python -m libcst.tool codemod rewrite.TraceSendsCommand PATHS`` (see ``.libcst.codemod.yaml``).
"""
from __future__ import annotations

import argparse
import ast
import codecs
import io
import os
import re
import tokenize
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand

from .analysis import TRACE_MODULE, FileAnalysis, RepoAnalysis, SendSite, analyze_paths

_THESPIAN_MODULES = ("thespian.actors", "thespian")


@dataclass
class FilePlan:
    """What the codemod changes in one file."""
    path: str
    module: str
    sends: Set[Tuple[Optional[str], str, int]] = field(default_factory=set)
    rebases: Dict[str, List[Tuple[int, str]]] = field(default_factory=dict)
    externals: Dict[Tuple[str, int], str] = field(default_factory=dict)
    add_names: List[str] = field(default_factory=list)
    # local name to use for each runtime name (an existing alias, or the name itself)
    local_names: Dict[str, str] = field(default_factory=dict)
    # (bound name, kind, module, imported name, number of base expressions being replaced that use it)
    removals: List[Tuple[str, str, str, Optional[str], int]] = field(default_factory=list)
    protected: Set[str] = field(default_factory=set)
    star_imported: bool = False
    review: List[SendSite] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing needs to change."""
        return not (self.sends or self.rebases or self.externals)


@dataclass
class RewriteResult:
    """Outcome of :func:`rewrite_source`."""
    path: str
    new_data: Optional[bytes] = None
    sends: int = 0
    rebased: int = 0
    externals: int = 0
    error: Optional[str] = None


def _root_name(text: str) -> str:
    return text.split(".")[0].split("[")[0].strip()


def plan_file(repo: RepoAnalysis, fa: FileAnalysis, external: bool = False) -> FilePlan:
    """Turn the analysis of one file into the changes the codemod makes."""
    plan = FilePlan(path=fa.path, module=fa.module)
    plan.review = [s for s in fa.send_sites if s.kind == "manual_review" and s.optout is None]
    if fa.parse_error or fa.generated or fa.file_optout is not None:
        return plan
    if fa.module.split(".")[0] in ("thespian", TRACE_MODULE):
        return plan
    for s in fa.send_sites:
        if s.rewritable:
            plan.sends.add((s.class_name, s.method, s.ordinal))
    base_uses: Dict[str, int] = {}
    needed: List[str] = []
    for c in fa.classes:
        if c.rebase:
            plan.rebases[c.qualname] = list(c.rebase)
            for idx, new in c.rebase:
                root = _root_name(c.bases[idx].text)
                base_uses[root] = base_uses.get(root, 0) + 1
                if new not in needed:
                    needed.append(new)
    if external:
        for e in fa.external_sites:
            if e.rewritable:
                plan.externals[(e.scope, e.ordinal)] = e.op
                n = "traced_" + e.op
                if n not in needed:
                    needed.append(n)
    if plan.empty:
        return plan
    # existing bindings of runtime names (possibly aliased)
    existing = {}
    for bound, kind, mod, name, _line, _top in fa.imports:
        if kind == "from" and mod.split(".")[0] == TRACE_MODULE and name and name != "*":
            existing[name] = bound
    for n in needed:
        if n in existing:
            plan.local_names[n] = existing[n]
        else:
            plan.local_names[n] = n
            plan.add_names.append(n)
    for bound, kind, mod, name, _line, top in fa.imports:
        if not top or bound not in base_uses:
            continue
        if (kind == "from" and mod == "thespian.actors") or (kind == "import" and mod in _THESPIAN_MODULES):
            plan.removals.append((bound, kind, mod, name, base_uses[bound]))
    # names other project modules import from this one must stay (re-exports)
    for other in repo.files:
        for bound, kind, mod, name, _line, _top in other.imports:
            if kind == "from" and mod == fa.module and name:
                if name == "*":
                    plan.star_imported = True
                else:
                    plan.protected.add(name)
    return plan


# --------------------------------------------------------------------------------------------------
# the transformer
# --------------------------------------------------------------------------------------------------
class _Frame:
    __slots__ = ("cls", "method", "selfname", "scope", "qual", "in_func")

    def __init__(self, cls, method, selfname, scope, qual, in_func):
        self.cls = cls
        self.method = method
        self.selfname = selfname
        self.scope = scope
        self.qual = qual
        self.in_func = in_func


def _first_param(params: cst.Parameters) -> Optional[str]:
    ps = list(params.posonly_params) + list(params.params)
    return ps[0].name.value if ps else None


def _is_staticmethod(fn: cst.FunctionDef) -> bool:
    for d in fn.decorators:
        e = d.decorator
        if isinstance(e, cst.Name) and e.value == "staticmethod":
            return True
        if isinstance(e, cst.Attribute) and e.attr.value == "staticmethod":
            return True
    return False


class TraceTransformer(cst.CSTTransformer):
    """Applies a :class:`FilePlan` to a LibCST module (no metadata needed)."""

    def __init__(self, plan: FilePlan, name_loads: Optional[Dict[str, int]] = None,
                 dunder_all: Optional[Set[str]] = None) -> None:
        super().__init__()
        self.plan = plan
        self.name_loads = name_loads or {}
        self.dunder_all = dunder_all or set()
        self.frames: List[_Frame] = [_Frame(None, (), None, (), (), False)]
        self.send_counts: Dict[Tuple[Optional[str], str], int] = {}
        self.ext_counts: Dict[str, int] = {}
        self.rename_ids: Set[int] = set()
        self.ext_ids: Dict[int, str] = {}
        self.class_qns: List[str] = []
        self.sends_done = 0
        self.rebased = 0
        self.ext_done = 0
        self.unmatched: List[str] = []

    # ---- scopes -------------------------------------------------------------------------------
    @property
    def f(self) -> _Frame:
        return self.frames[-1]

    def visit_ClassDef(self, node: cst.ClassDef) -> Optional[bool]:
        f = self.f
        name = node.name.value
        if f.in_func:
            qn = ".".join(f.qual) + ".<locals>." + name if f.qual else name
        else:
            qn = ".".join(f.qual + (name,))
        self.class_qns.append(qn)
        return True

    def visit_ClassDef_body(self, node: cst.ClassDef) -> None:
        qn = self.class_qns[-1]
        self.frames.append(_Frame(qn, (), None, self.f.scope + (node.name.value,), tuple(qn.split(".")), False))

    def leave_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.frames.pop()

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        qn = self.class_qns.pop()
        changes = self.plan.rebases.get(qn)
        if not changes:
            return updated_node
        bases = list(updated_node.bases)
        for idx, new in changes:
            if idx >= len(bases):
                self.unmatched.append("base %d of %s" % (idx, qn))
                continue
            local = self.plan.local_names.get(new, new)
            bases[idx] = bases[idx].with_changes(value=cst.Name(local))
        self.rebased += 1
        return updated_node.with_changes(bases=bases)

    def _func_frame(self, name: str, params: cst.Parameters, static: bool, body: bool) -> _Frame:
        f = self.f
        method = f.method + (name,)
        selfname = f.selfname
        if not f.method:
            selfname = None if static else _first_param(params)
            if f.cls is None and selfname != "self":
                selfname = None
        scope = f.scope + (name,) if body else f.scope
        return _Frame(f.cls, method, selfname, scope, f.qual + (name,), True)

    def visit_FunctionDef_params(self, node: cst.FunctionDef) -> None:
        self.frames.append(self._func_frame(node.name.value, node.params, _is_staticmethod(node), False))

    def leave_FunctionDef_params(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.frames.append(self._func_frame(node.name.value, node.params, _is_staticmethod(node), True))

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_Lambda_params(self, node: cst.Lambda) -> None:
        self.frames.append(self._func_frame("<lambda>", node.params, False, False))

    def leave_Lambda_params(self, node: cst.Lambda) -> None:
        self.frames.pop()

    def visit_Lambda_body(self, node: cst.Lambda) -> None:
        self.frames.append(self._func_frame("<lambda>", node.params, False, True))

    def leave_Lambda_body(self, node: cst.Lambda) -> None:
        self.frames.pop()

    # ---- sends --------------------------------------------------------------------------------
    def visit_Attribute(self, node: cst.Attribute) -> Optional[bool]:
        attr = node.attr.value
        if attr != "send" and attr != "traced_send":
            return True
        f = self.f
        if not f.method:
            return True
        v = node.value
        via_super = (isinstance(v, cst.Call) and isinstance(v.func, cst.Name) and v.func.value == "super")
        if not ((isinstance(v, cst.Name) and f.selfname is not None and v.value == f.selfname) or via_super):
            return True
        key = (f.cls, ".".join(f.method))
        ordinal = self.send_counts.get(key, 0)
        self.send_counts[key] = ordinal + 1
        if (key[0], key[1], ordinal) in self.plan.sends:
            if attr != "send" or via_super:
                self.unmatched.append("send %s.%s #%d is not a self.send" % (key[0], key[1], ordinal))
            else:
                self.rename_ids.add(id(node))
        return True

    def visit_Call(self, node: cst.Call) -> Optional[bool]:
        fn = node.func
        op = None
        if isinstance(fn, cst.Attribute) and fn.attr.value in ("ask", "tell"):
            op = fn.attr.value
        elif isinstance(fn, cst.Name) and fn.value in ("traced_ask", "traced_tell"):
            op = fn.value[7:]
        if op is not None:
            sc = ".".join(self.f.scope)
            ordinal = self.ext_counts.get(sc, 0)
            self.ext_counts[sc] = ordinal + 1
            want = self.plan.externals.get((sc, ordinal))
            if want is not None:
                if want != op or not isinstance(fn, cst.Attribute):
                    self.unmatched.append("external %s #%d" % (sc, ordinal))
                else:
                    self.ext_ids[id(node)] = op
        return True

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        ofn = original_node.func
        if id(ofn) in self.rename_ids:
            self.rename_ids.discard(id(ofn))
            self.sends_done += 1
            fn = updated_node.func
            assert isinstance(fn, cst.Attribute)
            return updated_node.with_changes(func=fn.with_changes(attr=cst.Name("traced_send")))
        op = self.ext_ids.pop(id(original_node), None)
        if op is not None:
            fn = updated_node.func
            assert isinstance(fn, cst.Attribute)
            local = self.plan.local_names.get("traced_" + op, "traced_" + op)
            recv = cst.Arg(value=fn.value, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            self.ext_done += 1
            return updated_node.with_changes(func=cst.Name(local), args=[recv] + list(updated_node.args))
        return updated_node

    # ---- imports ------------------------------------------------------------------------------
    def _removable(self) -> Set[Tuple[str, str, str]]:
        out = set()
        for bound, kind, mod, name, uses in self.plan.removals:
            if bound in self.plan.protected or bound in self.dunder_all:
                continue
            if self.plan.star_imported and not self.dunder_all:
                continue  # `from this_module import *` elsewhere re-exports every import
            if self.name_loads.get(bound, 0) - uses <= 0:
                out.add((bound, kind, mod))
        return out

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if self.rebased == 0 and self.ext_done == 0:
            return updated_node
        removable = self._removable()
        add = list(self.plan.add_names)
        body = list(updated_node.body)
        new_body: List[cst.BaseStatement] = []
        insert_at: Optional[int] = None
        carried_lines: List[cst.EmptyLine] = []
        carried_trailing: Optional[cst.TrailingWhitespace] = None
        last_import_idx: Optional[int] = None
        for stmt in body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                new_body.append(stmt)
                continue
            small = list(stmt.body)
            kept_small = []
            touched = False
            thespian_import = False
            for s in small:
                if isinstance(s, cst.ImportFrom) and not isinstance(s.names, cst.ImportStar):
                    modname = _dotted(s.module) if s.module is not None else ""
                    if not s.relative and modname == "thespian.actors":
                        thespian_import = True
                    if not s.relative and modname == TRACE_MODULE and add:
                        names = list(s.names)
                        have = {_alias_bound(a) for a in names}
                        extra = [n for n in add if n not in have]
                        if extra:
                            last = names[-1]
                            if isinstance(last.comma, cst.MaybeSentinel):
                                names[-1] = last.with_changes(
                                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                                trailing = cst.MaybeSentinel.DEFAULT
                            else:
                                trailing = last.comma
                                names[-1] = last.with_changes(
                                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                            for i, n in enumerate(extra):
                                comma = (cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                                         if i < len(extra) - 1 else trailing)
                                names.append(cst.ImportAlias(name=cst.Name(n), comma=comma))
                            s = s.with_changes(names=names)
                            touched = True
                        add = []
                    if not s.relative and modname == "thespian.actors" and removable:
                        names = [a for a in s.names
                                 if (_alias_bound(a), "from", "thespian.actors") not in removable]
                        if len(names) != len(s.names):
                            touched = True
                            if not names:
                                continue
                            last_orig = s.names[-1]
                            names[-1] = names[-1].with_changes(comma=last_orig.comma)
                            s = s.with_changes(names=names)
                elif isinstance(s, cst.Import) and removable:
                    names = []
                    for a in s.names:
                        full = _dotted(a.name)
                        bound = a.asname.name.value if a.asname is not None else full.split(".")[0]
                        if (bound, "import", full) in removable:
                            continue
                        names.append(a)
                    if len(names) != len(s.names):
                        touched = True
                        thespian_import = True
                        if not names:
                            continue
                        names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                        s = s.with_changes(names=names)
                kept_small.append(s)
            is_import = any(isinstance(s, (cst.Import, cst.ImportFrom)) for s in small)
            if not kept_small:
                # the whole line went away: its comments move to what replaces it
                if insert_at is None:
                    insert_at = len(new_body)
                    carried_lines = list(stmt.leading_lines)
                    carried_trailing = stmt.trailing_whitespace
                continue
            if touched:
                if isinstance(kept_small[-1].semicolon, cst.Semicolon):
                    kept_small[-1] = kept_small[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
                stmt = stmt.with_changes(body=kept_small)
            new_body.append(stmt)
            if thespian_import and insert_at is None:
                insert_at = len(new_body)
            if is_import:
                last_import_idx = len(new_body)
        if add:
            line = cst.SimpleStatementLine(
                body=[cst.ImportFrom(module=cst.Name(TRACE_MODULE),
                                     names=[cst.ImportAlias(name=cst.Name(n),
                                                            comma=(cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                                                                   if i < len(add) - 1 else cst.MaybeSentinel.DEFAULT))
                                            for i, n in enumerate(add)])],
                leading_lines=carried_lines)
            if carried_trailing is not None:
                line = line.with_changes(trailing_whitespace=carried_trailing)
            if insert_at is None:
                insert_at = last_import_idx if last_import_idx is not None else _after_preamble(new_body)
            new_body.insert(insert_at, line)
        elif carried_lines and insert_at is not None and insert_at < len(new_body):
            nxt = new_body[insert_at]
            new_body[insert_at] = nxt.with_changes(leading_lines=carried_lines + list(nxt.leading_lines))
        return updated_node.with_changes(body=new_body)


def _after_preamble(body: List[cst.BaseStatement]) -> int:
    i = 0
    if body and isinstance(body[0], cst.SimpleStatementLine) and body[0].body and \
            isinstance(body[0].body[0], cst.Expr) and isinstance(body[0].body[0].value,
                                                                 (cst.SimpleString, cst.ConcatenatedString)):
        i = 1
    while i < len(body) and isinstance(body[i], cst.SimpleStatementLine) and any(
            isinstance(s, cst.ImportFrom) and s.module is not None and _dotted(s.module) == "__future__"
            for s in body[i].body):
        i += 1
    return i


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return _dotted(node.value) + "." + node.attr.value
    return ""


def _alias_bound(a: cst.ImportAlias) -> str:
    if a.asname is not None and isinstance(a.asname.name, cst.Name):
        return a.asname.name.value
    return _dotted(a.name).split(".")[0]


# --------------------------------------------------------------------------------------------------
# bytes in, bytes out
# --------------------------------------------------------------------------------------------------
def decode_source(data: bytes) -> Tuple[str, str]:
    """Decode like the interpreter (BOM, PEP 263); return (text, codec); newlines untouched."""
    enc, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    if enc == "utf-8" and data.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    return data.decode(enc), enc


def _name_loads(tree: ast.AST) -> Tuple[Dict[str, int], Set[str]]:
    counts: Dict[str, int] = {}
    dunder_all: Set[str] = set()
    for n in ast.walk(tree):
        if type(n) is ast.Name:
            counts[n.id] = counts.get(n.id, 0) + 1
        elif type(n) is ast.Assign and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and n.targets[0].id == "__all__" and isinstance(n.value, (ast.List, ast.Tuple)):
            dunder_all.update(e.value for e in n.value.elts if isinstance(e, ast.Constant)
                              and isinstance(e.value, str))
    # Name nodes in import statements are not Name nodes in ast, so counts are uses only
    return counts, dunder_all


def _normalized_dump(text: str) -> str:
    """Parse and map a rewrite's changes back to one form (in place, one walk) so other changes show."""
    tree = ast.parse(text)
    for n in ast.walk(tree):
        t = type(n)
        if t is ast.Attribute:
            if n.attr == "traced_send":
                n.attr = "send"
        elif t is ast.Call:
            f = n.func
            if type(f) is ast.Name and (f.id == "traced_ask" or f.id == "traced_tell") and n.args:
                n.func = ast.Attribute(value=n.args[0], attr=f.id[7:], ctx=ast.Load())
                n.args = n.args[1:]
        elif t is ast.ClassDef:
            n.bases = [ast.Name(id="BASE", ctx=ast.Load()) for _ in n.bases]
    tree.body = [st for st in tree.body if not isinstance(st, (ast.Import, ast.ImportFrom))]
    return ast.dump(tree)


def _same_program(old: str, new: str) -> bool:
    """True when ``new`` differs from ``old`` only by the rewrites this codemod makes."""
    return _normalized_dump(old) == _normalized_dump(new)


def transform_module(module: cst.Module, plan: FilePlan, text: Optional[str] = None
                     ) -> Tuple[cst.Module, TraceTransformer]:
    """Apply ``plan`` to a parsed module; return the new module and the transformer (for counts)."""
    loads: Dict[str, int] = {}
    dunder_all: Set[str] = set()
    if plan.rebases:
        loads, dunder_all = _name_loads(ast.parse(text if text is not None else module.code))
    tr = TraceTransformer(plan, loads, dunder_all)
    new = module.visit(tr)
    return new, tr


_LONE_CR = re.compile("\r(?!\n)")


def rewrite_source(data: bytes, plan: FilePlan) -> RewriteResult:
    """Rewrite one file's bytes according to ``plan``; never raises (errors go to ``error``)."""
    res = RewriteResult(path=plan.path)
    try:
        text, enc = decode_source(data)
        if _LONE_CR.search(text):
            # classic-Mac line endings: Python accepts them, but LibCST does not round-trip them (it
            # drops the final CR) and the analysis cannot see every site; refuse rather than guess
            res.error = "lone CR (\\r) line endings are not supported; file left unchanged"
            return res
        module = cst.parse_module(text)
        new, tr = transform_module(module, plan, text)
        if tr.unmatched or tr.sends_done != len(plan.sends) or tr.ext_done != len(plan.externals) \
                or tr.rebased != len(plan.rebases):
            res.error = ("internal mismatch between analysis and rewrite (planned %d sends/%d bases/%d "
                         "external, matched %d/%d/%d)%s; file left unchanged"
                         % (len(plan.sends), len(plan.rebases), len(plan.externals), tr.sends_done,
                            tr.rebased, tr.ext_done, (": " + "; ".join(tr.unmatched)) if tr.unmatched else ""))
            return res
        code = new.code
        compile(code, plan.path, "exec", dont_inherit=True)
        if not _same_program(text, code):
            res.error = "internal check failed: the rewrite changed more than sends, bases and imports; " \
                        "file left unchanged"
            return res
        res.new_data = code.encode(enc)
        res.sends, res.rebased, res.externals = tr.sends_done, tr.rebased, tr.ext_done
    except Exception as exc:  # per-file isolation: report, never raise
        res.error = "%s: %s" % (type(exc).__name__, exc)
    return res


def rewrite_job(job: Tuple[str, bytes, FilePlan]) -> RewriteResult:
    """Pool entry point: ``(path, data, plan) -> RewriteResult``."""
    _path, data, plan = job
    return rewrite_source(data, plan)


# --------------------------------------------------------------------------------------------------
# LibCST codemod command
# --------------------------------------------------------------------------------------------------
_ANALYSIS_CACHE: Dict[Tuple[str, bool], RepoAnalysis] = {}


def _default_root(filename: Optional[str]) -> str:
    if not filename:
        return os.getcwd()
    d = os.path.dirname(os.path.abspath(filename))
    probe = d
    while True:
        if os.path.exists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    while os.path.isfile(os.path.join(d, "__init__.py")):
        d = os.path.dirname(d)
    return d


class TraceSendsCommand(VisitorBasedCodemodCommand):
    """Rewrite actor sends to ``traced_send`` and switch actor bases to the traced runtime classes.

    Repository-wide facts come from :mod:`codemod.analysis`, run once per process over ``--root``
    (default: the git root of the first file, else the top of its package chain).
    """

    DESCRIPTION: str = "thespian-trace: self.send -> self.traced_send, traced bases, imports (opt-in ask/tell)"

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        """Command-line options for ``python -m libcst.tool codemod``."""
        arg_parser.add_argument("--rewrite-external", dest="external", action="store_true",
                                help="also rewrite ActorSystem ask/tell into traced_ask/traced_tell")
        arg_parser.add_argument("--root", default=None,
                                help="directory analysed for repository-wide actor resolution")

    def __init__(self, context: CodemodContext, external: bool = False, root: Optional[str] = None) -> None:
        super().__init__(context)
        self.external = external
        self.root = root

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        """Plan from the (cached) repository analysis, then apply the plan."""
        filename = self.context.filename
        root = os.path.abspath(self.root or _default_root(filename))
        key = (root, self.external)
        repo = _ANALYSIS_CACHE.get(key)
        if repo is None:
            repo = _ANALYSIS_CACHE[key] = analyze_paths([root])
        fa = repo.file_for(filename) if filename else None
        if fa is None:
            return tree
        plan = plan_file(repo, fa, self.external)
        for s in plan.review:
            self.warn("%s:%d: manual review: %s" % (s.path, s.line, s.reason))
        if plan.empty:
            return tree
        new, tr = transform_module(tree, plan)
        if tr.unmatched or tr.sends_done != len(plan.sends):
            self.warn("analysis/rewrite mismatch; file skipped")
            return tree
        return new
