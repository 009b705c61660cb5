"""Writing files safely: atomic replace, never over a concurrent edit, read-only honoured, symlink policy.

Writes go through a temp file ``.<name>.py.thespian-trace-codemod.<pid>.<random>.tmp`` next to the file and
``os.replace``; only a SIGKILL can leave one behind, and the next writing run removes those whose process
is gone (:func:`clean_stale_temps`).
"""
from __future__ import annotations

import os
import re
import secrets
import stat
from typing import List, Optional, Sequence, Tuple

__all__ = ["TEMP_MARK", "atomic_write", "clean_stale_temps", "is_read_only", "filter_links"]


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
    done = False
    tmp: Optional[str] = None
    try:
        # The name is known before the file exists, so a KeyboardInterrupt at any point after the
        # open (even before it returns) still finds the file to remove; tempfile.mkstemp left a window.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        for _attempt in range(100):
            tmp = os.path.join(directory, _temp_prefix(path) + secrets.token_hex(6) + ".tmp")
            try:
                fd = os.open(tmp, flags, 0o600)
                break
            except FileExistsError:
                tmp = None
        else:
            return "write failed: no free temp file name in %s" % directory
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
        if not done and tmp is not None:  # also on KeyboardInterrupt / SystemExit
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return None


def _within(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def filter_links(paths: Sequence[str], files: List[str]) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Symlink policy. A dangling link is skipped; a link found while walking a directory whose target
    lies outside every PATH is skipped (the codemod never writes outside the tree it was given; name the
    link itself as a PATH to follow it); a file reached twice (a link and its target, two links) is
    processed once, through the real path when it was also found directly. Returns the files to process
    and the skipped ones with why."""
    skips: List[Tuple[str, str]] = []
    explicit = {os.path.abspath(p) for p in paths if os.path.isfile(p)}
    roots = [os.path.realpath(p) for p in paths]
    by_real = {}
    order = []
    for f in files:
        if os.path.islink(f) and not os.path.exists(f):
            skips.append((f, "dangling symlink"))
            continue
        real = os.path.realpath(f)
        if real != os.path.abspath(f) and os.path.abspath(f) not in explicit and not _within(real, roots):
            skips.append((f, "symlink to %s, outside the given paths; not followed" % real))
            continue
        prev = by_real.get(real)
        if prev is None:
            by_real[real] = f
            order.append(real)
            continue
        # keep the entry that is the file itself rather than a link to it
        keep, drop = (f, prev) if os.path.abspath(f) == real else (prev, f)
        by_real[real] = keep
        skips.append((drop, "same file as %s; processed once" % keep))
    kept = set(by_real.values())
    return [f for f in files if f in kept], skips
