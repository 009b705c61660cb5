"""Phase 1 of the analysis: the facts of one file, before anything is resolved across files.

One recursive walk of the stdlib ``ast`` tree records classes (with their bases, methods, attributes),
send-site candidates (through :mod:`codemod.sites`, the model the rewrite shares), ActorSystem
``ask``/``tell`` candidates, names bound at module level and in functions that hold classes, decorator
applications, and where an actor passes ``self`` to other code (helper objects). Statements that span no
line where any of that can appear are skipped (a byte regex finds those lines first): most of a large
code base is never walked.
"""
from __future__ import annotations

import ast
import bisect
import re
from typing import Dict, List, NamedTuple, Optional, Tuple

from ..sites import (BY_ATTR, MODULE_FRAME, REF_FAMILY, Frame, SiteCounter, ScopeCounter, class_frame,
                     function_frame, match, match_external)
from .model import ClassInfo, FileAnalysis
from .optout import scan_optouts

_THREAD_FUNCS = {
    # callable name -> (positional index of the target, keyword name of the target)
    "Thread": (1, "target"), "Process": (1, "target"), "Timer": (1, "function"),
    "start_new_thread": (0, "function"), "submit": (0, "fn"), "run_in_executor": (1, "func"),
    "call_soon_threadsafe": (0, "callback"), "apply_async": (0, "func"),
}
_COMPOUND = tuple(getattr(ast, n) for n in ("If", "Try", "TryStar", "With", "For", "While") if hasattr(ast, n))
_TRY = tuple(getattr(ast, n) for n in ("Try", "TryStar") if hasattr(ast, n))
# lines that can hold a site, an ask/tell, a thread start, a class, or a call passing `self` on
_RELEVANT_RE = re.compile(rb"send|wakeupAfter|\bself\s*=(?!=)|\bask\b|\btell\b|traced_|ActorSystem|\bclass\s|"
                          rb"Thread|Timer|Process|start_new_thread|submit|run_in_executor|call_soon_threadsafe|"
                          rb"apply_async|[(,]\s*(?:\w+\s*=\s*)?self\s*[,)]")
_DEF_RE = re.compile(rb"[ \t]*(?:async[ \t]+)?def[ \t]")
_GENERATED_RE = re.compile(rb"^[ \t]*#[^\n]*@generated", re.M)
_THREAD_RE = re.compile(rb"Thread|Timer|Process|start_new_thread|submit|run_in_executor|call_soon_threadsafe|"
                        rb"apply_async")
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


# --------------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------------
class Cand:
    """A syntactic send-site candidate (``sites.match`` said yes), classified in phase 2."""
    __slots__ = ("node", "rec", "frame", "ordinal", "op", "via_super", "usage", "reason", "thread",
                 "bound_at", "kwargs")

    def __init__(self, node, rec, frame, op, via_super, usage, reason, thread, bound_at, kwargs):
        self.node, self.rec, self.frame, self.op = node, rec, frame, op
        self.via_super, self.usage, self.reason, self.thread = via_super, usage, reason, thread
        self.bound_at, self.kwargs = bound_at, kwargs
        self.ordinal = 0

    @property
    def method(self) -> str:
        return ".".join(self.frame.method)


class RefCand:
    """``<ref>.send(...)`` where ``<ref>`` is ``self.<attr>`` or a parameter: maybe an actor held elsewhere."""
    __slots__ = ("node", "rec", "frame", "attr", "param", "func", "ordinal")

    def __init__(self, node, rec, frame, attr, param, func):
        self.node, self.rec, self.frame, self.attr, self.param, self.func = node, rec, frame, attr, param, func
        self.ordinal = 0


class SelfPass(NamedTuple):
    """A call in a method of ``rec`` that passes the method's ``self`` to ``callee`` (position or keyword)."""
    rec: "ClassRec"
    node: ast.Call
    callee: ast.AST
    position: Optional[int]
    keyword: Optional[str]


