"""Phase 3 of the analysis: what each class, send site and ActorSystem call *is*, repository-wide.

* Classes: actor status, the rebase the codemod makes (direct ``ActorTypeDispatcher`` -> ``TracedActor``,
  direct ``Actor`` -> ``TracedPlainActor``), whether the class will be traced once the codemod ran, and
  which files that needs (``ClassInfo.traced_by``).
* Send sites (:mod:`codemod.sites`): untraced, traced, manual review (the codemod cannot rewrite it
  safely) or unknown (the analysis cannot tell whether the receiver is an actor). See
  :func:`classify_send` for every reason.
* Decorator closures: the ``self`` of a function nested in a module-level decorator is the actor when
  the decorator is applied only to methods of actor classes.
* Helper objects: an actor that passes ``self`` to a project class or function makes every
  ``<that parameter>.send(...)`` there (and ``self.<attribute set from it>.send(...)``) an unknown site.
* External calls: ``X.ask``/``X.tell`` where ``X`` is an ``ActorSystem`` (see :class:`ActorSystems`).
"""
from __future__ import annotations

import ast
from typing import Callable, Dict, List, Optional, Set, Tuple

from ..names import EXTERNAL_ROOTS, THESPIAN_ACTOR, THESPIAN_ACTOR_SYSTEM, THESPIAN_DISPATCHER, TRACE_MODULE
from ..sites import BY_ATTR, REF_FAMILY, WAKEUP
from .collect import Cand, ClassRec, ExtCand, FileState
from .model import (MANUAL, TRACED, UNKNOWN, UNTRACED, ExternalSite, FileAnalysis, OptOut, RepoAnalysis,
                    SendSite, Unresolved)
from .optout import coverage
from .resolve import Resolver, segment

Covering = Callable[[int], Optional[OptOut]]


# --------------------------------------------------------------------------------------------------
# classes
# --------------------------------------------------------------------------------------------------
def classify_classes(res: Resolver, st: FileState, covering: Covering) -> Set[int]:
    """Fill the ClassInfo of every class of ``st``; return the ids of non-actor classes whose base is unknown."""
    fa = st.fa
    unresolved_classes: Set[int] = set()
    external_file = fa.module.split(".")[0] in EXTERNAL_ROOTS
    for rec in st.classes:
        info = rec.info
        is_actor, traced, kind, chain, _un = res.status(st, rec)
        info.is_actor, info.traced, info.actor_kind, info.base_chain = is_actor, traced, kind, chain
        info.optout = covering(info.line)
        looks_actorish = "receiveMessage" in rec.methods or any(m.startswith("receiveMsg_") for m in rec.methods)
        for ref, bnode in zip(info.bases, rec.node.bases):
            # unknown names are always reported; third-party bases only when the class looks like an actor
            # (receiveMessage / receiveMsg_* methods), so HTTP adapters etc. stay quiet
            if ref.origin == "unknown" or (ref.reason and not is_actor and looks_actorish):
                fa.unresolved.append(Unresolved(
                    path=fa.path, line=bnode.lineno, col=bnode.col_offset, name=ref.text,
                    context="base of class %s" % info.full_name, reason=ref.reason or "unresolved"))
                if not is_actor:
                    unresolved_classes.add(id(rec))
        if is_actor and not traced and info.optout is None and not external_file \
                and not any(r.is_actor and r.origin == "project" for r in info.bases):
            for i, ref in enumerate(info.bases):
                if ref.resolved == THESPIAN_DISPATCHER:
                    info.rebase.append((i, "TracedActor"))
                elif ref.resolved == THESPIAN_ACTOR:
                    info.rebase.append((i, "TracedPlainActor"))
        fa.classes.append(info)
    return unresolved_classes


