"""TT900 parse-error: a file that cannot be parsed."""
from __future__ import annotations

import re

from ..rule import Rule

RULE = Rule(
    "TT900", "parse-error", "file cannot be parsed", "error",
    "fix the syntax error (the codemod skips this file until then)",
    what="Reports files that are not valid Python for this interpreter (or cannot be read or decoded).",
    why="Nothing in such a file is analysed: its actors and sends are invisible to both tools.",
    how="Fix the syntax error, or exclude the file (`--exclude`) if it is not Python for this version.")


def check(ctx) -> None:
    """One finding for a file whose parse failed."""
    err = ctx.fa.parse_error
    if err:
        m = re.match(r"line (\d+)", err)
        ctx.add(RULE.code, int(m.group(1)) if m else 1, 0, "cannot parse file: %s" % err, None, None, 0,
                snippet=err)