class DecoratorUse(NamedTuple):
    """``@expr`` (or ``@expr(...)``) on a function; ``rec`` is the class when it decorates a method."""
    expr: ast.AST
    rec: Optional["ClassRec"]
    function: str
    line: int


class ExtCand:
    """An ``X.ask``/``X.tell``/``traced_ask``/``traced_tell`` call (``sites.match_external``)."""
    __slots__ = ("node", "scope", "ordinal", "op", "traced_name", "receiver", "func_stack", "rec")

    def __init__(self, node, scope, ordinal, op, traced_name, receiver, func_stack, rec):
        self.node, self.scope, self.ordinal, self.op = node, scope, ordinal, op
        self.traced_name, self.receiver, self.func_stack, self.rec = traced_name, receiver, func_stack, rec


class ClassRec:
    """A class and what phase 1 learnt about its body."""
    __slots__ = ("info", "node", "methods", "thread_methods", "self_attrs", "base_recs", "scopes",
                 "init_params", "method_returns", "ref_cands")

    def __init__(self, info: ClassInfo, node: ast.ClassDef, scopes: Tuple[Dict[str, tuple], ...]) -> None:
        self.info = info
        self.node = node
        self.scopes = scopes  # bindings of the enclosing functions, innermost first
        self.base_recs: List["ClassRec"] = []
        self.methods = set()
        self.thread_methods: Dict[str, str] = {}
        self.self_attrs: Dict[str, tuple] = {}      # attr -> (value expr or ("annotation", expr), funcs)
        self.init_params: List[str] = []            # positional parameters of __init__ after self
        self.method_returns: Dict[str, ast.AST] = {}  # method -> return annotation / the function node
        self.ref_cands: List[RefCand] = []


class FileState:
    """Phase-1 results of one file, kept alive until resolution is done."""

    def __init__(self, fa: FileAnalysis, tree: Optional[ast.Module], data: bytes):
        self.fa = fa
        self.tree = tree
        self.data = data
        self.bindings: Dict[str, tuple] = {}
        self.stars: List[str] = []
        self.all_names: Optional[List[str]] = None
        self.classes: List[ClassRec] = []
        self.class_by_q: Dict[str, ClassRec] = {}
        self.cands: List[Cand] = []
        self.ref_cands: List[RefCand] = []          # in module-level functions
        self.ext: List[ExtCand] = []
        self.self_passes: List[SelfPass] = []
        self.decorator_uses: List[DecoratorUse] = []
        self.functions: Dict[str, ast.AST] = {}     # module-level functions by name
        self.func_assigns: Dict[int, Dict[str, ast.AST]] = {}  # id(func node) or 0 -> name -> value expr
        self.attr_assigns: Dict[Tuple[str, str], ast.AST] = {}  # module level `obj.attr = value`
        self.rebound: set = set()
        self.package = ""
        self.threads = False


# --------------------------------------------------------------------------------------------------
# bindings
# --------------------------------------------------------------------------------------------------
def abs_module(package: str, module: Optional[str], level: int) -> str:
    """The absolute module of ``from <level dots><module> import ...`` in ``package``."""
    if not level:
        return module or ""
    pkg = package.split(".") if package else []
    if level - 1 > 0:
        pkg = pkg[: len(pkg) - (level - 1)] if level - 1 <= len(pkg) else []
    base = ".".join(pkg)
    if module:
        return base + "." + module if base else module
    return base


