"""TT001 untraced-send: an untraced ``self.send`` in an actor class."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT001", "untraced-send", "untraced `self.send` in an actor class", "error",
    "thespian-trace codemod {path}",
    what="Reports every `self.send(...)` in a method of an actor class (or in a decorator closure applied "
         "only to actor methods) that the codemod can rewrite to `self.traced_send(...)`.",
    why="An untraced send carries no trace context: the receiving actor starts a new trace (or none), so "
        "the request's trace ends at this line.",
    how="Run the codemod on the file. When the class is traced only through a project base class "
        "defined in another file, the fix names that file too: both must be rewritten in the same run.")


def check(ctx) -> None:
    """One finding per untraced, rewritable-in-principle send site of the ``send`` family."""
    for s in ctx.fa.send_sites:
        if s.optout is not None or s.kind != "untraced_send" or s.family != "send":
            continue
        where = "actor %s.%s" % (s.class_name, s.method) if s.class_name else "decorator closure %s" % s.method
        ctx.add(RULE.code, s.line, s.col, "untraced `self.send(...)` in %s" % where, s.class_name, s.method,
                s.ordinal, fix=ctx.codemod_fix(s))
