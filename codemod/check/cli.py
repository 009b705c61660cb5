"""``thespian-trace migration-check``: arguments, the run (findings, baseline, report), exit codes.

Exit codes: 0 clean, 1 findings / regressions / stale entries / coverage below ``--min-coverage``,
2 usage or I/O error (including an unreadable or malformed baseline).
"Today" for TT006 comes from ``--today YYYY-MM-DD`` (hidden) or ``THESPIAN_TRACE_TODAY``, else the clock.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import sys
from typing import List, Optional, TextIO, Tuple

from .baseline import BaselineEntry, BaselineError, Ratchet, compare_baseline, load_baseline, write_baseline
from .findings import Finding, collect
from .render import RENDERERS, render_text
from .report import EXIT_USAGE, Report
from .rules import RULES

__all__ = ["build_parser", "run_check", "main", "UsageError", "TODAY_ENV"]

TODAY_ENV = "THESPIAN_TRACE_TODAY"


def _today(value: Optional[str]) -> _dt.date:
    raw = value or os.environ.get(TODAY_ENV)
    if raw:
        return _dt.date.fromisoformat(raw)
    return _dt.date.today()


def _coverage_arg(value: str) -> float:
    try:
        pct = float(value.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {value!r}") from None
    if not 0.0 <= pct <= 100.0:
        raise argparse.ArgumentTypeError(f"percentage must be within 0..100, got {value!r}")
    return pct


def _date_arg(value: str) -> str:
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``migration-check`` argument parser."""
    p = argparse.ArgumentParser(
        prog="thespian-trace migration-check",
        description="Report untraced Thespian send sites and actor classes; a ratcheting CI gate.",
        epilog="exit codes: 0 clean, 1 findings/regressions/stale baseline/coverage below floor, "
               "2 usage or I/O error",
    )
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="files or directories to report on (default: .); the rest of the repository is "
                        "analysed too, to resolve base classes")
    p.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text",
                   help="output format (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--baseline", metavar="FILE",
                   help="accept the findings recorded in FILE; fail only on new ones and on stale entries")
    p.add_argument("--update-baseline", action="store_true",
                   help="write the baseline FILE: drop stale entries; new findings are only added when "
                        "FILE does not exist yet or with --allow-growth")
    p.add_argument("--allow-growth", action="store_true",
                   help="with --update-baseline: also record new findings (the baseline grows)")
    p.add_argument("--min-coverage", type=_coverage_arg, metavar="PCT",
                   help="fail when fewer than PCT%% of send sites are traced")
    p.add_argument("--ignore", action="append", default=[], metavar="CODE",
                   help="do not report this rule code (repeatable, comma-separated allowed)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="do not report on files matching GLOB (repeatable)")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="folder analysed to resolve actor classes (default: the repository root of PATHS)")
    p.add_argument("--no-default-excludes", action="store_true",
                   help="also walk virtualenvs (folders with pyvenv.cfg), site-packages, node_modules, "
                        ".tox/.nox and build trees, which are skipped by default")
    p.add_argument("--explain", metavar="CODE", default=None,
                   help="print what rule CODE checks, why it matters and how to fix it, then exit")
    p.add_argument("--show-accepted", action="store_true",
                   help="text format: also list findings accepted by the baseline")
    p.add_argument("--today", type=_date_arg, help=argparse.SUPPRESS)
    return p


def _update_command(args: argparse.Namespace) -> str:
    parts = ["thespian-trace", "migration-check", *args.paths, "--baseline", args.baseline,
             "--update-baseline"]
    for g in args.exclude:
        parts += ["--exclude", g]
    for c in args.ignore:
        parts += ["--ignore", c]
    if args.root:
        parts += ["--root", args.root]
    if args.no_default_excludes:
        parts.append("--no-default-excludes")
    return shlex.join(parts)


def run_check(args: argparse.Namespace, stderr: TextIO) -> Tuple[Report, int]:
    """Collect findings, apply the baseline (and update it) and build the report. Raises on I/O errors."""
    ignore = {c.strip().upper() for item in args.ignore for c in item.split(",") if c.strip()}
    unknown = ignore - set(RULES)
    if unknown:
        raise UsageError(f"--ignore: unknown rule code(s): {', '.join(sorted(unknown))}")
    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE")
    if args.allow_growth and not args.update_baseline:
        raise UsageError("--allow-growth only makes sense with --update-baseline")
    for p in list(args.paths) + ([args.root] if args.root else []):
        if not os.path.exists(p):
            raise UsageError(f"no such file or directory: {p}")

    collected = collect(args.paths, today=_today(args.today), exclude=args.exclude, root=args.root,
                        default_excludes=not args.no_default_excludes)
    findings = [f for f in collected.findings if f.code not in ignore]

    entries: List[BaselineEntry] = []
    baseline_exists = bool(args.baseline) and os.path.exists(args.baseline)
    if args.baseline and (baseline_exists or not args.update_baseline):
        entries = load_baseline(args.baseline)  # BaselineError -> exit 2 (also when missing)
    def undecidable(e: BaselineEntry) -> bool:
        return e.code in ignore or (e.module in collected.unparsed_modules and e.code != "TT900")

    carried = [e for e in entries if undecidable(e)]
    ratchet = compare_baseline(findings, [e for e in entries if not undecidable(e)]) if args.baseline \
        else Ratchet(new=sorted(findings, key=Finding.sort_key))
    ratchet.carried = carried

    report = Report(findings=findings, ratchet=ratchet, stats=collected.stats,
                    files_scanned=collected.files_scanned, baseline_path=args.baseline,
                    update_command=_update_command(args) if args.baseline else None,
                    min_coverage=args.min_coverage,
                    stale_outside=sum(1 for e in ratchet.stale if e.module not in collected.modules),
                    context_files=collected.context_files, root=collected.root, skipped=collected.skipped)
    if args.update_baseline:
        grow = args.allow_growth or not baseline_exists
        keep = ratchet.accepted + (ratchet.new if grow else [])
        write_baseline(args.baseline, [f.key for f in keep] + carried)
        report.baseline_written = args.baseline
        report.growth_refused = 0 if grow else len(ratchet.new)
        report.stale_removed = len(ratchet.stale)
        # the written baseline has no stale entries any more and accepts what it recorded
        report.ratchet = Ratchet(new=[] if grow else ratchet.new,
                                 accepted=sorted(keep, key=Finding.sort_key), stale=[], carried=carried)
    return report, report.exit_code


class UsageError(Exception):
    """Bad combination of arguments (exit code 2)."""


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point for ``thespian-trace migration-check ARGS``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    stderr = sys.stderr
    if args.explain is not None:
        rule = RULES.get(args.explain.strip().upper())
        if rule is None:
            print(f"thespian-trace migration-check: error: unknown rule code {args.explain!r} "
                  f"(known: {', '.join(RULES)})", file=stderr)
            return EXIT_USAGE
        sys.stdout.write(rule.explain())
        return 0
    try:
        report, code = run_check(args, stderr)
    except UsageError as exc:
        parser.print_usage(stderr)
        print(f"thespian-trace migration-check: error: {exc}", file=stderr)
        return EXIT_USAGE
    except BaselineError as exc:
        print(f"thespian-trace migration-check: error: {exc}", file=stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"thespian-trace migration-check: I/O error: {exc}", file=stderr)
        return EXIT_USAGE

    render = RENDERERS[args.format]
    if args.format == "text":
        body = render_text(report, show_accepted=args.show_accepted)
    else:
        body = render(report)
    try:
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(body)
        else:
            sys.stdout.write(body)
    except OSError as exc:
        print(f"thespian-trace migration-check: I/O error: {exc}", file=stderr)
        return EXIT_USAGE
    if args.output or args.format in ("json", "sarif"):
        # machine formats keep stdout clean; humans still get the verdict
        print("\n".join(report.summary_lines()), file=stderr if not args.output else sys.stdout)
    return code