class TracedPlan:
    """Will a class be on a traced base once the codemod ran, and which files must it rewrite for that?"""

    def __init__(self, owner: Dict[int, FileState]) -> None:
        self.owner = owner
        self.done: Dict[int, Tuple[bool, List[str]]] = {}

    def __call__(self, rec: ClassRec, depth: int = 0) -> Tuple[bool, List[str]]:
        key = id(rec)
        got = self.done.get(key)
        if got is not None:
            return got
        self.done[key] = (False, [])  # cycle guard
        info = rec.info
        st = self.owner.get(key)
        skipped = st is None or st.fa.generated or st.fa.file_optout is not None
        needs: List[str] = []
        will = info.traced
        if not info.traced:
            if info.rebase and not skipped:
                will = True
                needs.append(info.path)
            for b in rec.base_recs:
                if b.info.is_actor and depth < 50:
                    w, n = self(b, depth + 1)
                    if w:
                        will = True
                        needs.extend(p for p in n if p not in needs)
        info.will_be_traced = will
        info.traced_by = needs if will else []
        self.done[key] = (will, info.traced_by)
        return self.done[key]


# --------------------------------------------------------------------------------------------------
# decorators and helper objects
# --------------------------------------------------------------------------------------------------
class DecoratorIndex:
    """Where each module-level function is applied as a decorator: ``(module, name) -> [(state, use)]``."""

    def __init__(self, res: Resolver, states: List[FileState]) -> None:
        self.uses: Dict[Tuple[str, str], list] = {}
        for st in states:
            for use in st.decorator_uses:
                r = res.expr(st, use.expr)
                if r[0] == "function":
                    self.uses.setdefault((r[1].fa.module, r[2]), []).append((st, use))

    def verdict(self, module: str, name: str) -> Tuple[str, str, List[ClassRec]]:
        """``(kind, reason, actor classes it decorates)`` for a closure in decorator ``module.name``."""
        uses = self.uses.get((module, name), [])
        if not uses:
            return UNKNOWN, ("decorator %s takes self in an inner function, but it is not applied in the "
                             "analysed code; the analysis cannot tell whether self is an actor" % name), []
        actors = [u.rec for _st, u in uses if u.rec is not None and u.rec.info.is_actor]
        others = [(st, u) for st, u in uses if u.rec is None or not u.rec.info.is_actor]
        if others:
            st, u = others[0]
            where = "%s.%s" % (u.rec.info.qualname, u.function) if u.rec is not None else u.function
            return MANUAL, ("decorator %s is also applied to %s (%s:%d), which is not an actor method; "
                            "traced_send would not exist there" % (name, where, st.fa.path, u.line)), actors
        untraced = [r for r in actors if not r.info.will_be_traced]
        if untraced:
            return MANUAL, ("decorator %s is applied to %s, which stays on an untraced base"
                            % (name, untraced[0].info.qualname)), actors
        return UNTRACED, "", actors


def helper_refs(res: Resolver, states: List[FileState]) -> Dict[int, str]:
    """``id(RefCand) -> reason`` for every send through an actor reference held by a helper object."""
    out: Dict[int, str] = {}
    for st in states:
        for sp in st.self_passes:
            if not sp.rec.info.is_actor:
                continue
            r = res.expr(st, sp.callee, 0, sp.rec.scopes)
            where = "%s passes self at %s:%d" % (sp.rec.info.qualname, st.fa.path, sp.node.lineno)
            if r[0] == "class":
                helper: ClassRec = r[2]
                init = next((s for s in helper.node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                             and s.name == "__init__"), None)
                if init is None:
                    continue
                pname = _param_for(helper.init_params, sp.position, sp.keyword)
                if pname is None:
                    continue
                attrs = _attrs_set_from(init, pname)
                for rc in helper.ref_cands:
                    if (rc.attr is not None and rc.attr in attrs) or (rc.func is init and rc.param == pname):
                        out[id(rc)] = "send through an actor held by %s (%s)" % (helper.info.qualname, where)
            elif r[0] == "function":
                fn = r[1].functions.get(r[2])
                if fn is None:
                    continue
                params = [p.arg for p in list(getattr(fn.args, "posonlyargs", [])) + list(fn.args.args)]
                pname = _param_for(params, sp.position, sp.keyword)
                for rc in r[1].ref_cands:
                    if rc.func is fn and rc.param == pname and pname is not None:
                        out[id(rc)] = "send through an actor passed to %s() (%s)" % (r[2], where)
    return out


