"""Repository-wide Thespian actor analysis, shared by the codemod and migration-check.

Built on the stdlib :mod:`ast` module only (fast; LibCST is used solely by the rewriter, and only on files
that this analysis says need a change). What counts as a send site is defined once, in
:mod:`codemod.sites`; the rewrite matches on the same keys.

Where things live
=================
``model.py``     the dataclasses below
``optout.py``    ``# thespian-trace: ignore`` comments and what they cover
``collect.py``   phase 1: the facts of one file (classes, candidates, bindings, decorator uses)
``resolve.py``   phase 2: names across files, which classes are actors
``classify.py``  phase 3: what each class, send site and ActorSystem call is (every rule and reason)
``../discovery.py``  which files are targets, the analysed root, what is skipped and why

Entry points
============
``analyze_paths(paths, include=(), exclude=(), respect_gitignore=True, default_excludes=True, root=None)``
    Discover the target files under ``paths`` and the context files under the repository root (see
    :mod:`codemod.discovery`) and analyse them together. Only targets are reported by the helpers of
    :class:`RepoAnalysis`; context files resolve names (a base class defined outside the batch).
``analyze_sources({path: text_or_bytes, ...})``
    Same, for in-memory files (tests); ``__init__.py`` keys make packages. All are targets.
``analyze_files(files, contents=None, context=())``
    Exactly these paths (``contents`` may map path -> bytes already read); ``context`` files are
    analysed for resolution only.

Data model (all plain dataclasses, picklable)
=============================================
``RepoAnalysis``
    ``files`` (targets and context), ``root``, ``root_reason``, ``skipped`` (``discovery.Skipped``);
    helpers over the targets: ``classes()``, ``actor_classes()``, ``send_sites()``, ``external_sites()``,
    ``manual_review()``, ``unresolved()``, ``parse_errors()``; ``class_by_qualname(q)`` and
    ``file_for(path)`` over all files.
``FileAnalysis``
    ``path`` (as discovered), ``module`` (dotted, from the ``__init__.py`` chain; a file outside any
    package is its stem), ``target``, ``parse_error`` (``None`` or ``"line N: message"``; such a file has
    no other findings), ``generated`` (a ``#`` comment line contains ``@generated``; the codemod skips
    such files), ``file_optout``, ``classes``, ``send_sites``, ``external_sites``, ``optouts``,
    ``unresolved``, ``imports``.
``ClassInfo``
    ``name``, ``qualname`` (``Outer.Inner``; classes in functions: ``func.<locals>.C``), ``module``,
    ``path``, ``line``, ``col``; ``bases: list[BaseRef]``; ``is_actor``; ``traced`` (reaches
    ``thespian_trace.TracedActor``/``TracedPlainActor``/a ``thespian_trace`` mixin); ``actor_kind``
    ("dispatcher" / "plain" / None); ``base_chain``; ``defines_receive_message``; ``defines_send``;
    ``rebase: list[(base_index, new_name)]`` (direct ``ActorTypeDispatcher`` -> ``TracedActor``, direct
    ``Actor`` -> ``TracedPlainActor``; empty when traced, opted out, or an actor through a project base);
    ``optout``; ``will_be_traced``; ``traced_by`` (files the codemod must rewrite for it to be traced).
``SendSite``
    ``path``, ``module``, ``line``/``col``/``end_line``/``end_col``, ``class_name`` (None for
    module-level functions and decorator closures), ``method`` (dotted function path), ``op`` (as
    written: ``send``, ``traced_send``, ``wakeupAfter``, ``traced_wakeup_after``), ``family`` and
    ``ordinal`` (see :mod:`codemod.sites`; ``site_key`` is what the rewrite matches), ``kind`` in
    {"untraced_send", "traced_send", "manual_review", "unknown"}, ``reason``, ``optout``,
    ``rewritable``, ``needs`` (files the same run must rewrite for it to be rewritten).
    Sites are reported for actor classes, for classes whose base could not be resolved (manual review),
    for module-level functions whose first parameter is ``self`` (manual review), for decorator
    closures (rewritten when the decorator is applied only to actor methods), and for sends through an
    actor reference held by a helper object (unknown). ``self.pipe.send``, an HTTP adapter's
    ``super().send`` and look-alike names (``self.send_samples``) never match. Every manual-review and
    unknown reason is in :mod:`codemod.analysis.classify`.
``ExternalSite``
    ``ActorSystem`` ask/tell outside actors: ``path``, ``module``, ``line``, ``col``, ``scope``,
    ``ordinal`` (among all ``X.ask``/``X.tell``/``traced_ask``/``traced_tell`` calls of the scope), ``op``,
    ``traced``, ``receiver``, ``reason``, ``optout``, ``rewritable``.
``OptOut``, ``Unresolved``, ``BaseRef``: see :mod:`codemod.analysis.model`.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, Mapping, Optional, Sequence, Union

from ..discovery import discover, iter_python_files
from ..names import (TRACE_MODULE, TRACED_ACTOR, TRACED_PLAIN_ACTOR, THESPIAN_ACTOR, THESPIAN_ACTOR_SYSTEM,
                     THESPIAN_DISPATCHER)
from .classify import finish
from .collect import FileState, analyze_one, module_name
from .model import (MANUAL, TRACED, UNKNOWN, UNTRACED, BaseRef, ClassInfo, ExternalSite, FileAnalysis, OptOut,
                    RepoAnalysis, SendSite, Unresolved)
from .optout import parse_optout

__all__ = [
    "RepoAnalysis", "FileAnalysis", "ClassInfo", "BaseRef", "SendSite", "ExternalSite", "OptOut",
    "Unresolved", "analyze_paths", "analyze_sources", "analyze_files", "iter_python_files", "parse_optout",
    "THESPIAN_DISPATCHER", "THESPIAN_ACTOR", "THESPIAN_ACTOR_SYSTEM", "TRACED_ACTOR", "TRACED_PLAIN_ACTOR",
    "TRACE_MODULE", "UNTRACED", "TRACED", "MANUAL", "UNKNOWN",
]


def analyze_sources(sources: Mapping[str, Union[str, bytes]]) -> RepoAnalysis:
    """Analyze in-memory files ``{path: source}``; paths decide module names (``__init__.py`` keys)."""
    norm = {os.path.abspath(p) for p in sources}

    def is_file(p: str) -> bool:
        return os.path.abspath(p) in norm

    states = []
    for p, src in sources.items():
        data = src.encode("utf-8") if isinstance(src, str) else src
        states.append(analyze_one(p, data, is_file))
    return finish(states)


def analyze_paths(paths: Iterable[str], include: Sequence[str] = (), exclude: Sequence[str] = (),
                  respect_gitignore: bool = True, default_excludes: bool = True,
                  root: Optional[str] = None, with_context: bool = True) -> RepoAnalysis:
    """Discover the files of ``paths`` (and of their repository root) and analyze them together.

    A file that cannot be read is reported as a FileAnalysis with ``parse_error`` set.
    """
    found = discover(paths, include, exclude, respect_gitignore, default_excludes, root, with_context)
    repo = analyze_files(found.targets, context=found.context)
    repo.root, repo.root_reason, repo.skipped = found.root, found.root_reason, found.skipped
    return repo


def analyze_files(files: Sequence[str], contents: Optional[Mapping[str, bytes]] = None,
                  context: Sequence[str] = ()) -> RepoAnalysis:
    """Analyze exactly ``files`` (paths on disk; ``contents`` may supply bytes already read), with the
    ``context`` files read for resolution only."""
    cache: Dict[str, bool] = {}

    def is_file(p: str) -> bool:
        v = cache.get(p)
        if v is None:
            v = cache[p] = os.path.isfile(p)
        return v

    states = []
    for p, target in [(f, True) for f in files] + [(f, False) for f in context]:
        data = contents.get(p) if contents else None
        if data is None:
            try:
                with open(p, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                module, _, root = module_name(p, is_file)
                fa = FileAnalysis(path=p, module=module, root_dir=root, parse_error="cannot read: %s" % exc,
                                  target=target)
                states.append(FileState(fa, None, b""))
                continue
        st = analyze_one(p, data, is_file)
        st.fa.target = target
        states.append(st)
    return finish(states)
