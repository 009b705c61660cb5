"""``thespian-trace migration-check``: a CI gate that keeps tracing adoption moving forward.

The check runs the shared repository-wide analysis (:mod:`codemod.analysis`) and turns what it finds in
PATHS into *findings*, each with a stable rule code, a ``path:line:col`` location and the command that
fixes it. ``--explain CODE`` prints a rule's documentation.

Where things live (a rule is found by its code)::

    rules/__init__.py      the table: code -> rule module
    rules/tt001_untraced_send.py ... rules/tt900_parse_error.py
                           one rule each: RULE (code, level, fix, what / why / how) beside check(ctx)
    rule.py                the Rule record
    findings.py            Finding, and the driver that runs every rule over each target file
    stats.py               adoption figures (traced / untraced / manual / unknown / opted out)
    baseline.py            the ratchet: entries keyed on meaning, stale entries, the file format
    report.py              what every renderer formats, and the closing summary
    render/as_text.py, as_json.py, as_github.py, as_sarif.py   one renderer per output format
    cli.py                 arguments, the run, exit codes

======  ==========================================================================================
TT001   untraced ``self.send`` in an actor class          (fix: ``thespian-trace codemod PATH``)
TT002   actor class not on a traced base                  (fix: ``thespian-trace codemod PATH``)
TT003   untraced external ``ActorSystem().ask/tell``      (fix: ``thespian-trace codemod --external PATH``)
TT004   indirect send the codemod cannot rewrite          (fix: manual review)
TT005   opt-out comment without a reason                  (fix: add ``reason=...`` to the comment)
TT006   opt-out whose ``until=YYYY-MM-DD`` date has passed (fix: migrate, or move the date)
TT007   name the analysis could not resolve               (fix: manual review)
TT008   send the analysis cannot classify (unknown)       (fix: manual review)
TT009   untraced ``self.wakeupAfter`` in an actor class   (fix: ``thespian-trace codemod PATH``)
TT900   file that cannot be parsed                        (fix: fix the syntax error)
======  ==========================================================================================
"""
from __future__ import annotations

from .baseline import (BASELINE_HEADER, NONE, BaselineEntry, BaselineError, Ratchet, compare_baseline,
                       format_baseline, load_baseline, parse_baseline, write_baseline)
from .cli import TODAY_ENV, UsageError, build_parser, main, run_check
from .findings import Collected, Finding, collect, findings_from_analysis
from .render import (RENDERERS, fingerprints, github_step_summary, render_github, render_json, render_sarif,
                     render_text)
from .report import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Report
from .rule import Rule
from .rules import RULES
from .stats import PackageStats, package_of, pct, total_stats

__all__ = [
    "RULES", "Rule", "Finding", "BaselineEntry", "BaselineError", "Ratchet", "PackageStats", "Report",
    "Collected", "load_baseline", "write_baseline", "format_baseline", "parse_baseline", "compare_baseline",
    "render_text", "render_json", "render_github", "render_sarif", "github_step_summary", "fingerprints",
    "RENDERERS", "collect", "findings_from_analysis", "main", "run_check", "build_parser", "UsageError",
    "TODAY_ENV", "NONE", "BASELINE_HEADER", "EXIT_OK", "EXIT_FINDINGS", "EXIT_USAGE", "package_of", "pct",
    "total_stats",
]
