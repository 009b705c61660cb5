"""thespian-trace migration tooling: the ``codemod`` and ``migration-check`` commands.

Where things live::

    sites.py          ONE model of a send site (frames, matching, ordinals) for analysis, rewrite, check
    names.py          the Thespian / thespian_trace names the tools know (neither package is imported)
    discovery.py      target files, the analysed repository root, default excludes and what was skipped
    analysis/         repository-wide actor analysis on stdlib ``ast`` (model, optout, collect, resolve,
                      classify: every reason a site is untraced, manual review or unknown)
    rewrite.py        the LibCST rewrite, its safety net, and ``TraceSendsCommand`` for libcst.tool
    binding_order.py  proof that every name the rewrite uses is bound before the module first uses it
    safe_write.py     atomic writes, concurrent edits, read-only files, symlinks
    cli.py            ``thespian-trace`` (``codemod`` here; ``migration-check`` dispatched to check/)
    check/            ``migration-check``: rules/ (one module per TT code), findings, stats, baseline,
                      report, render/ (one renderer per output format), cli

Needs the ``codemod`` extra (libcst, pathspec); without it the CLI says what to install.
"""
