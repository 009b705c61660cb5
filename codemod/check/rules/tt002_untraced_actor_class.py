"""TT002 untraced-actor-class: an actor class still on ``ActorTypeDispatcher``/``Actor``."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT002", "untraced-actor-class", "actor class not on a traced base", "error",
    "thespian-trace codemod {path}",
    what="Reports every actor class whose Thespian base the codemod switches: a direct "
         "`ActorTypeDispatcher` base to `TracedActor`, a direct `Actor` base to `TracedPlainActor`.",
    why="Only a traced base continues the sender's trace when a message arrives and gives the class "
        "`traced_send`; its subclasses' sends cannot be traced before it is.",
    how="Run the codemod on the file (it switches the base and fixes the imports).")


def check(ctx) -> None:
    """One finding per class the codemod would rebase."""
    for c in ctx.fa.classes:
        if c.rebase and c.optout is None:
            bases = ", ".join(c.bases[i].text for i, _ in c.rebase)
            targets = ", ".join(name for _, name in c.rebase)
            ctx.add(RULE.code, c.line, c.col,
                    "actor class %s is not on a traced base (%s -> %s)" % (c.qualname, bases, targets),
                    c.qualname, None, 0)