def _attrs_set_from(init, pname: str) -> Set[str]:
    """The attributes ``__init__`` sets from parameter ``pname`` (``self.actor = actor``)."""
    params = [p.arg for p in list(getattr(init.args, "posonlyargs", [])) + list(init.args.args)]
    selfname = params[0] if params else None
    out: Set[str] = set()
    for n in ast.walk(init):
        if type(n) is ast.Assign and type(n.value) is ast.Name and n.value.id == pname:
            for tg in n.targets:
                if type(tg) is ast.Attribute and type(tg.value) is ast.Name and tg.value.id == selfname:
                    out.add(tg.attr)
    return out


def _param_for(params: List[str], position: Optional[int], keyword: Optional[str]) -> Optional[str]:
    if position is not None:
        return params[position] if position < len(params) else None
    return keyword if keyword in params else None


# --------------------------------------------------------------------------------------------------
# send sites
# --------------------------------------------------------------------------------------------------
class SendRules:
    """Classifies the send candidates of one file (one instance per analysis)."""

    def __init__(self, decorators: DecoratorIndex, unresolved_classes: Dict[int, Set[int]]) -> None:
        self.decorators = decorators
        self.unresolved_classes = unresolved_classes
        self.send_override: Dict[int, bool] = {}

    def chain_defines_send(self, rec: ClassRec, depth: int = 0) -> bool:
        """Does the class or a project base define its own ``send``?"""
        got = self.send_override.get(id(rec))
        if got is None:
            got = rec.info.defines_send or (depth < 50 and any(self.chain_defines_send(b, depth + 1)
                                                               for b in rec.base_recs))
            self.send_override[id(rec)] = got
        return got

    def classify(self, st: FileState, c: Cand) -> Optional[Tuple[str, str, List[str]]]:
        """``(kind, reason, needs)`` of a candidate, or None when it is not a send site at all."""
        op = BY_ATTR[c.op]
        is_traced = c.op == op.traced
        rec = c.rec
        if rec is None:
            return self.in_function(st, c, is_traced)
        info = rec.info
        if not info.is_actor:
            if id(rec) not in self.unresolved_classes[id(st)] or is_traced or c.via_super:
                return None
            return MANUAL, "base class of %s could not be resolved" % info.qualname, []
        if is_traced:
            return TRACED, "", []
        frame = c.frame
        rebound = any((frame.cls, frame.method[:i]) in st.rebound for i in range(1, len(frame.method) + 1))
        if c.via_super:
            return MANUAL, "super().%s() bypasses %s" % (c.op, op.traced), []
        if rebound:
            return MANUAL, "'%s' is rebound here; it may not be the actor" % frame.selfname, []
        if op.family == "send" and self.chain_defines_send(rec):
            return MANUAL, "class defines its own send(); rewriting would bypass it", []
        if c.thread:
            return MANUAL, "%s runs in a thread (%s); no trace context there" % (c.op, c.thread), []
        if c.usage != "call":
            return MANUAL, c.reason, []
        if op is WAKEUP and "timePeriod" in c.kwargs:
            return MANUAL, "wakeupAfter(timePeriod=...): traced_wakeup_after names it period", []
        if not info.will_be_traced and info.optout is None:
            return MANUAL, ("class stays on an untraced base (%s is opted out, generated or unrewritable); "
                            "%s would not exist" % (info.base_chain[0] if info.base_chain else "its base",
                                                    op.traced)), []
        return UNTRACED, "", list(info.traced_by)

    def in_function(self, st: FileState, c: Cand, is_traced: bool) -> Optional[Tuple[str, str, List[str]]]:
        """A site in a module-level function (``self`` is a parameter) or in a decorator's closure."""
        if c.via_super:
            return None
        if c.bound_at <= 1:  # def helper(self, ...): self.send(...)
            if is_traced:
                return None
            return MANUAL, "module-level function uses self.%s; self is probably an actor" % c.op, []
        root = c.frame.method[0]
        kind, reason, actors = self.decorators.verdict(st.fa.module, root)
        if is_traced:
            return TRACED, "", []
        if kind != UNTRACED:
            return kind, reason, []
        if c.thread:
            return MANUAL, "%s runs in a thread (%s); no trace context there" % (c.op, c.thread), []
        if c.usage != "call":
            return MANUAL, c.reason, []
        needs: List[str] = []
        for r in actors:
            needs.extend(p for p in r.info.traced_by if p not in needs)
        return UNTRACED, "", needs


