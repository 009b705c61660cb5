"""thespian-trace: distributed tracing (OpenTelemetry) for Thespian actor systems.

Importing the package installs the process-wide receive hook (see ``hook.py``) unless
``THESPIAN_TRACE_HOOK=0``. The package imports only ``thespian`` and ``opentelemetry-api``.
"""
from __future__ import annotations

from ._tracing import __version__, flush, reset_stats, stats
from .actor import TracedActor, TracedActorMixin, TracedPlainActor
from .config import MODES, OFF, ON, RECEIVE, configure, get_mode, reload_from_env, set_mode
from .envelope import Envelope
from .external import traced_ask, traced_tell
from .messages import SetTraceMode, TraceModeChanged
from .propagation import extract_if_sampled, is_sampled_traceparent
from .sampling import DEFAULT_TABLE, FanoutTable
from . import hook as _hook
from .autoconfig import autoconfigure

__all__ = [
    "Envelope", "TracedActor", "TracedActorMixin", "TracedPlainActor", "traced_ask", "traced_tell",
    "extract_if_sampled", "is_sampled_traceparent", "FanoutTable", "DEFAULT_TABLE",
    "SetTraceMode", "TraceModeChanged", "configure", "get_mode", "set_mode", "reload_from_env",
    "OFF", "RECEIVE", "ON", "MODES", "flush", "stats", "reset_stats", "install_hook", "autoconfigure", "__version__",
]

install_hook = _hook.install
install_hook()
autoconfigure()
