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
from types import ModuleType
from typing import Callable, List, Mapping, Optional

from opentelemetry import trace

from ._tracing import log

__all__ = ["autoconfigure", "autoconfigure_metrics"]

_ON = ("otlp", "1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off", "none")


def _asked(env: Mapping[str, str], variable: str) -> bool:
    """Does ``variable`` ask for OTLP set-up? (a value that is neither on nor off warns and means no)"""
    what = env.get(variable, "").strip().lower()
    if what in _OFF:
        return False
    if what not in _ON:
        log.warning("%s=%r: expected 'otlp'; ignored", variable, what)
        return False
    return True


def _sdk(variable: str, load: Callable[[], List[ModuleType]]) -> Optional[List[ModuleType]]:
    """``load()``: the SDK and exporter modules, imported by literal names (an optional extra: imported
    only here, only when asked for), or None with a warning naming the extra."""
    try:
        return load()
    except ImportError as exc:
        log.warning("%s=otlp needs the 'otlp' extra (pip install 'thespian-trace[otlp]'): %s", variable, exc)
        return None


def autoconfigure(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Install an SDK provider from the environment if asked to and none is set; True if installed."""
    env = os.environ if environ is None else environ
    autoconfigure_metrics(env)
    if not _asked(env, "THESPIAN_TRACE_AUTOCONFIGURE"):
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return False  # the application (or its parent process) configured one already
    modules = _sdk("THESPIAN_TRACE_AUTOCONFIGURE", lambda: [
        importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter"),
        importlib.import_module("opentelemetry.sdk.resources"),
        importlib.import_module("opentelemetry.sdk.trace"),
        importlib.import_module("opentelemetry.sdk.trace.export")])
    if modules is None:
        return False
    exporter_mod, resources, sdk_trace, sdk_export = modules
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
    if not _asked(env, "THESPIAN_TRACE_AUTOCONFIGURE_METRICS"):
        return False
    from opentelemetry import metrics

    from .metrics import enable_actor_metrics, provider_records
    if not provider_records(metrics.get_meter_provider()):
        modules = _sdk("THESPIAN_TRACE_AUTOCONFIGURE_METRICS", lambda: [
            importlib.import_module("opentelemetry.exporter.otlp.proto.http.metric_exporter"),
            importlib.import_module("opentelemetry.sdk.resources"),
            importlib.import_module("opentelemetry.sdk.metrics"),
            importlib.import_module("opentelemetry.sdk.metrics.export")])
        if modules is None:
            return False
        exporter_mod, resources, sdk_metrics, sdk_export = modules
        from .forksafe import ForkSafeSession
        reader = sdk_export.PeriodicExportingMetricReader(
            exporter_mod.OTLPMetricExporter(session=ForkSafeSession()))
        metrics.set_meter_provider(sdk_metrics.MeterProvider(metric_readers=[reader],
                                                             resource=resources.Resource.create()))
    return enable_actor_metrics()
