"""``thespian-trace`` command line: ``codemod`` and ``migration-check`` subcommands.

``thespian-trace codemod [options] PATHS...``
    --diff                  dry run: print a unified diff to stdout, write nothing
    --check                 dry run: exit 1 when any file would change
    --jobs N                LibCST worker processes (default: CPU count; 1 = in-process)
    --include GLOB          only files matching (repeatable; gitwildmatch, relative to the PATH argument)
    --exclude GLOB          skip files matching (repeatable)
    --no-gitignore          do not honour .gitignore files
    --no-default-excludes   also walk virtualenvs, site-packages, node_modules, .tox/.nox and build trees
    --root DIR              folder analysed to resolve actor classes (default: the repository root)
    --external              also rewrite ActorSystem ask/tell into traced_ask/traced_tell (opt-in)
    --quiet                 only the summary line
Only files under PATHS are rewritten; the rest of the repository is analysed read-only, so a batch whose
base classes live elsewhere is migrated correctly. A send whose class becomes traced only when a file
outside the batch is rewritten is *deferred* (reported with the command that includes that file).
Exit codes: 0 ok (nothing pending / changes written), 1 ``--check`` with pending changes or any file
failed (unparseable, a rewrite that would use a name before it is bound, changed on disk meanwhile,
read-only (no write bit, even for root), write error, or relying on a file that failed), 2 usage error
(also when the ``codemod`` extra is not installed), 130 interrupted (every file is then either fully
rewritten or untouched).
Symlinks: dangling links and links (found in a directory) to files outside every PATH are skipped and
reported; a file reached through several paths is rewritten once.

``thespian-trace migration-check ...`` is dispatched to :func:`codemod.check.main`.

This module imports neither LibCST nor pathspec until a command runs, so that without the ``codemod``
extra the console script can say what to install instead of failing with a traceback.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

# TEMP_MARK and is_read_only are re-exported: the CLI's documented helpers
from .safe_write import TEMP_MARK, atomic_write, clean_stale_temps, filter_links, is_read_only  # noqa: F401

EXTRA_INSTALL = "pip install 'thespian-trace[codemod]'"
_NEEDS = {"codemod": ("libcst", "pathspec"), "migration-check": ("pathspec",)}


@dataclass
class Summary:
    """Counters for the final report."""
    scanned: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    sends: int = 0
    wakeups: int = 0
    rebased: int = 0
    externals: int = 0
    review: List[Tuple[str, int, str]] = field(default_factory=list)
    unknown: List[Tuple[str, int, str]] = field(default_factory=list)
    deferred: List[Tuple[str, int, str, List[str]]] = field(default_factory=list)
    failures: List[Tuple[str, str]] = field(default_factory=list)
    skips: List[Tuple[str, str]] = field(default_factory=list)
    skipped_trees: List[Tuple[str, str]] = field(default_factory=list)
    root: Optional[str] = None
    root_reason: str = ""
    context: int = 0


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError("%s: error: %s" % (self.prog, message))


def missing_extra(command: str) -> Optional[str]:
    """The first module ``command`` needs that cannot be imported (None when all can)."""
    for name in _NEEDS.get(command, ()):
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def rewrite_job(job):
    """Pool entry point ``(path, data, plan) -> RewriteResult``; imports LibCST on first use."""
    from .rewrite import rewrite_job as job_fn

    return job_fn(job)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="thespian-trace codemod",
                description="Rewrite Thespian actor sends to traced sends (thespian-trace).")
    p.add_argument("paths", nargs="+", metavar="PATH")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="dry run; print a unified diff")
    mode.add_argument("--check", action="store_true", help="dry run; exit 1 when changes are pending")
    p.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: CPU count)")
    p.add_argument("--include", action="append", default=[], metavar="GLOB")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    p.add_argument("--no-gitignore", action="store_true", help="do not honour .gitignore")
    p.add_argument("--no-default-excludes", action="store_true",
                   help="also walk virtualenvs (folders with pyvenv.cfg), site-packages, node_modules, "
                        ".tox/.nox and build trees, which are skipped by default")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="folder analysed to resolve actor classes (default: the repository root of PATHS)")
    p.add_argument("--external", action="store_true",
                   help="also rewrite ActorSystem ask/tell to traced_ask/traced_tell")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    return p


class _Progress:
    def __init__(self, total: int, enabled: bool, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.enabled = enabled and total > 0
        self.done = 0

    def step(self, n: int = 1) -> None:
        if not self.enabled:
            return
        self.done += n
        width = 30
        fill = int(width * self.done / self.total)
        self.stream.write("\r[%s%s] %d/%d files" % ("#" * fill, "." * (width - fill), self.done, self.total))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _diff(path: str, old: bytes, new: bytes) -> str:
    from .rewrite import decode_source

    a = decode_source(old)[0].splitlines(keepends=True)
    b = decode_source(new)[0].splitlines(keepends=True)
    rel = os.path.relpath(path)
    shown = (rel if not rel.startswith("..") else path).replace(os.sep, "/").lstrip("/")
    lines = list(difflib.unified_diff(a, b, fromfile="a/" + shown, tofile="b/" + shown))
    return "".join(l if l.endswith("\n") else l + "\n\\ No newline at end of file\n" for l in lines)


def _run_jobs(work, jobs: int, err, progress: Optional[bool]):
    show = err.isatty() if progress is None and hasattr(err, "isatty") else bool(progress)
    bar = _Progress(len(work), show and len(work) > 0, err)
    results = []
    pool = None
    if jobs > 1 and len(work) > 1:
        import multiprocessing
        try:
            ctx = multiprocessing.get_context(
                "fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            pool = ctx.Pool(min(jobs, len(work)))
        except (OSError, ImportError, ValueError) as exc:  # no worker processes here: run in-process
            err.write("thespian-trace codemod: cannot start workers (%s); running in-process\n" % exc)
    if pool is not None:
        with pool:
            for r in pool.imap(rewrite_job, work, chunksize=max(1, len(work) // (jobs * 4))):
                results.append(r)
                bar.step()
    else:
        for job in work:
            results.append(rewrite_job(job))
            bar.step()
    bar.close()
    return results


def _depends(plan) -> Set[str]:
    """The other files whose rewrite ``plan``'s traced sends rely on (their bases are rebased there)."""
    own = os.path.abspath(plan.path)
    out = set()
    for s in plan.planned:
        out.update(os.path.abspath(p) for p in s.needs)
    out.discard(own)
    return out


