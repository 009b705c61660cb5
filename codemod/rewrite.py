"""The LibCST rewrite: traced sends, traced bases, import fix-ups, opt-in external ask/tell.

The decisions are made by :mod:`codemod.analysis` (stdlib ``ast``, repository-wide). This module turns
them into a :class:`FilePlan` per file and applies the plan with one LibCST pass that finds sites through
the model the analysis uses (:mod:`codemod.sites`: same frames, same matching, same ordinals), never by
position. No LibCST metadata is computed, and files without a plan are never parsed by LibCST.

Safety net, in :func:`rewrite_source`: the planned and the performed changes must match one for one; the
result must compile; its AST must equal the original's once the planned changes are mapped back; and every
name the rewrite uses must be bound before the module first uses it at import time
(:mod:`codemod.binding_order`). A file failing any of these is reported and never written.

Public API:
    ``plan_file(repo, fa, external=False) -> FilePlan``
    ``rewrite_source(data: bytes, plan) -> RewriteResult`` (bytes in, bytes out; encoding, BOM and
    newlines preserved)
    ``TraceSendsCommand``: the same rewrite as a LibCST ``VisitorBasedCodemodCommand`` for
    ``python -m libcst.tool codemod --no-format rewrite.TraceSendsCommand PATHS`` (see
    ``.libcst.codemod.yaml``).
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
from .binding_order import first_use_before_binding
from .discovery import find_root
from .sites import (BY_ATTR, MODULE_FRAME, TRACED_ATTRS, TRACED_EXTERNAL, WAKEUP, Frame, ScopeCounter,
                    SiteCounter, SiteKey, class_frame, function_frame, match, match_external)

_THESPIAN_MODULES = ("thespian.actors", "thespian")


@dataclass
class FilePlan:
    """What the codemod changes in one file."""
    path: str
    module: str
    # send sites to rename: SiteKey -> traced method name (traced_send, traced_wakeup_after)
    sends: Dict[SiteKey, str] = field(default_factory=dict)
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
    # untraced sites left for a later run: their class becomes traced only when these files are rewritten
    deferred: List[Tuple[SendSite, List[str]]] = field(default_factory=list)
    planned: List[SendSite] = field(default_factory=list)  # the sites behind ``sends``

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
    wakeups: int = 0
    rebased: int = 0
    externals: int = 0
    error: Optional[str] = None


def _root_name(text: str) -> str:
    return text.split(".")[0].split("[")[0].strip()


def plan_file(repo: RepoAnalysis, fa: FileAnalysis, external: bool = False) -> FilePlan:
    """Turn the analysis of one file into the changes the codemod makes.

    A send whose class becomes traced only through the rewrite of a file that is not a target of this
    run is *deferred*, not rewritten: ``traced_send`` would not exist on it yet.
    """
    plan = FilePlan(path=fa.path, module=fa.module)
    plan.review = [s for s in fa.send_sites if s.kind in ("manual_review", "unknown") and s.optout is None]
    if fa.parse_error or fa.generated or fa.file_optout is not None or not fa.target:
        return plan
    if fa.module.split(".")[0] in ("thespian", TRACE_MODULE):
        return plan
    for s in fa.send_sites:
        if not s.rewritable:
            continue
        missing = [p for p in s.needs if not repo.is_target(p)]
        if missing:
            plan.deferred.append((s, missing))
            continue
        plan.sends[s.site_key] = s.traced_name
        plan.planned.append(s)
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
def _positional(params: cst.Parameters) -> List[str]:
    return [p.name.value for p in list(params.posonly_params) + list(params.params)]


def _is_staticmethod(fn: cst.FunctionDef) -> bool:
    for d in fn.decorators:
        e = d.decorator
        if isinstance(e, cst.Name) and e.value == "staticmethod":
            return True
        if isinstance(e, cst.Attribute) and e.attr.value == "staticmethod":
            return True
    return False


class TraceTransformer(cst.CSTTransformer):
    """Applies a :class:`FilePlan` to a LibCST module (no metadata needed; frames from codemod.sites)."""

    def __init__(self, plan: FilePlan, name_loads: Optional[Dict[str, int]] = None,
                 dunder_all: Optional[Set[str]] = None) -> None:
        super().__init__()
        self.plan = plan
        self.name_loads = name_loads or {}
        self.dunder_all = dunder_all or set()
        self.frames: List[Frame] = [MODULE_FRAME]
        self.sites = SiteCounter()
        self.scopes = ScopeCounter()
        self.rename: Dict[int, str] = {}
        self.ext_ids: Dict[int, str] = {}
        self.classes: List[Tuple[str, Frame]] = []
        self.sends_done = 0
        self.wakeups_done = 0
        self.rebased = 0
        self.ext_done = 0
        self.unmatched: List[str] = []

    # ---- scopes -------------------------------------------------------------------------------
    @property
    def f(self) -> Frame:
        return self.frames[-1]

    def visit_ClassDef(self, node: cst.ClassDef) -> Optional[bool]:
        self.classes.append(class_frame(self.f, node.name.value))
        return True

    def visit_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.frames.append(self.classes[-1][1])

    def leave_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.frames.pop()

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        qn = self.classes.pop()[0]
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

    def _function(self, node: cst.FunctionDef, body: bool) -> None:
        self.frames.append(function_frame(self.f, node.name.value, _positional(node.params),
                                          _is_staticmethod(node), False, body))

    def _lambda(self, node: cst.Lambda, body: bool) -> None:
        self.frames.append(function_frame(self.f, "<lambda>", _positional(node.params), False, True, body))

    def visit_FunctionDef_params(self, node: cst.FunctionDef) -> None:
        self._function(node, False)

    def leave_FunctionDef_params(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self._function(node, True)

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_Lambda_params(self, node: cst.Lambda) -> None:
        self._lambda(node, False)

    def leave_Lambda_params(self, node: cst.Lambda) -> None:
        self.frames.pop()

    def visit_Lambda_body(self, node: cst.Lambda) -> None:
        self._lambda(node, True)

    def leave_Lambda_body(self, node: cst.Lambda) -> None:
        self.frames.pop()

    # ---- sends --------------------------------------------------------------------------------
    def visit_Attribute(self, node: cst.Attribute) -> Optional[bool]:
        attr = node.attr.value
        if attr not in BY_ATTR:
            return True
        f = self.f
        v = node.value
        via_super = isinstance(v, cst.Call) and isinstance(v.func, cst.Name) and v.func.value == "super"
        op = match(f, attr, v.value if isinstance(v, cst.Name) else None, via_super)
        if op is None:
            return True
        key = self.sites.key(f.cls, ".".join(f.method), op.family)
        traced = self.plan.sends.get(key)
        if traced is not None:
            if attr != op.untraced or via_super:
                self.unmatched.append("site %s.%s %s #%d is not a self.%s" % (key.cls, key.method, key.family,
                                                                             key.ordinal, op.untraced))
            else:
                self.rename[id(node)] = traced
        return True

    def visit_Call(self, node: cst.Call) -> Optional[bool]:
        fn = node.func
        ext = match_external(fn.attr.value if isinstance(fn, cst.Attribute) else None,
                             fn.value if isinstance(fn, cst.Name) else None)
        if ext is not None:
            op, traced = ext
            sc, ordinal = self.scopes.key(self.f.scope)
            want = self.plan.externals.get((sc, ordinal))
            if want is not None:
                if want != op or traced:
                    self.unmatched.append("external %s #%d" % (sc, ordinal))
                else:
                    self.ext_ids[id(node)] = op
        return True

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        ofn = original_node.func
        traced = self.rename.pop(id(ofn), None)
        if traced is not None:
            self.sends_done += 1
            self.wakeups_done += traced == WAKEUP.traced
            fn = updated_node.func
            assert isinstance(fn, cst.Attribute)
            return updated_node.with_changes(func=fn.with_changes(attr=cst.Name(traced)))
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
        # where the new import goes: where a removed thespian import line was, else right after the first
        # top-level thespian import, else after the leading block of imports (never after one that comes
        # below code: late `import tempfile` lines in test modules); binding_order proves it afterwards
        last_import_idx: Optional[int] = None
        leading = True
        for pos, stmt in enumerate(body):
            if not isinstance(stmt, cst.SimpleStatementLine):
                new_body.append(stmt)
                leading = leading and _is_import_block(stmt)
                if leading:
                    last_import_idx = len(new_body)
                continue
            small = list(stmt.body)
            kept_small = []
            touched = False
            thespian_import = any(_imports_thespian(s) for s in small)
            for s in small:
                if isinstance(s, cst.ImportFrom) and not isinstance(s.names, cst.ImportStar):
                    modname = _dotted(s.module) if s.module is not None else ""
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
                        if not names:
                            continue
                        names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                        s = s.with_changes(names=names)
                kept_small.append(s)
            is_import = all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in small)
            if not (is_import or (pos == 0 and _is_docstring(stmt))):
                leading = False
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
            if is_import and leading:
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


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and bool(stmt.body) and \
        isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value,
                                                          (cst.SimpleString, cst.ConcatenatedString))


def _imports_thespian(s: cst.BaseSmallStatement) -> bool:
    """``from thespian... import ...`` (also ``*``) or ``import thespian...``."""
    if isinstance(s, cst.ImportFrom):
        return not s.relative and s.module is not None and _dotted(s.module).split(".")[0] == "thespian"
    if isinstance(s, cst.Import):
        return any(_dotted(a.name).split(".")[0] == "thespian" for a in s.names)
    return False


def _is_import_block(stmt: cst.BaseStatement) -> bool:
    """A guarded import (``try:`` of imports only, whatever its handlers do; ``if`` of imports only) is
    part of the module's import block."""
    def imports_only(block) -> bool:
        return all(isinstance(line, cst.SimpleStatementLine)
                   and all(isinstance(x, (cst.Import, cst.ImportFrom, cst.Pass)) for x in line.body)
                   for line in block.body)

    if isinstance(stmt, cst.Try):
        return imports_only(stmt.body)
    if isinstance(stmt, cst.If):
        orelse = stmt.orelse
        return imports_only(stmt.body) and (orelse is None or (
            _is_import_block(orelse) if isinstance(orelse, cst.If) else imports_only(orelse.body)))
    return False


