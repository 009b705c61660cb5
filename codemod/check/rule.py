"""What a migration-check rule is: a stable code, a name, a level, how to fix it, and its documentation."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A stable rule: code, short name, one-line description, SARIF/GitHub level, the fix (a template
    where ``{path}`` becomes the file's shell-quoted path) and the three paragraphs ``--explain`` prints."""

    code: str
    name: str
    description: str
    level: str  # "error" | "warning"
    fix: str
    what: str = ""
    why: str = ""
    how: str = ""

    def explain(self) -> str:
        """The rule's documentation, as ``thespian-trace migration-check --explain CODE`` prints it."""
        parts = ["%s %s (%s)" % (self.code, self.name, self.level), "", self.description + "."]
        for title, text in (("What it does", self.what), ("Why it matters", self.why), ("How to fix", self.how)):
            if text:
                parts += ["", title, "  " + " ".join(text.split())]
        parts += ["", "Fix: " + self.fix.format(path="PATH")]
        return "\n".join(parts) + "\n"
