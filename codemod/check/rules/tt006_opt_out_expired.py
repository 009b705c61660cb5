"""TT006 opt-out-expired: an opt-out whose ``until=`` date has passed (or is not a date)."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT006", "opt-out-expired", "opt-out whose until= date has passed", "error",
    "remove the opt-out and run `thespian-trace codemod {path}`, or move the until= date",
    what="Reports opt-outs whose `until=YYYY-MM-DD` lies before today (`--today` or THESPIAN_TRACE_TODAY "
         "override the clock), and `until=` values that are not dates.",
    why="Temporary opt-outs are how a migration gets stuck; the date makes the gate remind the team.",
    how="Migrate the code and remove the comment, or move the date with a reason.")


def check(ctx) -> None:
    """One finding per expired or malformed until= date."""
    for o in ctx.optouts():
        if o.until_raw and o.until is None:
            ctx.add_optout(RULE.code, o, "opt-out `%s` has an invalid until= date %r (use YYYY-MM-DD)"
                           % (o.text, o.until_raw))
        elif o.expired(ctx.today):
            ctx.add_optout(RULE.code, o, "opt-out `%s` expired on %s" % (o.text, o.until.isoformat()))
