"""Phase 2 of the analysis: resolve names across the analysed files, and decide which classes are actors.

Names resolve through local classes, ``import a.b as c``, ``from m import n as k``, relative imports, star
imports (honouring ``__all__``; the last star import that defines a name wins, and one that only *might*
define it never hides one that does), module-level aliases (``ATD = ta.ActorTypeDispatcher``), attribute
chains (``thespian.actors.ActorTypeDispatcher``) and, for classes defined inside functions, the names the
enclosing functions bind (``from json import JSONEncoder`` in the function). A project's own class that
shadows a Thespian name is a project class. Modules under ``thespian``/``thespian_trace`` are always
external, never project modules, wherever they sit.

Results of :meth:`Resolver.name` / :meth:`Resolver.expr`: ``("class", state, rec)``,
``("function", state, name)``, ``("external", dotted)``, ``("module", state)``, ``("builtin", name)``,
``("value",)`` or ``("unknown", reason)``.
"""
from __future__ import annotations

import ast
import builtins
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from ..names import (EXTERNAL_ROOTS, THESPIAN_ACTOR, THESPIAN_ACTORS_NAMES, THESPIAN_DISPATCHER, TRACE_MODULE,
                     TRACE_NAMES, TRACED_ACTOR, TRACED_PLAIN_ACTOR)
from .collect import ClassRec, FileState
from .model import BaseRef

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()) or """
abc argparse array ast asyncio base64 bisect builtins collections concurrent contextlib copy csv dataclasses
datetime decimal enum functools glob hashlib heapq http io itertools json logging math multiprocessing
numbers operator os pathlib pickle queue random re select selectors shutil signal socket socketserver sqlite3
ssl string struct subprocess sys tempfile threading time traceback types typing unittest urllib uuid warnings
weakref xml zipfile _thread""".split())
_BUILTINS = frozenset(dir(builtins))

Scopes = Tuple[Dict[str, tuple], ...]


def external_kind(dotted: str) -> Optional[str]:
    """What an external class is for the analysis: dispatcher, plain, traced_dispatcher, traced_plain,
    traced (a thespian_trace mixin), or None (not an actor base)."""
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


def is_stdlib_or_known(dotted: str) -> bool:
    """A name from the standard library, builtins, Thespian or thespian_trace (never worth a warning)."""
    top = dotted.split(".")[0]
    return top in _STDLIB or top in EXTERNAL_ROOTS or top == "builtins"


def segment(node: ast.AST) -> str:
    """Source text of an expression (normalised by ``ast.unparse``)."""
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - malformed synthetic nodes
        return "<expr>"


