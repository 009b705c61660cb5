"""Stands in for the third-party ``plugins`` package that ``shop/legacy.py`` star-imports.

It lives outside the fixture tree on purpose: the analysis must not see it (``PluginBase`` stays
unresolved there), but the rewritten fixture must still import and run, so the exercise puts this folder
on ``sys.path``.
"""
from thespian.actors import ActorTypeDispatcher

__all__ = ["PluginBase"]


class PluginBase(ActorTypeDispatcher):
    """A plugin actor base from a package the project does not own."""
