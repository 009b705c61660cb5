"""thespian-trace migration tooling.

``codemod.analysis`` (repository-wide actor analysis on ``ast``), ``codemod.rewrite`` (the LibCST rewrite
and ``TraceSendsCommand``), ``codemod.cli`` (``thespian-trace codemod``), ``codemod.check``
(``thespian-trace migration-check``).
"""
