"""The rewrite's binding-order proof: every name it introduces is bound before the module first uses it.

An AST comparison proves that a rewrite changed only what it meant to change, but not that the module
still imports: a new ``from thespian_trace import TracedActor`` placed below a class that uses
``TracedActor`` as its base compiles fine and raises ``NameError`` at import. This module follows the
order in which a module executes at import time:

* top-level statements run in order; a ``class`` body runs at once (so do its bases, keywords and
  decorators); a ``def`` runs only its decorators, default values and (without
  ``from __future__ import annotations``) its annotations; a ``lambda`` only its defaults;
* a call, at import time, of a module-level function runs that function's body (and what it calls), a
  call of a module-level class runs its ``__new__``/``__init__``/``__post_init__``; so does a module-level
  function used as a decorator;
* nested function bodies run only when called, so they never count.

A name is bound by the first top-level statement that binds it (an import, ``def``, ``class`` or
assignment, also inside a top-level ``if``/``try``/``with``).
"""
from __future__ import annotations

import ast
from typing import Dict, Iterable, List, Optional, Set, Tuple

__all__ = ["first_use_before_binding"]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_RUN_ON_CALL = ("__new__", "__init__", "__post_init__")


def _binds(stmt: ast.stmt, name: str) -> bool:
    """Does top-level statement ``stmt`` bind ``name`` (possibly in one of its blocks)?"""
    t = type(stmt)
    if t is ast.Import:
        return any((a.asname or a.name.split(".")[0]) == name for a in stmt.names)
    if t is ast.ImportFrom:
        star = stmt.module == "thespian_trace" and not stmt.level  # the only star import whose names we know
        return any((a.asname or a.name) == name or (a.name == "*" and star) for a in stmt.names)
    if t in _DEFS or t is ast.ClassDef:
        return stmt.name == name
    if t in (ast.Assign, ast.AnnAssign, ast.AugAssign):
        targets = stmt.targets if t is ast.Assign else [stmt.target]
        return any(type(n) is ast.Name and n.id == name for tg in targets for n in ast.walk(tg))
    blocks = [getattr(stmt, f, None) for f in ("body", "orelse", "finalbody")]
    blocks += [h.body for h in getattr(stmt, "handlers", ())]
    return any(_binds(s, name) for b in blocks if isinstance(b, list) for s in b if isinstance(s, ast.stmt))


class _ImportTime:
    """Collects ``(name, line)`` loads that execute while the module is imported."""

    def __init__(self, tree: ast.Module) -> None:
        self.lazy_annotations = any(
            type(s) is ast.ImportFrom and s.module == "__future__" and any(a.name == "annotations" for a in s.names)
            for s in tree.body)
        self.functions: Dict[str, ast.AST] = {}
        self.classes: Dict[str, ast.ClassDef] = {}
        for s in tree.body:
            if type(s) in _DEFS:
                self.functions[s.name] = s
            elif type(s) is ast.ClassDef:
                self.classes[s.name] = s
        self._entered: Set[str] = set()

    def stmt(self, s: ast.stmt, out: List[Tuple[str, int]]) -> None:
        """The loads statement ``s`` executes now."""
        t = type(s)
        if t in _DEFS:
            self._definition(s, out)
        elif t is ast.ClassDef:
            for e in s.decorator_list + s.bases + [k.value for k in s.keywords]:
                self.expr(e, out)
            self._called_decorators(s, out)
            for b in s.body:
                self.stmt(b, out)
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.stmt):
                    self.stmt(child, out)
                elif isinstance(child, ast.expr):
                    self.expr(child, out)
                elif isinstance(child, (ast.excepthandler, ast.withitem, ast.keyword, ast.arguments)) \
                        or type(child).__name__ == "match_case":
                    self.stmt_like(child, out)

    def stmt_like(self, node: ast.AST, out: List[Tuple[str, int]]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.stmt(child, out)
            elif isinstance(child, ast.expr):
                self.expr(child, out)

    def _definition(self, fn, out: List[Tuple[str, int]]) -> None:
        a = fn.args
        for e in fn.decorator_list + list(a.defaults) + [d for d in a.kw_defaults if d is not None]:
            self.expr(e, out)
        if not self.lazy_annotations:
            params = list(getattr(a, "posonlyargs", [])) + list(a.args) + list(a.kwonlyargs) + \
                [p for p in (a.vararg, a.kwarg) if p is not None]
            for e in [p.annotation for p in params] + [fn.returns]:
                if e is not None:
                    self.expr(e, out)
        self._called_decorators(fn, out)

    def _called_decorators(self, node, out: List[Tuple[str, int]]) -> None:
        for d in node.decorator_list:
            f = d.func if type(d) is ast.Call else d
            if type(f) is ast.Name:
                self.run(f.id, out)

    def expr(self, e: ast.AST, out: List[Tuple[str, int]]) -> None:
        """Loads of an expression evaluated now (lambda bodies excepted), following calls."""
        todo = [e]
        while todo:
            n = todo.pop()
            t = type(n)
            if t is ast.Name:
                if type(n.ctx) is ast.Load:
                    out.append((n.id, n.lineno))
                continue
            if t is ast.Lambda:
                todo.extend(list(n.args.defaults) + [d for d in n.args.kw_defaults if d is not None])
                continue
            if t is ast.Call and type(n.func) is ast.Name:
                self.run(n.func.id, out)
            todo.extend(ast.iter_child_nodes(n))

    def run(self, name: str, out: List[Tuple[str, int]]) -> None:
        """Calling module-level function or class ``name`` now runs its body (once is enough)."""
        if name in self._entered:
            return
        self._entered.add(name)
        fn = self.functions.get(name)
        bodies = [fn.body] if fn is not None else []
        cls = self.classes.get(name)
        if cls is not None:
            bodies += [s.body for s in cls.body if type(s) in _DEFS and s.name in _RUN_ON_CALL]
        for body in bodies:
            for s in body:
                self.stmt(s, out)


def first_use_before_binding(tree: ast.Module, names: Iterable[str]) -> Optional[Tuple[str, int, Optional[int]]]:
    """``(name, line of the use, line of the binding or None)`` for the first of ``names`` that the module
    uses at import time before binding it; ``None`` when the order is sound for all of them."""
    names = set(names)
    if not names:
        return None
    walker = _ImportTime(tree)
    bound: Dict[str, int] = {}
    for i, s in enumerate(tree.body):
        for n in names:
            if n not in bound and _binds(s, n):
                bound[n] = i
    for i, s in enumerate(tree.body):
        if all(n in bound and bound[n] <= i for n in names):
            return None
        loads: List[Tuple[str, int]] = []
        walker.stmt(s, loads)
        for name, line in sorted(loads, key=lambda x: x[1]):
            if name in names and (name not in bound or bound[name] >= i):
                binding = tree.body[bound[name]].lineno if name in bound else None
                return name, line, binding
    return None