def _site(fa: FileAnalysis, node: ast.AST, cls: Optional[str], method: str, ordinal: int, kind: str,
          reason: str, op: str, family: str, covering: Covering) -> SendSite:
    site = SendSite(path=fa.path, module=fa.module, line=node.lineno, col=node.col_offset,
                    end_line=node.end_lineno or node.lineno, end_col=node.end_col_offset or 0,
                    class_name=cls, method=method, ordinal=ordinal, kind=kind, reason=reason, op=op,
                    family=family)
    site.optout = covering(site.line)
    return site


# --------------------------------------------------------------------------------------------------
# ActorSystem receivers
# --------------------------------------------------------------------------------------------------
class ActorSystems:
    """Is an expression an ``ActorSystem``? ``ActorSystem(...)``; a name, ``self.attr``, class attribute,
    module attribute or ``obj.attr`` assigned one; ``with ActorSystem() as x``; a parameter or attribute
    annotated ``ActorSystem``; a call of a function or method annotated ``-> ActorSystem`` (or that
    returns ``ActorSystem(...)``)."""

    def __init__(self, res: Resolver) -> None:
        self.res = res

    def _is_type(self, st: FileState, ann: ast.AST, scopes=()) -> bool:
        if type(ann) is ast.Constant and isinstance(ann.value, str):
            try:
                ann = ast.parse(ann.value, mode="eval").body
            except SyntaxError:
                return False
        r = self.res.expr(st, ann, 0, scopes)
        return r[0] == "external" and r[1] == THESPIAN_ACTOR_SYSTEM

    def returns(self, st: FileState, fn: ast.AST, rec: Optional[ClassRec], depth: int) -> bool:
        """Does function ``fn`` (of ``st``) return an ActorSystem?"""
        if getattr(fn, "returns", None) is not None:
            return self._is_type(st, fn.returns)
        todo = list(getattr(fn, "body", ()))
        while todo:
            n = todo.pop()
            t = type(n)
            if t is ast.Return and n.value is not None:
                if self.check(st, n.value, (fn,), rec, depth + 1):
                    return True
            elif t not in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda):
                todo.extend(c for c in ast.iter_child_nodes(n) if isinstance(c, ast.stmt))
        return False

    def check(self, st: FileState, expr, funcs, rec: Optional[ClassRec], depth: int = 0) -> bool:
        """Is ``expr`` (evaluated in ``st``, inside ``funcs``, in a method of ``rec``) an ActorSystem?"""
        if depth > 10 or expr is None:
            return False
        if type(expr) is tuple:
            return bool(expr) and expr[0] == "annotation" and self._is_type(st, expr[1])
        t = type(expr)
        if t is ast.Call:
            f = expr.func
            if type(f) is ast.Attribute and type(f.value) is ast.Name and rec is not None \
                    and f.value.id in ("self", "cls") and f.attr in rec.method_returns:
                return self._is_type(st, rec.method_returns[f.attr])
            r = self.res.expr(st, f)
            if r[0] == "external":
                return r[1] == THESPIAN_ACTOR_SYSTEM
            if r[0] == "function":
                fn = r[1].functions.get(r[2])
                return fn is not None and self.returns(r[1], fn, None, depth)
            return False
        if t is ast.Name:
            for i in range(len(funcs) - 1, -1, -1):
                d = st.func_assigns.get(id(funcs[i]))
                if d and expr.id in d:
                    return self.check(st, d[expr.id], funcs[:i + 1], rec, depth + 1)
            d = st.func_assigns.get(0)
            if d and expr.id in d:
                return self.check(st, d[expr.id], (), None, depth + 1)
            b = st.bindings.get(expr.id)
            if b is not None and b[0] == "value":
                return self.check(st, b[1], (), None, depth + 1)
            return False
        if t is ast.Attribute:
            v = expr.value
            if type(v) is ast.Name:
                if rec is not None and v.id in ("self", "cls", rec.info.name):
                    got = rec.self_attrs.get(expr.attr)
                    if got is not None:
                        return self.check(st, got[0], got[1], rec, depth + 1)
                if not funcs and (v.id, expr.attr) in st.attr_assigns:
                    return self.check(st, st.attr_assigns[(v.id, expr.attr)], (), None, depth + 1)
            r = self.res.expr(st, v)
            if r[0] == "module":
                b = r[1].bindings.get(expr.attr)
                if b is not None and b[0] == "value":
                    return self.check(r[1], b[1], (), None, depth + 1)
            elif r[0] == "class":
                got = r[2].self_attrs.get(expr.attr)
                if got is not None and not got[1]:
                    return self.check(r[1], got[0], (), r[2], depth + 1)
        return False


