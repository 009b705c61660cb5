"""Environment-only SDK set-up, for processes that do not inherit the parent's tracer provider.

Actor processes of the multi-process bases are forked and inherit whatever the parent configured
(the SDK's BatchSpanProcessor restarts its worker thread after fork). A process that starts fresh
instead (Thespian's ``"Process Startup Method": "spawn"`` capability, an actor system started by
another tool, another host) has no provider. With ``THESPIAN_TRACE_AUTOCONFIGURE=otlp`` in its
environment, importing ``thespian_trace`` installs an SDK ``TracerProvider`` with a
``BatchSpanProcessor(OTLPSpanExporter(session=ForkSafeSession()))`` (``forksafe.py``); the exporter
reads the standard ``OTEL_EXPORTER_OTLP_*`` variables and the resource the standard ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``. Nothing
happens when a provider is already set, and the SDK is imported only then (it is an optional extra).
"""
from __future__ import annotations

import importlib
import os
from typing import Mapping, Optional

from opentelemetry import trace

from ._tracing import log

__all__ = ["autoconfigure"]


def autoconfigure(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Install an SDK provider from the environment if asked to and none is set; True if installed."""
    env = os.environ if environ is None else environ
    what = env.get("THESPIAN_TRACE_AUTOCONFIGURE", "").strip().lower()
    if what in ("", "0", "false", "no", "off", "none"):
        return False
    if what not in ("otlp", "1", "true", "yes", "on"):
        log.warning("THESPIAN_TRACE_AUTOCONFIGURE=%r: expected 'otlp'; ignored", what)
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return False  # the application (or its parent process) configured one already
    try:  # the SDK is an optional extra: imported only here, only when asked for
        exporter_mod = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        resources = importlib.import_module("opentelemetry.sdk.resources")
        sdk_trace = importlib.import_module("opentelemetry.sdk.trace")
        sdk_export = importlib.import_module("opentelemetry.sdk.trace.export")
    except ImportError as exc:
        log.warning("THESPIAN_TRACE_AUTOCONFIGURE=otlp needs the 'otlp' extra "
                    "(pip install 'thespian-trace[otlp]'): %s", exc)
        return False
    provider = sdk_trace.TracerProvider(resource=resources.Resource.create())
    from .forksafe import ForkSafeSession  # actors forked mid-export must not inherit held locks
    provider.add_span_processor(sdk_export.BatchSpanProcessor(
        exporter_mod.OTLPSpanExporter(session=ForkSafeSession())))
    trace.set_tracer_provider(provider)
    return True
