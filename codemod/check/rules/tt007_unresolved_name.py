"""TT007 unresolved-name: a base class the analysis could not resolve."""
from __future__ import annotations

from ..rule import Rule

RULE = Rule(
    "TT007", "unresolved-name", "base class or name the analysis could not resolve", "warning",
    "manual review: make the base resolvable under the analysed root (see --root) or add an opt-out with "
    "a reason",
    what="Reports base classes that resolve to nothing the analysis can follow: names not defined or "
         "imported, computed bases, names that may come from a star import of an unanalysed module, and "
         "third-party bases of classes that look like actors.",
    why="The analysis cannot tell whether such a class is an actor, so its sends can be neither "
        "rewritten nor counted as traced.",
    how="Make the defining module part of the analysed tree (the repository root, or `--root`), import "
        "the base by name, or opt the class out with a reason.")


def check(ctx) -> None:
    """One finding per unresolved name; ordinals count repeats of the same text in the file."""
    counts = {}
    for u in ctx.fa.unresolved:
        key = ctx.clean(u.name)
        counts[key] = counts.get(key, 0) + 1
        ctx.add(RULE.code, u.line, u.col, "cannot resolve `%s` (%s): %s" % (u.name, u.context, u.reason),
                None, key, counts[key] - 1)