def _after_preamble(body: List[cst.BaseStatement]) -> int:
    i = 1 if body and _is_docstring(body[0]) else 0
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


_UNTRACED = {op.traced: op.untraced for op in BY_ATTR.values()}


def _normalized_dump(tree: ast.Module) -> str:
    """Map a rewrite's changes back to one form (in place, one walk) so that any other change shows.

    Imports are dropped and bases blanked here; :mod:`codemod.binding_order` checks their order.
    """
    for n in ast.walk(tree):
        t = type(n)
        if t is ast.Attribute:
            if n.attr in TRACED_ATTRS:
                n.attr = _UNTRACED[n.attr]
        elif t is ast.Call:
            f = n.func
            if type(f) is ast.Name and f.id in TRACED_EXTERNAL and n.args:
                n.func = ast.Attribute(value=n.args[0], attr=f.id[7:], ctx=ast.Load())
                n.args = n.args[1:]
        elif t is ast.ClassDef:
            n.bases = [ast.Name(id="BASE", ctx=ast.Load()) for _ in n.bases]
    tree.body = [st for st in tree.body if not isinstance(st, (ast.Import, ast.ImportFrom))]
    return ast.dump(tree)


def _same_program(old, new) -> bool:
    """True when ``new`` differs from ``old`` only by the rewrites this codemod makes (source texts or
    ``ast`` trees; trees are changed in place)."""
    return _normalized_dump(ast.parse(old) if isinstance(old, str) else old) == \
        _normalized_dump(ast.parse(new) if isinstance(new, str) else new)


