"""One renderer per output format: ``RENDERERS[name](report) -> str``."""
from __future__ import annotations

from .as_github import github_step_summary, render_github
from .as_json import render_json
from .as_sarif import render_sarif
from .as_text import render_text
from .common import fingerprints

RENDERERS = {"text": render_text, "json": render_json, "github": render_github, "sarif": render_sarif}

__all__ = ["RENDERERS", "render_text", "render_json", "render_github", "render_sarif", "github_step_summary",
           "fingerprints"]