def run_codemod(paths: Sequence[str], *, diff: bool = False, check: bool = False, jobs: Optional[int] = None,
                include: Sequence[str] = (), exclude: Sequence[str] = (), respect_gitignore: bool = True,
                external: bool = False, out=None, err=None, progress: Optional[bool] = None,
                quiet: bool = False, root: Optional[str] = None,
                default_excludes: bool = True) -> Tuple[int, Summary]:
    """Run the codemod over ``paths``; return ``(exit_code, summary)`` (the CLI without argv parsing)."""
    from .analysis import analyze_files
    from .discovery import discover
    from .rewrite import plan_file

    out = out or sys.stdout
    err = err or sys.stderr
    summary = Summary()
    found = discover(paths, include, exclude, respect_gitignore, default_excludes, root)
    files, link_skips = filter_links(paths, found.targets)
    summary.skips.extend(link_skips)
    summary.skipped += len(link_skips)
    summary.skipped_trees = [(s.path, s.reason) for s in found.skipped]
    summary.root, summary.root_reason, summary.context = found.root, found.root_reason, len(found.context)
    if not (diff or check):
        for t in clean_stale_temps([os.path.dirname(os.path.realpath(p)) for p in files]):
            if not quiet:
                err.write("removed a temp file left by an interrupted run: %s\n" % t)
    contents: Dict[str, bytes] = {}
    mtimes: Dict[str, int] = {}
    for p in files:
        try:
            with open(p, "rb") as fh:
                contents[p] = fh.read()
            mtimes[p] = os.stat(p).st_mtime_ns
        except OSError:
            pass
    repo = analyze_files(files, contents, context=found.context)
    summary.scanned = len(files) + len(link_skips)
    work = []
    for fa in repo.targets():
        if fa.parse_error:
            summary.failed += 1
            summary.failures.append((fa.path, fa.parse_error))
            continue
        if fa.generated:
            summary.skipped += 1
            summary.skips.append((fa.path, "@generated"))
            continue
        if fa.file_optout is not None:
            summary.skipped += 1
            summary.skips.append((fa.path, "thespian-trace: ignore-file"))
            continue
        plan = plan_file(repo, fa, external)
        for s in plan.review:
            (summary.unknown if s.kind == "unknown" else summary.review).append((s.path, s.line, s.reason))
        for s, missing in plan.deferred:
            where = "%s.%s" % (s.class_name, s.method) if s.class_name else s.method
            summary.deferred.append((s.path, s.line, where, missing))
        if plan.empty:
            summary.unchanged += 1
            continue
        work.append((fa.path, contents[fa.path], plan))
    results = _run_jobs(work, jobs if jobs is not None else (os.cpu_count() or 1), err, progress)
    pending = _apply(work, results, summary, diff, check, out, mtimes)
    _report(summary, err, dry=diff or check, quiet=quiet)
    if summary.failed:
        return 1, summary
    if check and pending:
        return 1, summary
    return 0, summary