def _original_line(old: ast.Module, new: ast.Module):
    """Map a line of the rewritten module to the original file (the rewrite only adds or removes
    top-level import lines, so other top-level statements keep their order)."""
    def code(tree):
        return [st for st in tree.body if not isinstance(st, (ast.Import, ast.ImportFrom))]

    pairs = list(zip(code(new), code(old)))

    def where(line: int) -> int:
        offset = 0
        for n, o in pairs:
            if n.lineno > line:
                break
            offset = o.lineno - n.lineno
        return line + offset

    return where


def _names_used(plan: FilePlan, tr: "TraceTransformer") -> Set[str]:
    """The module-level names the rewritten file now relies on."""
    used: Set[str] = set()
    for changes in plan.rebases.values():
        used.update(plan.local_names.get(new, new) for _i, new in changes)
    for op in plan.externals.values():
        used.add(plan.local_names.get("traced_" + op, "traced_" + op))
    return used


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
        new_tree = ast.parse(code, plan.path)
        compile(new_tree, plan.path, "exec", dont_inherit=True)
        bad = first_use_before_binding(new_tree, _names_used(plan, tr))
        old_tree = ast.parse(text, plan.path)
        if bad is not None:
            name, line, bound = bad
            where = _original_line(old_tree, new_tree)
            res.error = ("the rewritten module would use %s at line %d before %s; file left unchanged "
                         "(move its imports above the code that uses them, then re-run)"
                         % (name, where(line), "it is bound (line %d)" % where(bound) if bound
                            else "anything binds it"))
            return res
        if not _same_program(old_tree, new_tree):
            res.error = "internal check failed: the rewrite changed more than sends, bases and imports; " \
                        "file left unchanged"
            return res
        res.new_data = code.encode(enc)
        res.sends, res.wakeups = tr.sends_done - tr.wakeups_done, tr.wakeups_done
        res.rebased, res.externals = tr.rebased, tr.ext_done
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
    root, _why = find_root([filename])
    return root or os.path.dirname(os.path.abspath(filename))


class TraceSendsCommand(VisitorBasedCodemodCommand):
    """Rewrite actor sends to ``traced_send`` and switch actor bases to the traced runtime classes.

    Repository-wide facts come from :mod:`codemod.analysis`, run once per process over ``--root``
    (default: found from the first file as :func:`codemod.discovery.find_root` does). The same checks as
    :func:`rewrite_source` guard each file; a file failing one is left unchanged with a warning.
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
        bad = first_use_before_binding(ast.parse(new.code), _names_used(plan, tr))
        if bad is not None:
            self.warn("%s:%d: %s would be used before it is bound; file skipped" % (filename, bad[1], bad[0]))
            return tree
        return new
