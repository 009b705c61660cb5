"""One model of a send site, shared by the analysis, the rewrite and migration-check.

A *send site* is an attribute ``<self>.send`` or ``<self>.wakeupAfter`` (or its traced name, or the same on
``super()``) inside a function, where ``<self>`` is the name this module says is bound to the actor there.
Its identity is a :class:`SiteKey`: the qualified class, the function path below it, the operation family
and the ordinal of the site among the sites of that family in that function, in source order. Line numbers
are never part of it, so the rewrite finds exactly the sites the analysis classified, and the baseline of
migration-check survives edits elsewhere in a file.

The analysis walks stdlib ``ast`` trees and the rewrite walks LibCST trees; both keep a stack of
:class:`Frame` built only by :func:`class_frame` and :func:`function_frame`, ask :func:`match` whether an
attribute is a site, and number sites with a :class:`SiteCounter` in source order. Nothing else decides
what a site is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, NamedTuple, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Operation:
    """A method of Thespian's ``Actor`` that the codemod replaces by its traced form."""
    untraced: str
    traced: str
    family: str


SEND = Operation("send", "traced_send", "send")
WAKEUP = Operation("wakeupAfter", "traced_wakeup_after", "wakeup")
OPERATIONS: Tuple[Operation, ...] = (SEND, WAKEUP)
BY_ATTR: Dict[str, Operation] = {name: op for op in OPERATIONS for name in (op.untraced, op.traced)}
TRACED_ATTRS = frozenset(op.traced for op in OPERATIONS)
# Sends through an actor reference held by another object (``self.actor.send``): the analysis reports them
# as unknown with their own ordinals; the rewrite never touches them.
REF_FAMILY = "ref"

# ``ActorSystem`` calls made outside actors, and the runtime functions that trace them
EXTERNAL_OPS: Dict[str, str] = {"ask": "traced_ask", "tell": "traced_tell"}
TRACED_EXTERNAL: Dict[str, str] = {v: k for k, v in EXTERNAL_OPS.items()}


class Frame(NamedTuple):
    """Where a node sits: enclosing class, function path, the name bound to the actor, scopes."""
    cls: Optional[str]          # qualname of the class whose method this is (None: module-level function)
    method: Tuple[str, ...]     # function path below the class (or the module); () outside functions
    selfname: Optional[str]     # the name bound to the actor here, None when no name is
    scope: Tuple[str, ...]      # enclosing class/function names, for ActorSystem ask/tell ordinals
    qual: Tuple[str, ...]       # qualname prefix of classes defined here
    in_func: bool               # inside a function body (classes defined here get ``<locals>``)


MODULE_FRAME = Frame(None, (), None, (), (), False)


def class_frame(outer: Frame, name: str) -> Tuple[str, Frame]:
    """The qualname of class ``name`` defined in ``outer`` and the frame of its body."""
    if outer.in_func:
        qualname = ".".join(outer.qual) + ".<locals>." + name if outer.qual else name
    else:
        qualname = ".".join(outer.qual + (name,))
    return qualname, Frame(qualname, (), None, outer.scope + (name,), tuple(qualname.split(".")), False)


def function_frame(outer: Frame, name: str, params: Sequence[str], is_static: bool, is_lambda: bool,
                   body: bool) -> Frame:
    """The frame of function ``name`` (``<lambda>`` for lambdas) defined in ``outer``.

    ``params`` are its positional parameter names in order. ``body`` is False for the frame its default
    values are evaluated in (same scope as the definition, but already counted as part of the function).
    Who is the actor:
      * a method directly in a class: its first parameter (none for a ``staticmethod``);
      * a module-level function whose first parameter is called ``self``: ``self`` (a helper called with
        an actor; the analysis reports its sends for review);
      * a function nested in a module-level function, whose first parameter is called ``self`` while the
        enclosing one binds no actor: ``self`` (the inner function of a decorator; the analysis decides
        from where the decorator is applied);
      * any other nested function or lambda: whatever its enclosing function binds.
    """
    first = params[0] if params else None
    if not outer.method:
        selfname = None if is_static else first
        if outer.cls is None and selfname != "self":
            selfname = None
    elif outer.cls is None and outer.selfname is None and not is_lambda and first == "self":
        selfname = "self"
    else:
        selfname = outer.selfname
    scope = outer.scope + (name,) if body else outer.scope
    return Frame(outer.cls, outer.method + (name,), selfname, scope, outer.qual + (name,), True)


def match(frame: Frame, attr: str, receiver: Optional[str], via_super: bool) -> Optional[Operation]:
    """The operation when ``<receiver>.<attr>`` (or ``super().<attr>``) in ``frame`` is a send site.

    ``receiver`` is the name the attribute is taken on (None when it is not a plain name).
    """
    op = BY_ATTR.get(attr)
    if op is None or not frame.method:
        return None
    if via_super or (frame.selfname is not None and receiver == frame.selfname):
        return op
    return None


class SiteKey(NamedTuple):
    """Line-independent identity of a site within its module."""
    cls: Optional[str]
    method: str
    family: str
    ordinal: int


class SiteCounter:
    """Numbers sites per (class, function, family) in the order :meth:`key` is called (source order)."""

    def __init__(self) -> None:
        self._counts: Dict[Tuple[Optional[str], str, str], int] = {}

    def key(self, cls: Optional[str], method: str, family: str) -> SiteKey:
        """The key of the next site of ``family`` in ``cls``/``method``."""
        k = (cls, method, family)
        n = self._counts.get(k, 0)
        self._counts[k] = n + 1
        return SiteKey(cls, method, family, n)


class ScopeCounter:
    """Numbers ActorSystem ask/tell calls (traced or not) per enclosing scope, in source order."""

    def __init__(self) -> None:
        self._counts: Dict[str, int] = {}

    def key(self, scope: Tuple[str, ...]) -> Tuple[str, int]:
        """``(dotted scope, ordinal)`` of the next call in ``scope``."""
        sc = ".".join(scope)
        n = self._counts.get(sc, 0)
        self._counts[sc] = n + 1
        return sc, n


def match_external(attr: Optional[str], name: Optional[str]) -> Optional[Tuple[str, bool]]:
    """``(op, traced)`` when a call is ``X.ask``/``X.tell`` (``attr``) or ``traced_ask``/``traced_tell``
    (a plain ``name``); every such call takes an ordinal in its scope, whatever ``X`` turns out to be."""
    if attr is not None and attr in EXTERNAL_OPS:
        return attr, False
    if name is not None and name in TRACED_EXTERNAL:
        return TRACED_EXTERNAL[name], True
    return None
