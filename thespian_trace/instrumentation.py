"""``ThespianInstrumentor``: enable thespian-trace the way every OpenTelemetry instrumentation is enabled.

Registered under the ``opentelemetry_instrumentor`` entry point (``thespian``), so
``opentelemetry-instrument python app.py`` loads it; in code::

    from thespian_trace.instrumentation import ThespianInstrumentor
    ThespianInstrumentor().instrument(tracer_provider=provider, meter_provider=meters, mode="receive")

Needs the optional ``instrumentation`` extra (``opentelemetry-instrumentation``); the runtime package
itself never imports this module.
"""
from __future__ import annotations

from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from . import _tracing, config, hook
from .telemetry import enable_metrics

__all__ = ["ThespianInstrumentor"]

_INSTRUMENTS = ("thespian >= 3.10",)


class ThespianInstrumentor(BaseInstrumentor):
    """Installs the receive hook, applies ``tracer_provider``/``mode``, and enables rollout metrics.

    Keyword arguments of ``instrument()``: ``tracer_provider`` (default: the global one),
    ``meter_provider`` (default: the global one), ``mode`` (``off``/``receive``/``on``; default: keep
    the mode from ``THESPIAN_TRACE_MODE``).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """The library versions this instrumentation supports."""
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        if tracer_provider is not None:
            config.configure(tracer_provider=tracer_provider)
        mode = kwargs.get("mode")
        if mode is not None:
            config.set_mode(mode)
        hook.install()
        enable_metrics(meter_provider=kwargs.get("meter_provider"))

    def _uninstrument(self, **kwargs: Any) -> None:
        hook.uninstall()
        config.settings.tracer_provider = None
        _tracing.reset_tracer()