def classify_external(res: Resolver, systems: ActorSystems, st: FileState, e: ExtCand,
                      covering: Covering) -> Optional[ExternalSite]:
    """The ExternalSite of one ask/tell candidate, or None when its receiver is not an ActorSystem."""
    fa = st.fa
    n = e.node
    if e.traced_name is not None:
        r = res.name(st, e.traced_name)
        if not (r[0] == "external" and r[1].split(".")[0] == TRACE_MODULE):
            return None
        recv = segment(n.args[0]) if n.args else ""
        site = ExternalSite(path=fa.path, module=fa.module, line=n.lineno, col=n.col_offset,
                            scope=e.scope, ordinal=e.ordinal, op=e.op, traced=True, receiver=recv)
    else:
        if not systems.check(st, e.receiver, e.func_stack, e.rec):
            return None
        site = ExternalSite(path=fa.path, module=fa.module, line=n.lineno, col=n.col_offset,
                            scope=e.scope, ordinal=e.ordinal, op=e.op, traced=False,
                            receiver=segment(e.receiver))
        nargs = len(n.args) + len(n.keywords)
        bad = any(type(a) is ast.Starred for a in n.args) or any(k.arg is None for k in n.keywords)
        if bad or (e.op == "tell" and nargs != 2) or (e.op == "ask" and nargs not in (2, 3)):
            site.reason = "unusual argument list; rewrite by hand"
    site.optout = covering(site.line)
    site.rewritable = not site.traced and not site.reason and site.optout is None and not fa.generated
    return site


# --------------------------------------------------------------------------------------------------
# the whole repository
# --------------------------------------------------------------------------------------------------
def finish(states: List[FileState]) -> RepoAnalysis:
    """Resolve and classify everything phase 1 collected; the trees are dropped afterwards."""
    res = Resolver(states)
    covs: Dict[int, Covering] = {}
    unresolved_classes: Dict[int, Set[int]] = {}
    owner: Dict[int, FileState] = {}
    live = [st for st in states if st.tree is not None]
    for st in live:
        covs[id(st)] = coverage(st.tree, st.fa.optouts, st.fa.file_optout)
        unresolved_classes[id(st)] = classify_classes(res, st, covs[id(st)])
        for rec in st.classes:
            owner[id(rec)] = st
    plan = TracedPlan(owner)
    for st in live:
        for rec in st.classes:
            if rec.info.is_actor:
                plan(rec)
    rules = SendRules(DecoratorIndex(res, live), unresolved_classes)
    refs = helper_refs(res, live)
    systems = ActorSystems(res)
    for st in live:
        fa, covering = st.fa, covs[id(st)]
        for c in st.cands:
            got = rules.classify(st, c)
            if got is None:
                continue
            kind, reason, needs = got
            site = _site(fa, c.node, c.frame.cls, c.method, c.ordinal, kind, reason, c.op,
                         BY_ATTR[c.op].family, covering)
            site.needs = needs
            site.rewritable = kind == UNTRACED and site.optout is None and not fa.generated
            fa.send_sites.append(site)
        for rc in st.ref_cands + [r for rec in st.classes for r in rec.ref_cands]:
            reason = refs.get(id(rc))
            if reason is None:
                continue
            traced = rc.node.attr == BY_ATTR[rc.node.attr].traced
            fa.send_sites.append(_site(fa, rc.node, rc.frame.cls, ".".join(rc.frame.method), rc.ordinal,
                                       TRACED if traced else UNKNOWN, "" if traced else reason, rc.node.attr,
                                       REF_FAMILY, covering))
        for e in st.ext:
            site = classify_external(res, systems, st, e, covering)
            if site is not None:
                fa.external_sites.append(site)
    for st in states:
        st.tree = None
    return RepoAnalysis(files=[s.fa for s in states])