def _apply(work, results, summary: Summary, diff: bool, check: bool, out, mtimes) -> int:
    """Write (or diff) the results; a file whose traced sends rely on a file that failed is not written.

    Files other files rely on are written first, so a failed write stops its dependents too.
    """
    failed: Set[str] = set()
    deps = {os.path.abspath(path): _depends(plan) for path, _d, plan in work}
    needed = set().union(*deps.values()) if deps else set()
    order = sorted(range(len(work)), key=lambda i: os.path.abspath(work[i][0]) not in needed)
    for i in order:
        if results[i].error:
            failed.add(os.path.abspath(work[i][0]))
    changed = True
    while changed:  # a file that relies on a failed one fails too (and so on)
        changed = False
        for path, _d, _p in work:  # noqa: B007
            ap = os.path.abspath(path)
            if ap not in failed and deps[ap] & failed:
                failed.add(ap)
                changed = True
    pending = 0
    diffs: Dict[int, str] = {}
    for i in order:
        (path, data, _), r = work[i], results[i]
        ap = os.path.abspath(path)
        if r.error:
            summary.failed += 1
            summary.failures.append((path, r.error))
            continue
        if ap in failed or deps[ap] & failed:
            failed.add(ap)
            summary.failed += 1
            bad = sorted(deps[ap] & failed)
            summary.failures.append((path, "not rewritten: its traced sends rely on %s, which could not be "
                                           "rewritten" % ", ".join(bad)))
            continue
        if r.new_data is None or r.new_data == data:
            summary.unchanged += 1
            continue
        pending += 1
        if diff:
            diffs[i] = _diff(path, data, r.new_data)
        elif not check:
            e = atomic_write(path, r.new_data, data, mtimes.get(path))
            if e:
                summary.failed += 1
                summary.failures.append((path, e))
                failed.add(ap)
                continue
        summary.changed += 1
        summary.sends += r.sends
        summary.wakeups += r.wakeups
        summary.rebased += r.rebased
        summary.externals += r.externals
    for i in sorted(diffs):
        out.write(diffs[i])
    return pending


