"""The rule table of migration-check: one row per code, one module per rule.

Each module holds ``RULE`` (code, name, level, fix, and the "what it does / why it matters / how to fix"
text that ``--explain CODE`` prints) and ``check(ctx)``, which reports the rule's findings for one file
through :class:`codemod.check.findings.FileContext`. Adding TT010 is one new module and one row below.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

from ..rule import Rule
from . import (tt001_untraced_send, tt002_untraced_actor_class, tt003_untraced_external_send,
               tt004_manual_review_send, tt005_opt_out_without_reason, tt006_opt_out_expired,
               tt007_unresolved_name, tt008_unknown_send, tt009_untraced_wakeup, tt900_parse_error)

MODULES = (
    tt001_untraced_send,
    tt002_untraced_actor_class,
    tt003_untraced_external_send,
    tt004_manual_review_send,
    tt005_opt_out_without_reason,
    tt006_opt_out_expired,
    tt007_unresolved_name,
    tt008_unknown_send,
    tt009_untraced_wakeup,
    tt900_parse_error,
)

RULES: Dict[str, Rule] = {m.RULE.code: m.RULE for m in MODULES}
# checkers of a file that parsed, in table order (TT900 runs alone on files that did not)
CHECKERS: List[Tuple[str, Callable]] = [(m.RULE.code, m.check) for m in MODULES if m is not tt900_parse_error]
PARSE_ERROR = tt900_parse_error

__all__ = ["RULES", "CHECKERS", "MODULES", "PARSE_ERROR", "Rule"]
