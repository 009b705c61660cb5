"""Opt-out comments: ``# thespian-trace: ignore[...]`` and ``ignore-file``, and what each one covers.

Syntax (a real ``#`` comment token, not text in a string)::

    # thespian-trace: ignore
    # thespian-trace: ignore[free reason text]
    # thespian-trace: ignore reason="free text" until=2026-12-31
    # thespian-trace: ignore reason=legacy-path until=2026-12-31
    # thespian-trace: ignore free reason text until=2026-12-31
    # thespian-trace: ignore-file            (anywhere in the file: the whole file; same options)

Whitespace around ``:`` is optional. The reason is the ``[...]`` text, else the value of ``reason=``
(quoted, or the text up to `` until=``), else any remaining free text; ``until=`` takes ``YYYY-MM-DD``.
Coverage: a comment on any line of a simple statement covers that statement; a comment on the header
line(s) of a compound statement (``class``, ``def`` including its decorator lines, ``for``, ``if``,
``with``, ``try``...) covers the whole statement and body; a comment on a line of its own covers nothing.
"""
from __future__ import annotations

import ast
import datetime
import io
import re
import tokenize
from typing import Callable, Dict, List, Optional, Tuple

from .model import OptOut

__all__ = ["parse_optout", "scan_optouts", "optout_ranges", "coverage"]

_OPTOUT_RE = re.compile(r"#\s*thespian-trace\s*:\s*ignore(?P<file>-file)?(?![\w-])(?P<rest>.*)$")
_UNTIL_RE = re.compile(r"(?:^|\s)until=(?P<until>\S*)")
_REASON_RE = re.compile(r"""(?:^|\s)reason=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>.*?))(?=\s+until=|\s*$)""")


def parse_optout(comment: str, path: str = "", line: int = 0) -> Optional[OptOut]:
    """Parse one comment token; return an OptOut when it is a ``thespian-trace: ignore`` comment."""
    m = _OPTOUT_RE.search(comment)
    if not m:
        return None
    rest = m.group("rest").strip()
    reason = None
    if rest.startswith("["):
        end = rest.find("]")
        if end >= 0:
            reason = rest[1:end].strip() or None
            rest = rest[end + 1:].strip()
    until_raw = None
    um = _UNTIL_RE.search(rest)
    if um:
        until_raw = um.group("until")
    rm = _REASON_RE.search(rest)
    if rm and reason is None:
        val = rm.group("dq") if rm.group("dq") is not None else (
            rm.group("sq") if rm.group("sq") is not None else rm.group("bare"))
        reason = (val or "").strip() or None
    elif reason is None:
        free = _UNTIL_RE.sub(" ", rest).strip()
        reason = free or None
    until = None
    if until_raw:
        try:
            until = datetime.date.fromisoformat(until_raw)
        except ValueError:
            until = None
    return OptOut(path=path, line=line, reason=reason, until=until, until_raw=until_raw,
                  file_level=bool(m.group("file")), text=comment.strip())


def scan_optouts(data: bytes, path: str) -> List[OptOut]:
    out: List[OptOut] = []
    try:
        for tok in tokenize.tokenize(io.BytesIO(data).readline):
            if tok.type == tokenize.COMMENT and "thespian-trace" in tok.string:
                o = parse_optout(tok.string, path, tok.start[0])
                if o is not None:
                    out.append(o)
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        pass
    return out


def optout_ranges(tree: ast.Module, optouts: List[OptOut]) -> List[Tuple[int, int, OptOut]]:
    """Map each opt-out comment to the line range it covers."""
    lines = {o.line: o for o in optouts if not o.file_level}
    if not lines:
        return []
    out: List[Tuple[int, int, OptOut]] = []
    best: Dict[int, Tuple[int, int]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        start = node.lineno
        decos = getattr(node, "decorator_list", None)
        if decos:
            start = min([start] + [d.lineno for d in decos])
        end = node.end_lineno or node.lineno
        body = getattr(node, "body", None)
        compound = isinstance(body, list) and body and isinstance(body[0], ast.stmt)
        if compound:
            header_end = max(node.lineno, body[0].lineno - 1) if body[0].lineno > node.lineno else node.lineno
            for ln in lines:
                if start <= ln <= header_end:
                    out.append((start, end, lines[ln]))
        else:
            for ln in lines:
                if start <= ln <= end:
                    prev = best.get(ln)
                    if prev is None or (end - start) < (prev[1] - prev[0]):
                        best[ln] = (start, end)
    for ln, (s, e) in best.items():
        out.append((s, e, lines[ln]))
    return out


def coverage(tree: ast.Module, optouts: List[OptOut], file_optout: Optional[OptOut]
             ) -> Callable[[int], Optional[OptOut]]:
    """A function ``line -> the OptOut covering it`` (the file-level one covers everything)."""
    ranges = optout_ranges(tree, optouts) if optouts else []

    def covering(line: int) -> Optional[OptOut]:
        if file_optout is not None:
            return file_optout
        for s, e, o in ranges:
            if s <= line <= e:
                return o
        return None

    return covering