class Resolver:
    """Resolves names and base classes across all analysed files (see module docstring)."""

    def __init__(self, states: List[FileState]):
        self.states = states
        self.by_module: Dict[str, List[FileState]] = {}
        for s in states:
            if s.tree is None:
                continue
            if s.fa.module.split(".")[0] in EXTERNAL_ROOTS:
                continue
            self.by_module.setdefault(s.fa.module, []).append(s)
        self.class_status: Dict[int, tuple] = {}

    def module(self, importer: FileState, name: str) -> Optional[FileState]:
        """The analysed file of module ``name`` as seen from ``importer`` (same root first)."""
        if not name or name.split(".")[0] in EXTERNAL_ROOTS:
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

    # ---- names --------------------------------------------------------------------------------
    def name(self, st: FileState, name: str, depth: int = 0, scopes: Scopes = ()) -> tuple:
        """Resolve ``name`` at module level of ``st`` (after the function ``scopes``, innermost first)."""
        if depth > 40:
            return ("unknown", "resolution cycle")
        for scope in scopes:
            b = scope.get(name)
            if b is not None:
                return self.binding(st, name, b, depth)
        b = st.bindings.get(name)
        if b is not None:
            return self.binding(st, name, b, depth)
        maybe = None
        for mod in reversed(st.stars):
            r = self.star_lookup(st, mod, name, depth)
            if r is None:
                continue
            if r[0] != "unknown":
                return r
            maybe = maybe or (mod, r)
        if name in _BUILTINS:
            return ("builtin", name)
        if maybe is not None:
            return maybe[1]
        ext_stars = [m for m in st.stars if self.module(st, m) is None and not self._known_star(m)]
        if ext_stars:
            return ("unknown", "may come from star import of %s" % ", ".join(ext_stars))
        if st.stars:
            return ("unknown", "name %r is not defined in %s nor in its star imports (%s)"
                    % (name, st.fa.module, ", ".join(st.stars)))
        return ("unknown", "name %r is not defined or imported in %s" % (name, st.fa.module))

    @staticmethod
    def _known_star(mod: str) -> bool:
        return mod == "thespian.actors" or mod.split(".")[0] == TRACE_MODULE

    def binding(self, st: FileState, name: str, b: tuple, depth: int) -> tuple:
        """Resolve one binding of ``collect_bindings``."""
        k = b[0]
        if k == "class":
            rec = st.class_by_q.get(b[1])
            return ("class", st, rec) if rec else ("value",)
        if k == "function":
            return ("function", st, b[1])
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

    def star_lookup(self, st: FileState, mod: str, name: str, depth: int) -> Optional[tuple]:
        """What ``from mod import *`` gives ``name`` in ``st``: a result, ``None`` (it does not define
        it), or an ``unknown`` result (it might: through a star import of its own the analysis cannot see)."""
        tgt = self.module(st, mod)
        if tgt is None:
            if mod == "thespian.actors":
                return ("external", mod + "." + name) if name in THESPIAN_ACTORS_NAMES else None
            if mod.split(".")[0] == TRACE_MODULE:
                return ("external", TRACE_MODULE + "." + name) if name in TRACE_NAMES else None
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

    def expr(self, st: FileState, node: ast.AST, depth: int = 0, scopes: Scopes = ()) -> tuple:
        """Resolve a Name/Attribute/Subscript expression."""
        t = type(node)
        if t is ast.Name:
            return self.name(st, node.id, depth, scopes)
        if t is ast.Attribute:
            base = self.expr(st, node.value, depth + 1, scopes)
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
            return self.expr(st, node.value, depth + 1, scopes)
        if t is ast.Call:
            return ("unknown", "base is computed by a call")
        return ("unknown", "unsupported base expression")

    # ---- class status -------------------------------------------------------------------------
    def status(self, st: FileState, rec: ClassRec, stack: Sequence[int] = ()) -> tuple:
        """Return (is_actor, traced, kind, chain, unresolved_flag) and fill ``rec.info.bases``."""
        key = id(rec)
        got = self.class_status.get(key)
        if got is not None:
            return got
        if key in stack:
            return (False, False, None, [], True)
        stack = tuple(stack) + (key,)
        info = rec.info
        info.bases = []
        is_actor = traced = False
        kind = None
        chain: List[str] = []
        unresolved = False
        for b in rec.node.bases:
            r = self.expr(st, b, 0, rec.scopes)
            ref = BaseRef(text=segment(b), resolved=None, origin="unknown")
            k = None
            if r[0] == "class":
                s2, rec2 = r[1], r[2]
                ref.origin, ref.resolved = "project", rec2.info.full_name
                rec.base_recs.append(rec2)
                a, tr, k, ch, un = self.status(s2, rec2, stack)
                ref.is_actor, ref.traced = a, tr
                unresolved = unresolved or un
                if a and (not is_actor or (tr and not traced)):
                    chain = [rec2.info.full_name] + ch
            elif r[0] == "external":
                ref.origin, ref.resolved = "external", r[1]
                ek = external_kind(r[1])
                if ek is not None:
                    ref.is_actor, ref.traced = True, ek.startswith("traced")
                    if not is_actor or (ref.traced and not traced):
                        chain = [r[1]]
                    k = {"dispatcher": "dispatcher", "traced_dispatcher": "dispatcher",
                         "plain": "plain", "traced_plain": "plain"}.get(ek)
                elif not is_stdlib_or_known(r[1]):
                    ref.reason = "external base from %s is not analyzed" % r[1].rpartition(".")[0]
            elif r[0] == "builtin":
                ref.origin, ref.resolved = "builtin", "builtins." + r[1]
            elif r[0] == "module":
                ref.reason = "base resolves to a module"
                unresolved = True
            elif r[0] in ("value", "function"):
                ref.reason = "base is a value, not a class the analysis can follow"
                unresolved = True
            else:
                ref.reason = r[1]
                unresolved = True
            if ref.is_actor:
                is_actor = True
                traced = traced or ref.traced
                kind = "dispatcher" if (k == "dispatcher" or kind == "dispatcher") else (kind or k)
            info.bases.append(ref)
        if traced and kind is None:
            kind = "dispatcher"
        res = (is_actor, traced, kind, chain, unresolved)
        self.class_status[key] = res
        return res
