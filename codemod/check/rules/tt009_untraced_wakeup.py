"""TT009 untraced-wakeup: ``self.wakeupAfter`` in an actor class, which drops the trace."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT009", "untraced-wakeup", "untraced `self.wakeupAfter` in an actor class", "error",
    "thespian-trace codemod {path}",
    what="Reports `self.wakeupAfter(...)` in actor classes; the codemod rewrites them to "
         "`self.traced_wakeup_after(period, payload)`. Wakeups it cannot rewrite say why (as TT004 does).",
    why="The WakeupMessage of an untraced wakeup carries no context, so work driven by timers (load "
        "generators, retries, polling) starts a new trace every time.",
    how="Run the codemod on the file (and on the file of the project base, when the fix names one).")


def check(ctx) -> None:
    """One finding per untraced or manual-review wakeup."""
    for s in ctx.fa.send_sites:
        if s.optout is not None or s.family != "wakeup" or s.kind not in ("untraced_send", "manual_review"):
            continue
        where = "%s.%s" % (s.class_name, s.method) if s.class_name else s.method
        if s.kind == "untraced_send":
            ctx.add(RULE.code, s.line, s.col, "untraced `self.wakeupAfter(...)` in actor %s" % where,
                    s.class_name, s.method, s.ordinal, fix=ctx.codemod_fix(s))
        else:
            ctx.add(RULE.code, s.line, s.col, "wakeup in %s needs manual review: %s" % (where, s.reason),
                    s.class_name, s.method, s.ordinal, fix="manual review: call `self.traced_wakeup_after("
                    "period, payload)` where the handler's context is current")
