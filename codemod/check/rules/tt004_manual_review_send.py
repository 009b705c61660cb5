"""TT004 manual-review-send: a send in an actor that the codemod cannot rewrite safely."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT004", "manual-review-send", "indirect send the codemod cannot rewrite safely", "error",
    "manual review: call `self.traced_send(...)` directly, or add `# thespian-trace: ignore reason=...`",
    what="Reports sends that are actor sends but not plain `self.send(...)` calls the codemod may rename: "
         "`self.send` bound to a variable or `functools.partial`, passed as a callback, `super().send`, a "
         "class with its own `send`, a send in a thread target, `self` rebound, a module-level helper "
         "taking `self`, a decorator also applied to non-actors, a class that stays on an untraced base, "
         "or a class whose base cannot be resolved. The message says which.",
    why="Each of these either loses the trace context (threads) or would break if renamed blindly.",
    how="Change the code to call `self.traced_send(...)` where the trace context is available, or opt "
        "the line out with a reason.")


def check(ctx) -> None:
    """One finding per manual-review send of the ``send`` family."""
    for s in ctx.fa.send_sites:
        if s.optout is not None or s.kind != "manual_review" or s.family != "send":
            continue
        where = "%s.%s" % (s.class_name, s.method) if s.class_name else s.method
        ctx.add(RULE.code, s.line, s.col, "send in %s needs manual review: %s" % (where, s.reason),
                s.class_name, s.method, s.ordinal)