def collect_bindings(state: FileState, body: List[ast.stmt], out: Dict[str, tuple], qual: str = "",
                     imports: Optional[list] = None, toplevel: bool = True) -> None:
    """Names bound by the statements of one scope (module or function), with what they are bound to.

    Values: ``("module", name)``, ``("from", module, name)``, ``("class", qualname)``,
    ``("function", name)``, ``("alias", expr)``, ``("value", expr)``. ``qual`` prefixes class
    qualnames (``"f.<locals>."`` in function ``f``); ``imports`` (module scope only) receives
    ``FileAnalysis.imports`` rows, and star imports go to ``state.stars``.
    """
    for st in body:
        t = type(st)
        if t is ast.Import:
            for a in st.names:
                bound = a.asname or a.name.split(".")[0]
                out[bound] = ("module", a.name if a.asname else bound)
                if imports is not None:
                    imports.append((bound, "import", a.name, None, st.lineno, toplevel))
        elif t is ast.ImportFrom:
            mod = abs_module(state.package, st.module, st.level)
            for a in st.names:
                if a.name == "*":
                    if imports is not None:
                        state.stars.append(mod)
                        imports.append(("*", "from", mod, "*", st.lineno, toplevel))
                else:
                    bound = a.asname or a.name
                    out[bound] = ("from", mod, a.name)
                    if imports is not None:
                        imports.append((bound, "from", mod, a.name, st.lineno, toplevel))
        elif t is ast.ClassDef:
            out[st.name] = ("class", qual + st.name)
        elif t in _FUNCS:
            out[st.name] = ("function", st.name)
            if imports is not None:
                state.functions[st.name] = st
        elif t is ast.Assign:
            for tg in st.targets:
                if type(tg) is ast.Name:
                    if tg.id == "__all__" and isinstance(st.value, (ast.List, ast.Tuple)) and imports is not None:
                        state.all_names = [e.value for e in st.value.elts
                                           if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                    elif isinstance(st.value, (ast.Name, ast.Attribute)):
                        out[tg.id] = ("alias", st.value)
                    else:
                        out[tg.id] = ("value", st.value)
                elif type(tg) is ast.Attribute and type(tg.value) is ast.Name and imports is not None:
                    state.attr_assigns[(tg.value.id, tg.attr)] = st.value
        elif t is ast.AnnAssign and type(st.target) is ast.Name:
            out[st.target.id] = ("value", st.value if st.value is not None else ("annotation", st.annotation))
        elif t is ast.If or t in _TRY:
            for part in (st.body, *(h.body for h in getattr(st, "handlers", ())), st.orelse,
                         getattr(st, "finalbody", [])):
                collect_bindings(state, part, out, qual, imports, False)


def _positional(fn) -> List[str]:
    a = fn.args
    return [p.arg for p in list(getattr(a, "posonlyargs", [])) + list(a.args)]


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


def call_name(func: ast.AST) -> Optional[str]:
    """``f`` for ``f(...)`` and ``x.f(...)``."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _thread_target(call: ast.Call) -> Optional[ast.AST]:
    spec = _THREAD_FUNCS.get(call_name(call.func) or "")
    if spec is None:
        return None
    idx, kw = spec
    for k in call.keywords:
        if k.arg == kw:
            return k.value
    if len(call.args) > idx:
        return call.args[idx]
    return None


# --------------------------------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------------------------------
class _Ctx(NamedTuple):
    frame: Frame
    rec: Optional[ClassRec]          # the class whose method this is
    thread: Optional[str]            # set when this code runs as a thread target
    funcs: Tuple[ast.AST, ...]       # enclosing function nodes, innermost last
    threadnames: frozenset           # nested functions used as thread targets in the class
    bound_at: int                    # depth of the function that bound frame.selfname
    scopes: Tuple[Dict[str, tuple], ...]  # local bindings of enclosing functions (classes in functions)


_MODULE_CTX = _Ctx(MODULE_FRAME, None, None, (), frozenset(), 0, ())


class Collector:
    """Single recursive walk collecting classes, send candidates and external candidates."""

    def __init__(self, state: FileState, deep: bool, rel_lines: Optional[List[int]]):
        self.s = state
        self.deep = deep
        self.rel_lines = rel_lines
        self.lambda_threads: Dict[int, str] = {}
        self.local_bindings: Dict[int, Dict[str, tuple]] = {}

    def run(self, tree: ast.Module) -> None:
        for st in tree.body:  # decorators of module-level functions: who else uses a decorator
            if type(st) in _FUNCS:
                self.decorators(st, None)
        self.body(tree.body, _MODULE_CTX)

    def relevant(self, st: ast.AST) -> bool:
        """Does the statement span a line that can hold anything phase 1 records?"""
        rl = self.rel_lines
        if rl is None:
            return True
        i = bisect.bisect_left(rl, st.lineno)
        return i < len(rl) and rl[i] <= (st.end_lineno or st.lineno)

    def body(self, stmts, ctx: _Ctx) -> None:
        for st in stmts:
            t = type(st)
            if self.deep and t is not ast.ClassDef and not self.relevant(st):
                if (t is ast.Assign or t is ast.AnnAssign) and (ctx.funcs or ctx.rec is not None):
                    self.record_assign(st, ctx)  # a class attribute `system = make_system()`
                elif t in _FUNCS and ctx.rec is not None and not ctx.frame.method:
                    self.method_assigns(st, ctx)  # `self.asys = make_system()` in __init__
                continue
            self.node(st, None, ctx)

    def node(self, n, parent, ctx: _Ctx) -> None:
        t = type(n)
        if t is ast.ClassDef:
            self.classdef(n, ctx)
            return
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            if not self.deep and ctx.rec is None and not ctx.frame.method:
                return
            self.funcdef(n, n.name, ctx)
            return
        if t is ast.Lambda:
            if self.deep:
                self.funcdef(n, "<lambda>", ctx)
            return
        if not self.deep:
            if t in _COMPOUND:
                for child in ast.iter_child_nodes(n):
                    if isinstance(child, ast.stmt):
                        self.node(child, n, ctx)
            return
        if t is ast.Attribute:
            if n.attr in BY_ATTR and ctx.frame.method:
                self.attribute(n, parent, ctx)
        elif t is ast.Call:
            self.call(n, ctx)
        elif t is ast.Name:
            sn = ctx.frame.selfname
            if sn is not None and n.id == sn and type(n.ctx) is ast.Store:
                self.s.rebound.add((ctx.frame.cls, ctx.frame.method))
        elif t is ast.Assign or t is ast.AnnAssign:
            self.record_assign(n, ctx)
        elif t is ast.With or t is ast.AsyncWith:
            for item in n.items:
                if item.optional_vars is not None and type(item.optional_vars) is ast.Name:
                    self._assigns(ctx.funcs)[item.optional_vars.id] = item.context_expr
        for child in ast.iter_child_nodes(n):
            self.node(child, n, ctx)

    # ---- sites --------------------------------------------------------------------------------
    def attribute(self, n: ast.Attribute, parent, ctx: _Ctx) -> None:
        v = n.value
        tv = type(v)
        via_super = tv is ast.Call and type(v.func) is ast.Name and v.func.id == "super"
        receiver = v.id if tv is ast.Name else None
        op = match(ctx.frame, n.attr, receiver, via_super)
        if op is not None:
            self.add_cand(n, parent, ctx, op, via_super)
            return
        # `self.<attr>.send(...)` / `<param>.send(...)`: an actor held by a helper (phase 2 decides)
        if parent is None or type(parent) is not ast.Call or parent.func is not n or not ctx.funcs:
            return
        fn = ctx.funcs[-1]
        if tv is ast.Attribute and type(v.value) is ast.Name and v.value.id == ctx.frame.selfname \
                and ctx.rec is not None:
            rc = RefCand(n, ctx.rec, ctx.frame, v.attr, None, fn)
        elif tv is ast.Name and receiver != ctx.frame.selfname and type(fn) is not ast.Lambda \
                and receiver in _param_names(fn):
            rc = RefCand(n, ctx.rec, ctx.frame, None, receiver, fn)
        else:
            return
        (ctx.rec.ref_cands if ctx.rec is not None else self.s.ref_cands).append(rc)

    def add_cand(self, n, parent, ctx: _Ctx, op, via_super) -> None:
        usage, reason = "call", ""
        kwargs = ()
        if parent is None or type(parent) is not ast.Call or parent.func is not n:
            usage = "ref"
            pt = type(parent)
            who = "super()" if via_super else ctx.frame.selfname
            if pt in (ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.AugAssign):
                reason = "%s bound to a variable" % n.attr
            elif pt is ast.Call:
                fname = call_name(parent.func) or ""
                if fname in ("partial", "partialmethod"):
                    reason = "functools.partial(%s.%s, ...)" % (who, n.attr)
                else:
                    reason = "%s passed as a callback argument to %s()" % (n.attr, fname or "a call")
            elif pt is ast.keyword:
                reason = "%s passed as a callback keyword argument" % n.attr
            else:
                reason = "%s used without being called (stored, returned or passed on)" % n.attr
        else:
            kwargs = tuple(k.arg for k in parent.keywords)
        self.s.cands.append(Cand(n, ctx.rec, ctx.frame, n.attr, via_super, usage, reason, ctx.thread,
                                 ctx.bound_at, kwargs))

    def call(self, n: ast.Call, ctx: _Ctx) -> None:
        f = n.func
        tf = type(f)
        ext = match_external(f.attr if tf is ast.Attribute else None, f.id if tf is ast.Name else None)
        if ext is not None:
            op, traced = ext
            self.s.ext.append(ExtCand(n, ctx.frame.scope, 0, op, f.id if traced else None,
                                      f.value if not traced else None, ctx.funcs, ctx.rec))
        tgt = _thread_target(n)
        if tgt is not None:
            label = call_name(f)
            if type(tgt) is ast.Lambda:
                self.lambda_threads[id(tgt)] = label
            elif type(tgt) is ast.Attribute and type(tgt.value) is ast.Name and ctx.rec is not None \
                    and tgt.value.id == ctx.frame.selfname:
                ctx.rec.thread_methods[tgt.attr] = label
        sn = ctx.frame.selfname
        if sn is not None and ctx.rec is not None:
            for i, a in enumerate(n.args):
                if type(a) is ast.Name and a.id == sn:
                    self.s.self_passes.append(SelfPass(ctx.rec, n, f, i, None))
            for k in n.keywords:
                if k.arg and type(k.value) is ast.Name and k.value.id == sn:
                    self.s.self_passes.append(SelfPass(ctx.rec, n, f, None, k.arg))

    # ---- assignments (ActorSystem receivers, helper attributes) --------------------------------
    def _assigns(self, funcs) -> Dict[str, ast.AST]:
        key = id(funcs[-1]) if funcs else 0
        d = self.s.func_assigns.get(key)
        if d is None:
            d = self.s.func_assigns[key] = {}
        return d

    def record_assign(self, n, ctx: _Ctx) -> None:
        value = n.value
        ann = n.annotation if type(n) is ast.AnnAssign else None
        if value is None and ann is None:
            return
        if value is None:
            value = ("annotation", ann)
        targets = n.targets if type(n) is ast.Assign else [n.target]
        rec, funcs = ctx.rec, ctx.funcs
        for tg in targets:
            tt = type(tg)
            if tt is ast.Name:
                if funcs:  # module-level assignments live in bindings
                    self._assigns(funcs)[tg.id] = value
                elif rec is not None and not ctx.frame.method:  # class attribute
                    rec.self_attrs.setdefault(tg.id, (value, ()))
            elif tt is ast.Attribute and type(tg.value) is ast.Name and rec is not None \
                    and tg.value.id == ctx.frame.selfname:
                rec.self_attrs[tg.attr] = (("annotation", ann) if ann is not None else value, funcs)

    def method_assigns(self, fn, ctx: _Ctx) -> None:
        """``self.<attr> = ...`` statements directly in a method that is not walked (no relevant line)."""
        assigns = [st for st in fn.body if type(st) is ast.Assign or type(st) is ast.AnnAssign]
        if not assigns:
            return
        frame = function_frame(ctx.frame, fn.name, _positional(fn), _is_staticmethod(fn), False, True)
        inner = ctx._replace(frame=frame, funcs=(fn,))
        for st in assigns:
            self.record_assign(st, inner)

    # ---- definitions --------------------------------------------------------------------------
    def decorators(self, fn, rec: Optional[ClassRec]) -> None:
        for d in fn.decorator_list:
            expr = d.func if type(d) is ast.Call else d
            if type(expr) in (ast.Name, ast.Attribute):
                self.s.decorator_uses.append(DecoratorUse(expr, rec, fn.name, d.lineno))

    def _locals(self, fn, prefix: str) -> Dict[str, tuple]:
        got = self.local_bindings.get(id(fn))
        if got is None:
            got = self.local_bindings[id(fn)] = {}
            collect_bindings(self.s, fn.body, got, prefix)
        return got

    def _scopes(self, ctx: _Ctx) -> Tuple[Dict[str, tuple], ...]:
        """Bindings of the functions enclosing a class defined in ``ctx``, innermost first."""
        if not ctx.funcs:
            return ctx.scopes
        qual = ctx.frame.qual
        out = []
        for depth, fn in enumerate(reversed(ctx.funcs)):
            if type(fn) is ast.Lambda:
                continue
            prefix = ".".join(qual[:len(qual) - depth]) + ".<locals>."
            out.append(self._locals(fn, prefix))
        return tuple(out) + ctx.scopes

    def classdef(self, n: ast.ClassDef, ctx: _Ctx) -> None:
        qn, body_frame = class_frame(ctx.frame, n.name)
        scopes = self._scopes(ctx)
        fa = self.s.fa
        info = ClassInfo(name=n.name, qualname=qn, module=fa.module, path=fa.path, line=n.lineno,
                         col=n.col_offset)
        rec = ClassRec(info, n, scopes)
        self.s.classes.append(rec)
        self.s.class_by_q[qn] = rec
        for st in n.body:
            if type(st) in _FUNCS:
                rec.methods.add(st.name)
                if st.name == "receiveMessage":
                    info.defines_receive_message = True
                elif st.name == "send":
                    info.defines_send = True
                elif st.name == "__init__":
                    rec.init_params = _positional(st)[1:]
                if st.returns is not None:
                    rec.method_returns[st.name] = st.returns
                if st.decorator_list:
                    self.decorators(st, rec)
        # decorators and bases are evaluated in the enclosing scope
        outer = ctx._replace(frame=ctx.frame._replace(selfname=None), thread=None)
        for d in n.decorator_list:
            self.node(d, n, outer)
        for b in n.bases:
            self.node(b, n, outer)
        for k in n.keywords:
            self.node(k, n, outer)
        # thread targets named by nested functions anywhere in the class
        names = set()
        if self.deep and self.s.threads:
            for sub in ast.walk(n):
                if type(sub) is ast.Call:
                    tgt = _thread_target(sub)
                    if tgt is not None and type(tgt) is ast.Name:
                        names.add(tgt.id)
                    elif tgt is not None and type(tgt) is ast.Attribute and type(tgt.value) is ast.Name:
                        rec.thread_methods.setdefault(tgt.attr, call_name(sub.func))
        self.body(n.body, _Ctx(body_frame, rec, None, (), frozenset(names), 0, scopes))

    def funcdef(self, n, name: str, ctx: _Ctx) -> None:
        is_lambda = type(n) is ast.Lambda
        if not is_lambda:
            for d in n.decorator_list:
                self.node(d, n, ctx)
        params = _positional(n)
        static = not is_lambda and _is_staticmethod(n)
        outer = ctx.frame
        frame = function_frame(outer, name, params, static, is_lambda, body=False)
        bound_at = ctx.bound_at
        if frame.selfname != outer.selfname:
            bound_at = len(frame.method)
        elif outer.method and outer.selfname is not None and outer.selfname in _param_names(n):
            self.s.rebound.add((outer.cls, frame.method))
        rec = ctx.rec
        thread = ctx.thread
        if rec is not None and not outer.method and not is_lambda and name in rec.thread_methods:
            thread = "%s(target=self.%s)" % (rec.thread_methods[name], name)
        elif outer.method and not is_lambda and name in ctx.threadnames:
            thread = "thread target %s" % name
        elif is_lambda and id(n) in self.lambda_threads:
            thread = "%s(target=lambda ...)" % self.lambda_threads[id(n)]
        if not self.deep:
            return
        funcs = ctx.funcs + (n,)
        inner = ctx._replace(frame=frame, thread=thread, funcs=funcs, bound_at=bound_at)
        args = n.args
        for d in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
            self.node(d, n, inner)
        if not is_lambda:
            # annotated parameters: remembered for ActorSystem detection
            for p in list(getattr(args, "posonlyargs", [])) + list(args.args) + list(args.kwonlyargs):
                if p.annotation is not None:
                    self._assigns(funcs)[p.arg] = ("annotation", p.annotation)
        inner = inner._replace(frame=function_frame(outer, name, params, static, is_lambda, body=True))
        if is_lambda:
            self.node(n.body, n, inner)
        else:
            for st in n.body:  # a function that spans a relevant line is walked whole
                self.node(st, n, inner)


# --------------------------------------------------------------------------------------------------
# one file
# --------------------------------------------------------------------------------------------------
def module_name(path: str, is_file) -> Tuple[str, str, str]:
    """Return (module, package, root_dir) for ``path`` using the ``__init__.py`` chain."""
    import os

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
    package = module if stem == "__init__" else module.rpartition(".")[0]
    return module, package, d


def _relevant_lines(data: bytes) -> Optional[List[int]]:
    """Line numbers that can matter for the deep walk (None: nothing in the file can)."""
    first = _RELEVANT_RE.search(data)
    if first is None:
        return None
    lines: List[int] = []
    line, pos = 1, 0
    for m in _RELEVANT_RE.finditer(data, first.start()):
        line += data.count(b"\n", pos, m.start())
        pos = m.start()
        if lines and lines[-1] == line:
            continue
        if m.group(0)[:1] in b"(,":  # `(self,` also matches every method header: those do not count
            start = data.rfind(b"\n", 0, m.start()) + 1
            if _DEF_RE.match(data, start):
                continue
        lines.append(line)
    return lines


def analyze_one(path: str, data: bytes, is_file) -> FileState:
    """Phase 1 for one file."""
    module, package, root = module_name(path, is_file)
    fa = FileAnalysis(path=path, module=module, root_dir=root)
    fa.generated = b"@generated" in data and _GENERATED_RE.search(data) is not None
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        fa.parse_error = ("line %s: %s" % (line, msg)) if line else msg
        return FileState(fa, None, data)
    st = FileState(fa, tree, data)
    st.package = package
    collect_bindings(st, tree.body, st.bindings, "", fa.imports)
    if b"thespian-trace" in data:
        fa.optouts = scan_optouts(data, path)
        for o in fa.optouts:
            if o.file_level:
                fa.file_optout = o
    lines = _relevant_lines(data)
    if lines is not None:
        st.threads = _THREAD_RE.search(data) is not None
    Collector(st, lines is not None, lines).run(tree)
    number_sites(st)
    return st


def number_sites(st: FileState) -> None:
    """Assign ordinals in source order (pre-order of the syntax tree, as LibCST visits it)."""
    counter = SiteCounter()
    for c in sorted(st.cands, key=lambda c: (c.node.lineno, c.node.col_offset)):
        c.ordinal = counter.key(c.frame.cls, c.method, BY_ATTR[c.op].family).ordinal
    refs = st.ref_cands + [r for rec in st.classes for r in rec.ref_cands]
    for r in sorted(refs, key=lambda r: (r.node.lineno, r.node.col_offset)):
        r.ordinal = counter.key(r.frame.cls, ".".join(r.frame.method), REF_FAMILY).ordinal
    scopes = ScopeCounter()
    for e in sorted(st.ext, key=lambda e: (e.node.lineno, e.node.col_offset, -(e.node.end_lineno or 0),
                                           -(e.node.end_col_offset or 0))):
        e.scope, e.ordinal = scopes.key(e.scope)
