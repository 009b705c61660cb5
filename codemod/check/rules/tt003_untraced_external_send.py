"""TT003 untraced-external-send: ``ActorSystem().ask/tell`` outside actors."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT003", "untraced-external-send", "untraced external `ActorSystem` ask/tell", "error",
    "thespian-trace codemod --external {path}",
    what="Reports `ask`/`tell` calls on an ActorSystem (created here, assigned to a name or attribute, "
         "annotated `ActorSystem`, or returned by a function annotated `-> ActorSystem`) outside actors.",
    why="These are where requests enter the actor system (web handlers, CLIs, drivers). Without "
        "`traced_ask`/`traced_tell` no trace starts there, so a migrated application may never trace.",
    how="Run the codemod with `--external` on the file; calls with unusual argument lists are rewritten "
        "by hand to `traced_ask(asys, addr, msg, timeout)` / `traced_tell(asys, addr, msg)`.")


def check(ctx) -> None:
    """One finding per untraced external call."""
    for e in ctx.fa.external_sites:
        if e.optout is not None or e.traced:
            continue
        scope = e.scope or "<module>"
        call = "%s.%s(...)" % (e.receiver, e.op) if e.receiver else "%s(...)" % e.op
        if e.reason:
            ctx.add(RULE.code, e.line, e.col, "untraced external `%s` in %s (%s)" % (call, scope, e.reason),
                    None, scope, e.ordinal,
                    fix="manual review: call `traced_%s(asys, ...)` from thespian_trace by hand" % e.op)
        else:
            ctx.add(RULE.code, e.line, e.col, "untraced external `%s` in %s" % (call, scope), None, scope,
                    e.ordinal)
