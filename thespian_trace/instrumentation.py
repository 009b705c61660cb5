"""``ThespianInstrumentor``: switch thespian-trace's observation plane the way every OpenTelemetry
instrumentation is switched.

Registered under the ``opentelemetry_instrumentor`` entry point (``thespian``), so
``opentelemetry-instrument python app.py`` loads it; in code::

    from thespian_trace.instrumentation import ThespianInstrumentor
    ThespianInstrumentor().instrument(tracer_provider=provider, meter_provider=meters, mode="receive")

``instrument()`` switches the observation plane (spans, carriers, metrics) only; the data plane (Envelope
normalization, installed when the package is imported) is never touched, so ``uninstrument()`` cannot
make an actor receive an Envelope. ``uninstrument()`` returns the observation plane to what it was
before ``instrument()``. Needs the optional ``instrumentation`` extra (``opentelemetry-instrumentation``);
the runtime package itself never imports this module.
"""
from __future__ import annotations

from typing import Any, Collection, Optional

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from . import config
from ._state import settings
from ._tracing import log_once
from .hook import SUPPORTED_THESPIAN_SPEC
from .metrics import actor_metrics_enabled, disable_actor_metrics, enable_actor_metrics
from .telemetry import disable_metrics, enable_metrics, metrics_enabled

__all__ = ["ThespianInstrumentor"]

_INSTRUMENTS = (SUPPORTED_THESPIAN_SPEC,)


class ThespianInstrumentor(BaseInstrumentor):
    """Applies ``tracer_provider``/``mode``/``use_span_links`` and enables the rollout metrics.

    Keyword arguments of ``instrument()`` (all optional):

    * ``tracer_provider``: default the global one;
    * ``meter_provider``: default the global one;
    * ``mode``: ``off``/``receive``/``on``; default: keep the mode from ``THESPIAN_TRACE_MODE``;
    * ``use_span_links``: process spans link to the sender's span instead of being its child (a new
      trace per handled message, like the celery instrumentation's option); default ``False``;
    * ``actor_metrics``: also record actor metrics (``thespian_trace.metrics``) to ``meter_provider``;
      default ``True`` (nothing is installed while no meter provider is configured);
    * ``duration_include`` / ``duration_exclude`` / ``per_process_meter_provider``: passed to
      ``enable_actor_metrics`` (``duration_include``, ``duration_exclude``, ``per_process``).

    ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=thespian`` keeps the observation plane off whatever
    ``instrument()`` asks (``opentelemetry-instrument`` then does not even call it).
    """

    _saved: Optional[dict] = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """The Thespian versions whose internals the receive hook supports."""
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        meter_provider = kwargs.get("meter_provider")
        self._saved = {"mode": settings.mode, "tracer_provider": settings.tracer_provider,
                       "use_span_links": settings.use_span_links, "meter_provider": meter_provider,
                       "metrics": metrics_enabled(meter_provider),
                       "actor_metrics": actor_metrics_enabled()}
        if settings.disabled:
            log_once("instrument-disabled", "thespian-trace: %s names thespian; the observation plane "
                     "stays off (Envelopes are still unwrapped)", config.DISABLE_VARIABLE)
        tracer_provider = kwargs.get("tracer_provider")
        if tracer_provider is not None:
            config.configure(tracer_provider=tracer_provider)
        if kwargs.get("mode") is not None:
            config.set_mode(kwargs["mode"])
        if kwargs.get("use_span_links") is not None:
            config.configure(use_span_links=kwargs["use_span_links"])
        enable_metrics(meter_provider=meter_provider)
        if kwargs.get("actor_metrics", True):
            enable_actor_metrics(meter_provider, duration_include=kwargs.get("duration_include"),
                                 duration_exclude=kwargs.get("duration_exclude"),
                                 per_process=kwargs.get("per_process_meter_provider"))

    def _uninstrument(self, **kwargs: Any) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        settings.tracer_provider = saved["tracer_provider"]
        config.configure(use_span_links=saved["use_span_links"])
        config.set_mode(saved["mode"])
        if not saved["metrics"]:
            disable_metrics(saved["meter_provider"])
        if not saved["actor_metrics"]:
            disable_actor_metrics()
