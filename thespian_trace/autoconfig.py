"""Environment-only SDK set-up, for processes that do not inherit the parent's tracer provider.

Actor processes of the multi-process bases are forked and inherit whatever the parent configured
(the SDK's BatchSpanProcessor restarts its worker thread after fork). A process that starts fresh
instead (Thespian's ``"Process Startup Method": "spawn"`` capability, an actor system started by
another tool, another host) has no provider. With ``THESPIAN_TRACE_AUTOCONFIGURE=otlp`` in its
environment, importing ``thespian_trace`` installs an SDK ``TracerProvider`` with a
``BatchSpanProcessor(OTLPSpanExporter(session=ForkSafeSession()))`` (``forksafe.py``); the exporter
reads the standard ``OTEL_EXPORTER_OTLP_*`` variables and the resource the standard ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``. Nothing
happens when a provider is already set, and the SDK is imported only then (it is an optional extra).

``THESPIAN_TRACE_AUTOCONFIGURE_METRICS=otlp`` does the same for actor metrics (``metrics.py``): a
``MeterProvider`` with a ``PeriodicExportingMetricReader(OTLPMetricExporter(session=ForkSafeSession()))``
(the standard ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_METRIC_EXPORT_INTERVAL`` variables apply) if no meter
provider is set, then ``enable_actor_metrics()``. Separate from the traces switch: a collector that
takes traces does not always take metrics.
"""
from __future__ import annotations

import importlib
import os
from typing import Mapping, Optional

from opentelemetry import trace

from ._tracing import log

__all__ = ["autoconfigure", "autoconfigure_metrics"]

_ON = ("otlp", "1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off", "none")


def autoconfigure(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Install an SDK provider from the environment if asked to and none is set; True if installed."""
    env = os.environ if environ is None else environ
    autoconfigure_metrics(env)
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


def autoconfigure_metrics(environ: Optional[Mapping[str, str]] = None) -> bool:
    """With ``THESPIAN_TRACE_AUTOCONFIGURE_METRICS=otlp``: install an SDK meter provider exporting over
    OTLP if none is set, and switch actor metrics on; True if actor metrics were enabled."""
    env = os.environ if environ is None else environ
    what = env.get("THESPIAN_TRACE_AUTOCONFIGURE_METRICS", "").strip().lower()
    if what in _OFF:
        return False
    if what not in _ON:
        log.warning("THESPIAN_TRACE_AUTOCONFIGURE_METRICS=%r: expected 'otlp'; ignored", what)
        return False
    from opentelemetry import metrics

    from .metrics import _is_configured, enable_actor_metrics
    if not _is_configured(metrics.get_meter_provider()):
        try:  # the SDK is an optional extra: imported only here, only when asked for
            exporter_mod = importlib.import_module("opentelemetry.exporter.otlp.proto.http.metric_exporter")
            resources = importlib.import_module("opentelemetry.sdk.resources")
            sdk_metrics = importlib.import_module("opentelemetry.sdk.metrics")
            sdk_export = importlib.import_module("opentelemetry.sdk.metrics.export")
        except ImportError as exc:
            log.warning("THESPIAN_TRACE_AUTOCONFIGURE_METRICS=otlp needs the 'otlp' extra "
                        "(pip install 'thespian-trace[otlp]'): %s", exc)
            return False
        from .forksafe import ForkSafeSession
        reader = sdk_export.PeriodicExportingMetricReader(
            exporter_mod.OTLPMetricExporter(session=ForkSafeSession()))
        metrics.set_meter_provider(sdk_metrics.MeterProvider(metric_readers=[reader],
                                                             resource=resources.Resource.create()))
    return enable_actor_metrics()