def _report(s: Summary, err, dry: bool, quiet: bool) -> None:
    verb = "would change" if dry else "changed"
    if not quiet:
        for path, why in s.failures:
            err.write("error: %s: %s\n" % (path, why))
        for path, why in s.skipped_trees:
            err.write("skipped: %s (%s)\n" % (path, why))
        for path, why in s.skips:
            err.write("skipped: %s (%s)\n" % (path, why))
        for path, line, why in sorted(s.review):
            err.write("%s:%d: manual review: %s\n" % (path, line, why))
        for path, line, why in sorted(s.unknown):
            err.write("%s:%d: unknown: %s\n" % (path, line, why))
        for path, line, where, missing in sorted(s.deferred):
            err.write("%s:%d: deferred: the class of %s becomes traced only when %s is rewritten too; "
                      "include it: thespian-trace codemod %s %s\n"
                      % (path, line, where, ", ".join(missing), path, " ".join(missing)))
        if s.context:
            err.write("analysed %d more file%s under %s (%s) to resolve actor classes; only PATHS are "
                      "rewritten\n" % (s.context, "s" if s.context != 1 else "", s.root, s.root_reason))
    sends = "%d sends rewritten" % s.sends
    if s.wakeups:
        sends = "%d sends rewritten (and %d wakeups)" % (s.sends, s.wakeups)
    extra = ""
    if s.unknown:
        extra += ", %d unknown" % len(s.unknown)
    if s.deferred:
        extra += ", %d deferred to a later batch" % len(s.deferred)
    if s.skipped_trees:
        extra += ", %d folder%s skipped" % (len(s.skipped_trees), "s" if len(s.skipped_trees) != 1 else "")
    err.write("thespian-trace codemod: %d files scanned, %d %s, %d skipped, %d failed; "
              "%s, %d classes rebased, %d external calls rewritten, %d sites need review%s\n"
              % (s.scanned, s.changed, verb, s.skipped, s.failed, sends, s.rebased, s.externals, len(s.review),
                 extra))
    if s.changed == 0 and s.failed == 0:
        err.write("nothing to change: the code is already migrated\n" if not dry
                  else "nothing to change\n")


def codemod_main(argv: Sequence[str]) -> int:
    """``thespian-trace codemod`` with argv after the subcommand."""
    try:
        args = _build_parser().parse_args(list(argv))
    except _UsageError as exc:
        sys.stderr.write(str(exc) + "\n")
        return 2
    if args.jobs is not None and args.jobs < 1:
        sys.stderr.write("thespian-trace codemod: error: --jobs must be >= 1\n")
        return 2
    for p in list(args.paths) + ([args.root] if args.root else []):
        if not os.path.exists(p):
            sys.stderr.write("thespian-trace codemod: error: no such file or directory: %s\n" % p)
            return 2
    try:
        code, _ = run_codemod(args.paths, diff=args.diff, check=args.check, jobs=args.jobs,
                              include=args.include, exclude=args.exclude,
                              respect_gitignore=not args.no_gitignore, external=args.external,
                              quiet=args.quiet, root=args.root, default_excludes=not args.no_default_excludes)
    except KeyboardInterrupt:
        sys.stderr.write("\nthespian-trace codemod: interrupted; every file is either fully rewritten or "
                         "unchanged (re-run to finish)\n")
        return 130
    return code


_USAGE = """usage: thespian-trace {codemod,migration-check} ...

  codemod PATHS...          rewrite actor sends to traced sends (see: thespian-trace codemod --help)
  migration-check PATHS...  report untraced sends and actor classes (CI gate)
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        (sys.stdout if args else sys.stderr).write(_USAGE)
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd not in _NEEDS:
        sys.stderr.write("thespian-trace: error: unknown command %r\n%s" % (cmd, _USAGE))
        return 2
    missing = missing_extra(cmd)
    if missing is not None:
        sys.stderr.write("thespian-trace %s: %s is not installed; install the codemod extra: %s\n"
                         % (cmd, missing, EXTRA_INSTALL))
        return 2
    if cmd == "codemod":
        return codemod_main(rest)
    from . import check

    return int(check.main(rest))
