"""Which files the codemod and migration-check look at: the targets, the analysed root, what is skipped.

Both commands take PATHS (the *targets*: rewritten, or reported on) but resolve actor classes across the
whole repository, so a batch of files can be migrated while its base classes live elsewhere:

* **root**: ``--root DIR`` when given; else the nearest ancestor of the PATHS holding ``.git`` or ``.hg``;
  else the folder that holds their top-level package (the PATHS themselves when that folder is shared,
  such as the temp folder or a home directory). Files under the root that are not targets are analysed
  read-only (*context*).
* **default excludes** (like ruff and black): VCS and cache folders and other hidden folders are never
  walked; virtualenvs (any folder with a ``pyvenv.cfg``), ``site-packages``/``dist-packages``,
  ``node_modules``, ``.tox``/``.nox`` and build trees (``build``/``dist`` folders that are not inside a
  package) are skipped and *reported*, unless ``default_excludes=False`` (``--no-default-excludes``).
  A PATH that itself lies in such a tree is refused the same way.
* ``.gitignore`` files from the git root down are honoured (pathspec); ``include``/``exclude`` are
  gitwildmatch globs matched against the path relative to the PATH argument it was found under (a
  pattern without ``/`` matches the basename) and restrict the targets only. Files named explicitly are
  kept unless excluded.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Set, Tuple

__all__ = ["Discovery", "Skipped", "discover", "find_root", "iter_python_files", "environment_kind"]

_ALWAYS_SKIP = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache",
                          ".ruff_cache", ".hypothesis", ".eggs"})
_ENV_NAMES = {"site-packages": "installed packages (site-packages)",
              "dist-packages": "installed packages (dist-packages)",
              "node_modules": "node_modules",
              ".tox": "tox environments", ".nox": "nox environments",
              "__pypackages__": "installed packages (__pypackages__)"}
_BUILD_NAMES = frozenset({"build", "dist"})
INCLUDE_HINT = "pass --no-default-excludes to include it"


@dataclass
class Skipped:
    """A folder or PATH that was not walked, and why (reported by both commands)."""
    path: str
    reason: str


@dataclass
class Discovery:
    """The outcome of :func:`discover`."""
    targets: List[str] = field(default_factory=list)
    context: List[str] = field(default_factory=list)
    skipped: List[Skipped] = field(default_factory=list)
    root: Optional[str] = None
    root_reason: str = ""


# --------------------------------------------------------------------------------------------------
# environment and build trees
# --------------------------------------------------------------------------------------------------
def _is_package(d: str) -> bool:
    return os.path.isfile(os.path.join(d, "__init__.py"))


def _dir_kind(parent: str, name: str) -> Optional[str]:
    """Why the sub-folder ``name`` of ``parent`` is a default exclude, or None."""
    full = os.path.join(parent, name)
    if os.path.isfile(os.path.join(full, "pyvenv.cfg")):
        return "virtualenv (has pyvenv.cfg)"
    kind = _ENV_NAMES.get(name)
    if kind is not None:
        return kind
    if name in _BUILD_NAMES and not _is_package(full) and not _is_package(parent):
        return "build tree (%s/ outside any package)" % name
    return None


def environment_kind(path: str) -> Optional[str]:
    """Why ``path`` lies inside a virtualenv, site-packages or build tree (None when it does not).

    Only the library part of a virtualenv counts (``<venv>/lib*``), so a project checked out inside a
    virtualenv's folder is still a project.
    """
    ap = os.path.abspath(path)
    parts = ap.split(os.sep)
    for i in range(1, len(parts)):
        name = parts[i]
        if name in ("site-packages", "dist-packages", "__pypackages__"):
            return _ENV_NAMES[name] + " at " + os.sep.join(parts[:i + 1])
        parent = os.sep.join(parts[:i]) or os.sep
        if name.lower().startswith("lib") and os.path.isfile(os.path.join(parent, "pyvenv.cfg")):
            return "virtualenv %s" % parent
    return None


# --------------------------------------------------------------------------------------------------
# .gitignore and globs
# --------------------------------------------------------------------------------------------------
def _find_marker_root(start: str, markers: Sequence[str] = (".git", ".hg")) -> Optional[str]:
    d = os.path.abspath(start)
    while True:
        if any(os.path.exists(os.path.join(d, m)) for m in markers):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _pathspec(lines: List[str]):
    import pathspec
    try:
        return pathspec.PathSpec.from_lines("gitignore", lines)
    except (KeyError, LookupError):  # pathspec < 0.12
        return pathspec.PathSpec.from_lines("gitwildmatch", lines)


def _load_gitignore(directory: str):
    p = os.path.join(directory, ".gitignore")
    if not os.path.isfile(p):
        return None
    with open(p, encoding="utf-8", errors="replace") as fh:
        return _pathspec(fh.read().splitlines())


def _ignored(specs, abspath: str, is_dir: bool) -> bool:
    ignored = False
    for base, spec in specs:
        rel = os.path.relpath(abspath, base).replace(os.sep, "/")
        if rel.startswith(".."):
            continue
        if is_dir:
            rel += "/"
        # a later (deeper) .gitignore may re-include; evaluate in order
        for pat in spec.patterns:
            if pat.include is None:
                continue
            if pat.match_file(rel) is not None:
                ignored = bool(pat.include)
    return ignored


def _ancestor_specs(arg: str) -> list:
    """The .gitignore files from the git root down to (excluding) ``arg``."""
    root = _find_marker_root(arg, (".git",))
    if root is None:
        return []
    chain = []
    d = os.path.abspath(arg)
    while True:
        chain.append(d)
        if d == root:
            break
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    specs = []
    for d in reversed(chain[1:]):
        s = _load_gitignore(d)
        if s is not None:
            specs.append((d, s))
    return specs


class _Walker:
    """Walks folders with the default excludes and .gitignore; collects files and skipped trees."""

    def __init__(self, respect_gitignore: bool, default_excludes: bool) -> None:
        self.respect_gitignore = respect_gitignore
        self.default_excludes = default_excludes
        self.skipped: List[Skipped] = []
        self._reported: Set[str] = set()

    def skip(self, path: str, reason: str) -> None:
        ap = os.path.abspath(path)
        if ap not in self._reported:
            self._reported.add(ap)
            self.skipped.append(Skipped(path, reason))

    def walk(self, arg: str) -> Iterable[str]:
        """Yield the ``*.py`` files under folder ``arg`` (sorted per folder)."""
        absarg = os.path.abspath(arg)
        specs = _ancestor_specs(arg) if self.respect_gitignore else []
        dir_specs = {}
        for dirpath, dirnames, filenames in os.walk(arg):
            absdir = os.path.abspath(dirpath)
            cur = list(dir_specs.get(os.path.dirname(absdir), specs)) if absdir != absarg else list(specs)
            if self.respect_gitignore:
                s = _load_gitignore(absdir)
                if s is not None:
                    cur.append((absdir, s))
            dir_specs[absdir] = cur
            kept = []
            for d in sorted(dirnames):
                if d in _ALWAYS_SKIP or d.endswith(".egg-info"):
                    continue
                if self.respect_gitignore and cur and _ignored(cur, os.path.join(absdir, d), True):
                    continue
                kind = _dir_kind(absdir, d)
                if kind is not None and self.default_excludes:
                    self.skip(os.path.join(dirpath, d), "%s; %s" % (kind, INCLUDE_HINT))
                    continue
                if d.startswith(".") and kind is None:
                    continue
                kept.append(d)
            dirnames[:] = kept
            for fn in sorted(filenames):
                if not fn.endswith(".py"):
                    continue
                full = os.path.join(dirpath, fn)
                if self.respect_gitignore and cur and _ignored(cur, os.path.abspath(full), False):
                    continue
                yield full


# --------------------------------------------------------------------------------------------------
# the analysed root
# --------------------------------------------------------------------------------------------------
def _shared_folders() -> Set[str]:
    out = {os.path.abspath(os.sep), os.path.abspath(tempfile.gettempdir()), "/tmp", "/var/tmp"}
    home = os.path.expanduser("~")
    if home and home != "~":
        out.add(os.path.abspath(home))
    return {os.path.realpath(p) for p in out} | out


def find_root(paths: Sequence[str]) -> Tuple[Optional[str], str]:
    """The folder analysed for repository-wide resolution, and a short note on how it was found.

    ``(None, note)`` means "only the PATHS themselves" (no repository, and their folder is shared).
    """
    dirs = [os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".") for p in paths]
    if not dirs:
        return None, "no paths"
    try:
        common = os.path.commonpath(dirs)
    except ValueError:  # different drives
        return None, "paths on different drives"
    shared = _shared_folders()
    repo = _find_marker_root(common)
    if repo is not None and os.path.realpath(repo) not in shared:
        return repo, "repository root"
    top = common
    while _is_package(top) and os.path.dirname(top) != top:
        top = os.path.dirname(top)
    if os.path.realpath(top) in shared:
        if top != common and os.path.realpath(common) not in shared:
            # the PATHS are (inside) a package whose folder is shared: analyse the top package only
            pkg = common
            while _is_package(os.path.dirname(pkg)) and os.path.realpath(os.path.dirname(pkg)) not in shared:
                pkg = os.path.dirname(pkg)
            return pkg, "top-level package (its folder %s is shared, not analysed)" % top
        return None, "the paths only (%s is a shared folder)" % top
    return top, "folder of the top-level package" if top != common else "the given folder"


# --------------------------------------------------------------------------------------------------
# discovery
# --------------------------------------------------------------------------------------------------
def discover(paths: Iterable[str], include: Sequence[str] = (), exclude: Sequence[str] = (),
             respect_gitignore: bool = True, default_excludes: bool = True, root: Optional[str] = None,
             with_context: bool = True) -> Discovery:
    """Targets under ``paths``, context files under the root, and what was skipped (module docstring).

    ``root`` overrides :func:`find_root`; ``with_context=False`` analyses the targets only.
    Raises FileNotFoundError for a PATH that does not exist.
    """
    paths = list(paths)
    inc = _pathspec(list(include)) if include else None
    exc = _pathspec(list(exclude)) if exclude else None
    walker = _Walker(respect_gitignore, default_excludes)
    out = Discovery()

    def keep(rel: str) -> bool:
        rel = rel.replace(os.sep, "/")
        if exc is not None and exc.match_file(rel):
            return False
        return inc is None or bool(inc.match_file(rel))

    seen: Set[str] = set()
    for arg in paths:
        if not os.path.exists(arg) and not os.path.islink(arg):
            raise FileNotFoundError(arg)
        if default_excludes:
            kind = environment_kind(arg)
            if kind is not None:
                walker.skip(arg, "inside %s; %s" % (kind, INCLUDE_HINT))
                continue
        if not os.path.isdir(arg):
            if keep(os.path.basename(arg)) and keep(arg):
                ap = os.path.abspath(arg)
                if ap not in seen:
                    seen.add(ap)
                    out.targets.append(arg)
            continue
        for full in walker.walk(arg):
            if not keep(os.path.relpath(full, arg)):
                continue
            ap = os.path.abspath(full)
            if ap not in seen:
                seen.add(ap)
                out.targets.append(full)
    if with_context:
        if root is not None:
            out.root, out.root_reason = os.path.abspath(root), "--root"
        else:
            out.root, out.root_reason = find_root([p for p in paths if os.path.exists(p)])
        if out.root is not None and os.path.isdir(out.root):
            for full in walker.walk(out.root):
                ap = os.path.abspath(full)
                if ap in seen or os.path.islink(full):
                    continue
                seen.add(ap)
                out.context.append(full)
    out.skipped = walker.skipped
    return out


def iter_python_files(paths: Iterable[str], include: Sequence[str] = (), exclude: Sequence[str] = (),
                      respect_gitignore: bool = True, default_excludes: bool = True) -> List[str]:
    """The ``*.py`` files under ``paths`` (the targets of :func:`discover`, without the root)."""
    return discover(paths, include, exclude, respect_gitignore, default_excludes, with_context=False).targets
