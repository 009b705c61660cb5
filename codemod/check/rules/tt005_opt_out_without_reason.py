"""TT005 opt-out-without-reason: ``# thespian-trace: ignore`` with no reason."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT005", "opt-out-without-reason", "opt-out comment without a reason", "warning",
    "add a reason: `# thespian-trace: ignore reason=<why>`",
    what="Reports opt-out comments (line or file level) that give no reason.",
    why="An opt-out is a decision someone will have to revisit; without a reason nobody can.",
    how="Add `reason=...` (or `[...]`) to the comment, and `until=YYYY-MM-DD` when it is temporary.")


def check(ctx) -> None:
    """One finding per opt-out without a reason."""
    for o in ctx.optouts():
        if not o.reason:
            ctx.add_optout(RULE.code, o, "opt-out `%s` has no reason" % o.text)
