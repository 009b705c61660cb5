"""thespian-trace: distributed tracing (OpenTelemetry) for Thespian actor systems.

Two planes. The data plane (Envelope normalization below the actor class, reply unwrapping; ``hook.py``)
is installed here, at import, and no switch ever removes it: an actor process that was forked, spawned
or started on another host only imports its actor's module, so nothing else would install it there, and
without it an actor that was not migrated yet would receive Envelopes. The observation plane (spans,
carriers, metrics) is switched by the rollout mode, ``ThespianInstrumentor().instrument()`` and
``uninstrument()``, ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` and the ``suppress_instrumentation``
context key. The package imports only ``thespian`` and ``opentelemetry-api``.
"""
from __future__ import annotations

from ._tracing import __version__, flush, reset_stats, stats
from .actor import TracedActor, TracedActorMixin, TracedPlainActor
from .config import MODES, OFF, ON, RECEIVE, configure, get_mode, reload_from_env, set_mode
from .envelope import Envelope
from .logs import disable_log_correlation, enable_log_correlation
from .metrics import disable_actor_metrics, enable_actor_metrics
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
    "enable_actor_metrics", "disable_actor_metrics", "enable_log_correlation", "disable_log_correlation",
]

install_hook = _hook.install
install_hook()   # the data plane (see above)
autoconfigure()  # only with THESPIAN_TRACE_AUTOCONFIGURE=otlp (autoconfig.py)
