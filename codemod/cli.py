"""``thespian-trace`` command line: ``codemod`` and ``migration-check`` subcommands.

``thespian-trace codemod [options] PATHS...``
    --diff            dry run: print a unified diff to stdout, write nothing
    --check           dry run: exit 1 when any file would change
    --jobs N          LibCST worker processes (default: CPU count; 1 = in-process)
    --include GLOB    only files matching (repeatable; gitwildmatch, relative to the PATH argument)
    --exclude GLOB    skip files matching (repeatable)
    --no-gitignore    do not honour .gitignore files
    --external        also rewrite ActorSystem ask/tell into traced_ask/traced_tell (opt-in)
    --quiet           only the summary line
Exit codes: 0 ok (nothing pending / changes written), 1 ``--check`` with pending changes or any file
failed (unparseable, changed on disk meanwhile, read-only (no write bit, even for root), write error),
2 usage error, 130 interrupted (every file is then either fully rewritten or untouched).
Symlinks: dangling links and links (found in a directory) to files outside every PATH are skipped and
reported; a file reached through several paths is rewritten once. Writes go through a temp file
``.<name>.py.thespian-trace-codemod.<pid>.<random>.tmp`` next to the file; only a SIGKILL can leave one
behind, and the next writing run removes those whose process is gone.

``thespian-trace migration-check ...`` is dispatched to :func:`codemod.check.main`.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from .analysis import analyze_files, iter_python_files
from .rewrite import FilePlan, RewriteResult, decode_source, plan_file, rewrite_job


@dataclass
class Summary:
    """Counters for the final report."""
    scanned: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    sends: int = 0
    rebased: int = 0
    externals: int = 0
    review: List[Tuple[str, int, str]] = field(default_factory=list)
    failures: List[Tuple[str, str]] = field(default_factory=list)
    skips: List[Tuple[str, str]] = field(default_factory=list)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError("%s: error: %s" % (self.prog, message))


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


TEMP_MARK = ".thespian-trace-codemod."
_TEMP_RE = re.compile(r"^\..+\.py" + re.escape(TEMP_MARK) + r"(\d+)\.[^/]*\.tmp$")


def _temp_prefix(path: str) -> str:
    """Temp files are ``.<name>.py.thespian-trace-codemod.<pid>.<random>.tmp`` next to the target:
    obviously ours, never ``*.py`` (so never scanned), and removable by a later run once ``<pid>`` is gone."""
    return "." + os.path.basename(path) + TEMP_MARK + str(os.getpid()) + "."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, someone else's
        return True
    return True


def clean_stale_temps(directories: Sequence[str]) -> List[str]:
    """Remove temp files a killed codemod run left behind (its pid no longer exists); return them."""
    removed = []
    for d in sorted(set(directories)):
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            m = _TEMP_RE.match(name)
            if not m or _pid_alive(int(m.group(1))):
                continue
            full = os.path.join(d, name)
            try:
                if os.path.isfile(full) and not os.path.islink(full):
                    os.unlink(full)
                    removed.append(full)
            except OSError:
                pass
    return removed


def is_read_only(st: os.stat_result, path: str) -> bool:
    """No write bit at all, or not writable by us. Root can write anything, but a mode without write
    bits is how editors and VCS say "do not edit", so the codemod honours the mode bits too."""
    return not (st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) or not os.access(path, os.W_OK)


def atomic_write(path: str, data: bytes, expected: bytes, expected_mtime_ns: Optional[int]) -> Optional[str]:
    """Write ``data`` to ``path`` atomically (temp file + ``os.replace``), keeping the file mode.

    Returns an error string instead of writing when the file changed on disk since it was read
    (content or mtime differs from ``expected``/``expected_mtime_ns``) or is read-only. The temp file
    is removed on any failure, including ``KeyboardInterrupt``; only a SIGKILL can leave one, named as
    in :func:`_temp_prefix` and removed by the next run (:func:`clean_stale_temps`).
    """
    path = os.path.realpath(path)  # write through symlinks instead of replacing them
    directory = os.path.dirname(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        return "cannot stat: %s" % exc
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file; not overwritten"
    if is_read_only(st, path):
        return "read-only file (mode %o); not modified" % stat.S_IMODE(st.st_mode)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(path), suffix=".tmp")
    except OSError as exc:
        return "write failed: %s" % exc
    done = False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
            try:  # keep the owner when we can (root); otherwise the file becomes ours, as with any editor
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass
        # last-moment check: never clobber a concurrent edit
        with open(path, "rb") as fh:
            current = fh.read()
        st2 = os.stat(path)
        if current != expected or (expected_mtime_ns is not None and st2.st_mtime_ns != expected_mtime_ns):
            return "changed on disk while the codemod ran; not overwritten"
        if is_read_only(st2, path):
            return "read-only file (mode %o); not modified" % stat.S_IMODE(st2.st_mode)
        os.replace(tmp, path)
        done = True
    except OSError as exc:
        return "write failed: %s" % exc
    finally:
        if not done:  # also on KeyboardInterrupt / SystemExit
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return None


def _diff(path: str, old: bytes, new: bytes) -> str:
    a = decode_source(old)[0].splitlines(keepends=True)
    b = decode_source(new)[0].splitlines(keepends=True)
    rel = os.path.relpath(path)
    shown = (rel if not rel.startswith("..") else path).replace(os.sep, "/").lstrip("/")
    lines = list(difflib.unified_diff(a, b, fromfile="a/" + shown, tofile="b/" + shown))
    return "".join(l if l.endswith("\n") else l + "\n\\ No newline at end of file\n" for l in lines)


def _within(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _filter_links(paths: Sequence[str], files: List[str], summary: Summary) -> List[str]:
    """Symlink policy. A dangling link is skipped; a link found while walking a directory whose target
    lies outside every PATH is skipped (the codemod never writes outside the tree it was given; name the
    link itself as a PATH to follow it); a file reached twice (a link and its target, two links) is
    processed once, through the real path when it was also found directly. Skips are reported."""
    explicit = {os.path.abspath(p) for p in paths if os.path.isfile(p)}
    roots = [os.path.realpath(p) for p in paths]
    by_real = {}
    order = []
    for f in files:
        if os.path.islink(f) and not os.path.exists(f):
            summary.skipped += 1
            summary.skips.append((f, "dangling symlink"))
            continue
        real = os.path.realpath(f)
        if real != os.path.abspath(f) and os.path.abspath(f) not in explicit and not _within(real, roots):
            summary.skipped += 1
            summary.skips.append((f, "symlink to %s, outside the given paths; not followed" % real))
            continue
        prev = by_real.get(real)
        if prev is None:
            by_real[real] = f
            order.append(real)
            continue
        # keep the entry that is the file itself rather than a link to it
        keep, drop = (f, prev) if os.path.abspath(f) == real else (prev, f)
        by_real[real] = keep
        summary.skipped += 1
        summary.skips.append((drop, "same file as %s; processed once" % keep))
    kept = set(by_real.values())
    return [f for f in files if f in kept]


def run_codemod(paths: Sequence[str], *, diff: bool = False, check: bool = False, jobs: Optional[int] = None,
                include: Sequence[str] = (), exclude: Sequence[str] = (), respect_gitignore: bool = True,
                external: bool = False, out=None, err=None, progress: Optional[bool] = None,
                quiet: bool = False) -> Tuple[int, Summary]:
    """Run the codemod over ``paths``; return ``(exit_code, summary)`` (the CLI without argv parsing)."""
    out = out or sys.stdout
    err = err or sys.stderr
    summary = Summary()
    files = _filter_links(paths, iter_python_files(paths, include, exclude, respect_gitignore), summary)
    if not (diff or check):
        for t in clean_stale_temps([os.path.dirname(os.path.realpath(p)) for p in files]):
            if not quiet:
                err.write("removed a temp file left by an interrupted run: %s\n" % t)
    contents = {}
    mtimes = {}
    for p in files:
        try:
            with open(p, "rb") as fh:
                contents[p] = fh.read()
            mtimes[p] = os.stat(p).st_mtime_ns
        except OSError:
            pass
    repo = analyze_files(files, contents)
    summary.scanned = len(files) + len(summary.skips)
    work: List[Tuple[str, bytes, FilePlan]] = []
    for fa in repo.files:
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
            summary.review.append((s.path, s.line, s.reason))
        if plan.empty:
            summary.unchanged += 1
            continue
        work.append((fa.path, contents[fa.path], plan))
    if jobs is None:
        jobs = os.cpu_count() or 1
    show = err.isatty() if progress is None and hasattr(err, "isatty") else bool(progress)
    bar = _Progress(len(work), show and len(work) > 0, err)
    results: List[RewriteResult] = []
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
    pending = 0
    for (path, data, _plan), r in zip(work, results):
        if r.error:
            summary.failed += 1
            summary.failures.append((path, r.error))
            continue
        if r.new_data is None or r.new_data == data:
            summary.unchanged += 1
            continue
        pending += 1
        if diff:
            out.write(_diff(path, data, r.new_data))
        elif not check:
            e = atomic_write(path, r.new_data, data, mtimes.get(path))
            if e:
                summary.failed += 1
                summary.failures.append((path, e))
                continue
        summary.changed += 1
        summary.sends += r.sends
        summary.rebased += r.rebased
        summary.externals += r.externals
    _report(summary, err, dry=diff or check, quiet=quiet)
    if summary.failed:
        return 1, summary
    if check and pending:
        return 1, summary
    return 0, summary


def _report(s: Summary, err, dry: bool, quiet: bool) -> None:
    verb = "would change" if dry else "changed"
    if not quiet:
        for path, why in s.failures:
            err.write("error: %s: %s\n" % (path, why))
        for path, why in s.skips:
            err.write("skipped: %s (%s)\n" % (path, why))
        for path, line, why in sorted(s.review):
            err.write("%s:%d: manual review: %s\n" % (path, line, why))
    err.write("thespian-trace codemod: %d files scanned, %d %s, %d skipped, %d failed; "
              "%d sends rewritten, %d classes rebased, %d external calls rewritten, %d sites need review\n"
              % (s.scanned, s.changed, verb, s.skipped, s.failed, s.sends, s.rebased, s.externals, len(s.review)))
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
    for p in args.paths:
        if not os.path.exists(p):
            sys.stderr.write("thespian-trace codemod: error: no such file or directory: %s\n" % p)
            return 2
    try:
        code, _ = run_codemod(args.paths, diff=args.diff, check=args.check, jobs=args.jobs,
                              include=args.include, exclude=args.exclude,
                              respect_gitignore=not args.no_gitignore, external=args.external,
                              quiet=args.quiet)
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
    if cmd == "codemod":
        return codemod_main(rest)
    if cmd == "migration-check":
        from . import check  # lazily: written separately
        return int(check.main(rest))
    sys.stderr.write("thespian-trace: error: unknown command %r\n%s" % (cmd, _USAGE))
    return 2
