"""The baseline ratchet: accepted findings keyed on meaning, that can only shrink.

``--baseline FILE`` accepts the findings recorded in FILE and fails only on new ones. Entries are keyed on
*meaning*: ``rule, module, class, method, ordinal`` (the ordinal of the site within its method, as the
analysis counts it), never line numbers, so inserting lines or reordering methods does not churn the file.
Matching is done per ``(rule, module, class, method)`` group: exact ordinals first, then by count, so a
traced send inserted *above* a baselined one in the same method does not turn the old one into a "new"
finding (an untraced one grows the group and is new). A baseline entry with no finding left is *stale* and
fails the check (with the exact command that removes it), so the baseline can only shrink.
``--update-baseline`` drops stale entries; it adds new findings only when the file does not exist yet or
with ``--allow-growth``. Entries of a module that currently fails to parse, and of ``--ignore``d rules, are
kept unchecked (neither stale nor dropped), so a broken file cannot shrink the baseline by accident.

File format (UTF-8, ``#`` comments, one tab-separated entry per line, sorted, ``-`` for "none")::

    # thespian-trace migration-check baseline v1
    TT001	app.workers	Worker	receiveMsg_Job	2
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, List, Sequence, Tuple

from .rules import RULES

if TYPE_CHECKING:  # pragma: no cover
    from .findings import Finding

__all__ = ["BASELINE_HEADER", "NONE", "BaselineEntry", "BaselineError", "Ratchet", "parse_baseline",
           "format_baseline", "load_baseline", "write_baseline", "compare_baseline"]

BASELINE_HEADER = "# thespian-trace migration-check baseline v1"
NONE = "-"


@dataclass(frozen=True, order=True)
class BaselineEntry:
    """A recorded finding, keyed on meaning (never on line numbers)."""

    code: str
    module: str
    cls: str
    method: str
    ordinal: int

    @property
    def group(self) -> Tuple[str, str, str, str]:
        return (self.code, self.module, self.cls, self.method)

    def to_line(self) -> str:
        return "\t".join((self.code, self.module, self.cls, self.method, str(self.ordinal)))

    def describe(self) -> str:
        where = self.module
        if self.cls != NONE:
            where += ":" + self.cls
            if self.method != NONE:
                where += "." + self.method
        elif self.method != NONE:
            where += ":" + self.method
        return f"{self.code} {where} #{self.ordinal}"


class BaselineError(Exception):
    """The baseline file cannot be read or is malformed (exit code 2)."""


def parse_baseline(text: str, source: str = "<baseline>") -> List[BaselineEntry]:
    """Parse baseline text; raises :class:`BaselineError` on malformed lines. Duplicates collapse."""
    entries = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith(("<<<<<<<", "=======", ">>>>>>>")):
            raise BaselineError(f"{source}:{lineno}: unresolved merge conflict marker")
        parts = line.split("\t")
        if len(parts) != 5:
            raise BaselineError(f"{source}:{lineno}: expected 5 tab-separated fields, got {len(parts)}")
        code, module, cls, method, ordinal = (p.strip() for p in parts)
        if code not in RULES:
            raise BaselineError(f"{source}:{lineno}: unknown rule code {code!r}")
        if not module:
            raise BaselineError(f"{source}:{lineno}: empty module")
        try:
            ordinal_i = int(ordinal)
        except ValueError:
            raise BaselineError(f"{source}:{lineno}: ordinal {ordinal!r} is not an integer") from None
        entries.add(BaselineEntry(code, module, cls or NONE, method or NONE, ordinal_i))
    return sorted(entries)


def format_baseline(entries: Iterable[BaselineEntry]) -> str:
    """Serialise entries: header, then one sorted, de-duplicated entry per line."""
    lines = [
        BASELINE_HEADER,
        "# Accepted untraced sites, keyed on meaning: rule, module, class, method, ordinal in method.",
        "# Only shrinks: regenerate with `thespian-trace migration-check PATHS --baseline FILE "
        "--update-baseline`.",
    ]
    lines.extend(e.to_line() for e in sorted(set(entries)))
    return "\n".join(lines) + "\n"


def load_baseline(path: str) -> List[BaselineEntry]:
    """Read a baseline file; raises :class:`BaselineError` when unreadable or malformed."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        hint = (" (create it with --update-baseline)" if isinstance(exc, FileNotFoundError) else "")
        raise BaselineError(f"cannot read baseline {path}: {exc}{hint}") from exc
    return parse_baseline(text, path)


def write_baseline(path: str, entries: Iterable[BaselineEntry]) -> None:
    """Write the baseline atomically (temp file + rename); raises OSError on failure."""
    text = format_baseline(entries)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".baseline-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@dataclass
class Ratchet:
    """Result of comparing current findings with a baseline."""

    new: List["Finding"] = field(default_factory=list)
    accepted: List["Finding"] = field(default_factory=list)
    stale: List[BaselineEntry] = field(default_factory=list)
    # entries that could not be judged this run (their module failed to parse, or their rule is
    # --ignore'd): neither accepted nor stale, and kept as they are by --update-baseline
    carried: List[BaselineEntry] = field(default_factory=list)


def compare_baseline(findings: Sequence["Finding"], entries: Sequence[BaselineEntry]) -> Ratchet:
    """Split findings into new/accepted and find stale entries.

    Per ``(rule, module, class, method)`` group, exact ordinals match first; the rest pair up by count
    (lowest ordinals first), so ordinal shifts inside a method neither create "new" findings nor stale
    entries as long as the number of sites in the group did not grow or shrink.
    """
    by_group_f: Dict[Tuple[str, str, str, str], List["Finding"]] = {}
    for f in findings:
        by_group_f.setdefault(f.key.group, []).append(f)
    by_group_e: Dict[Tuple[str, str, str, str], List[BaselineEntry]] = {}
    for e in sorted(set(entries)):
        by_group_e.setdefault(e.group, []).append(e)

    result = Ratchet()
    for group in set(by_group_f) | set(by_group_e):
        cur = sorted(by_group_f.get(group, []), key=lambda f: (f.ordinal, f.line, f.col))
        base = list(by_group_e.get(group, []))
        base_ordinals = {e.ordinal: e for e in base}
        unmatched_f: List["Finding"] = []
        for f in cur:
            e = base_ordinals.pop(f.ordinal, None)
            if e is not None:
                result.accepted.append(f)
            else:
                unmatched_f.append(f)
        leftover = sorted(base_ordinals.values())
        n = min(len(unmatched_f), len(leftover))
        result.accepted.extend(unmatched_f[:n])
        result.new.extend(unmatched_f[n:])
        result.stale.extend(leftover[n:])
    result.new.sort(key=lambda f: f.sort_key())
    result.accepted.sort(key=lambda f: f.sort_key())
    result.stale.sort()
    return result
