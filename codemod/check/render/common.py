"""Helpers every output format shares: counts per rule and content fingerprints."""
from __future__ import annotations

import hashlib
from typing import Dict, Iterable, List, Sequence

from ..findings import Finding

__all__ = ["code_counts", "fingerprints"]


def code_counts(findings: Iterable[Finding]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for f in findings:
        counts[f.code] = counts.get(f.code, 0) + 1
    return dict(sorted(counts.items()))


def fingerprints(findings: Sequence[Finding]) -> List[str]:
    """Content-based fingerprints: hash of rule, module, class, method and normalised site text.

    Line numbers are not part of it, so a moved site keeps its fingerprint; identical texts in the
    same method are told apart by their occurrence index.
    """
    seen: Dict[str, int] = {}
    out = []
    for f in findings:
        text = " ".join(f.snippet.split())
        base = "\x1f".join((f.code, f.module, f.cls, f.method, text))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(hashlib.sha256(f"{base}\x1f{n}".encode("utf-8")).hexdigest()[:32])
    return out
