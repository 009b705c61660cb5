"""TT008 unknown-send: a send the analysis cannot classify (counted as not traced)."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT008", "unknown-send", "send the analysis cannot classify", "warning",
    "manual review: make the sender an actor method calling `self.traced_send(...)`, or add "
    "`# thespian-trace: ignore reason=...`",
    what="Reports sends whose receiver may be an actor but the analysis cannot prove it: sends through an "
         "actor reference held by a helper object or passed to a function (`self.actor.send(...)` after "
         "`Helper(self)`), and `self.send` inside a decorator that is not applied in the analysed code.",
    why="Coverage must never count what the analysis could not see: these count as not traced, and this "
        "rule makes them visible instead of silently missing from the figure.",
    how="Send from the actor itself (`self.traced_send`), or call `traced_send` on the held reference "
        "while the handler's context is current, or opt the line out with a reason.")


def check(ctx) -> None:
    """One finding per unknown site; ordinals count unknown sites per function in source order."""
    counts = {}
    for s in sorted(ctx.fa.send_sites, key=lambda s: (s.line, s.col)):
        if s.optout is not None or s.kind != "unknown":
            continue
        where = "%s.%s" % (s.class_name, s.method) if s.class_name else s.method
        k = (s.class_name, s.method)
        counts[k] = counts.get(k, 0) + 1
        ctx.add(RULE.code, s.line, s.col, "`%s(...)` in %s cannot be classified: %s" % (s.op, where, s.reason),
                s.class_name, s.method, counts[k] - 1)
