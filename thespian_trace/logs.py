"""Log correlation: a log record written inside a handler carries that handler's trace and span ids.

OpenTelemetry's logging instrumentation (``opentelemetry-instrumentation-logging``, the ``logging``
extra) does the work: its record factory puts ``otelTraceID``, ``otelSpanID``, ``otelTraceSampled`` and
``otelServiceName`` on every ``LogRecord`` as it is made, from the span current at that moment, which
inside a handler is the handler's span. What is Thespian-specific, and all this module adds:

  * **where the record is made.** On the multi-process bases an actor logs in its own process and
    Thespian forwards the record, pickled with its ``__dict__``, to its logging process, which applies
    ``logDefs``; the ids must be on the record before it leaves. Forked actor processes inherit the
    record factory, so :func:`enable_log_correlation` before ``ActorSystem(...)`` covers them; an actor
    module may call it at import for processes that are not forked (``spawn``, other hosts).
  * **actor processes have no root handlers of their own**: Thespian's ``ThespianLogForwarder`` replaces
    the root logger there and refuses ``addHandler``, so the instrumentation's OpenTelemetry log handler
    is not added unless asked for (``enable_log_auto_instrumentation=True``).
  * **a ``logDefs`` format that names the fields must not fail** on records made without them (Thespian's
    own processes, a process that never enabled correlation): :class:`TraceContextFilter`, attached to
    the ``logDefs`` handlers (:func:`with_trace_context`), fills in missing fields from the span current
    where the handler runs (on ``simpleSystemBase``, the handler's own) or ``"0"``.

The package imports the instrumentation only inside :func:`enable_log_correlation`.
"""
from __future__ import annotations

import copy
import logging
from typing import Any, Dict

from opentelemetry import trace

__all__ = ["enable_log_correlation", "disable_log_correlation", "TraceContextFilter", "with_trace_context",
           "LOG_FORMAT", "TRACE_FIELDS"]

#: Record attributes set by OpenTelemetry's logging instrumentation (and by TraceContextFilter).
TRACE_FIELDS = ("otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName")

#: A format for ``logDefs`` formatters showing the ids (the instrumentation's default, with the names).
LOG_FORMAT = ("%(asctime)s %(levelname)s [%(name)s] [trace_id=%(otelTraceID)s span_id=%(otelSpanID)s "
              "resource.service.name=%(otelServiceName)s] - %(message)s")

log = logging.getLogger("thespian_trace")


def enable_log_correlation(**kwargs: Any) -> bool:
    """Put the current span's ids on every log record made in this process and in the actor processes
    it forks afterwards (call it before ``ActorSystem(...)``). Returns False, with a warning, when the
    ``logging`` extra is not installed.

    Keyword arguments go to ``LoggingInstrumentor().instrument()`` (``set_logging_format``,
    ``log_hook``, ...); ``enable_log_auto_instrumentation`` defaults to False here (see the module doc).
    """
    try:
        from opentelemetry.instrumentation.logging import LoggingInstrumentor
    except ImportError as exc:
        log.warning("thespian-trace: log correlation needs the 'logging' extra "
                    "(pip install 'thespian-trace[logging]'): %s", exc)
        return False
    kwargs.setdefault("inject_trace_context", True)
    kwargs.setdefault("enable_log_auto_instrumentation", False)
    kwargs["log_hook"] = _with_ids(kwargs.get("log_hook"))
    LoggingInstrumentor().instrument(**kwargs)
    return True


def _with_ids(user_hook: Any) -> Any:
    """A ``log_hook`` that puts the span's ids on the record, then calls the user's hook.

    Releases of the instrumentation before ``inject_trace_context`` (0.62b1, the newest that installs on
    Python 3.9) inject the ids only with ``set_logging_format``, which also calls ``logging.basicConfig``;
    they do call the hook for every record made under a valid span. Newer releases set the same values.
    """
    def log_hook(span: Any, record: logging.LogRecord) -> None:
        ctx = span.get_span_context()
        if ctx.is_valid:
            record.otelTraceID = format(ctx.trace_id, "032x")
            record.otelSpanID = format(ctx.span_id, "016x")
            record.otelTraceSampled = ctx.trace_flags.sampled
        if callable(user_hook):
            user_hook(span, record)

    return log_hook


def disable_log_correlation() -> None:
    """Restore the record factory that was in place before :func:`enable_log_correlation`."""
    try:
        from opentelemetry.instrumentation.logging import LoggingInstrumentor
    except ImportError:
        return
    LoggingInstrumentor().uninstrument()


class TraceContextFilter(logging.Filter):
    """A ``logging`` filter that makes the trace fields present on every record it sees.

    Fields already on the record (set where it was made, possibly another process) are kept; missing
    ones come from the span current where the filter runs, else ``"0"``/``False``/``""``. Never drops
    a record. Attach it to handlers (a handler filter also sees records propagated from child loggers).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        d = record.__dict__
        if "otelTraceID" not in d:
            ctx = trace.get_current_span().get_span_context()
            if ctx.is_valid:
                d["otelTraceID"] = format(ctx.trace_id, "032x")
                d["otelSpanID"] = format(ctx.span_id, "016x")
                d["otelTraceSampled"] = ctx.trace_flags.sampled
            else:
                d["otelTraceID"] = d["otelSpanID"] = "0"
                d["otelTraceSampled"] = False
        d.setdefault("otelSpanID", "0")
        d.setdefault("otelTraceSampled", False)
        d.setdefault("otelServiceName", "")
        return True


def with_trace_context(log_defs: Dict[str, Any], filter_name: str = "thespian_trace") -> Dict[str, Any]:
    """A copy of ``log_defs`` (a ``logging.config.dictConfig`` dict, as given to ``ActorSystem``) whose
    every handler carries :class:`TraceContextFilter`, so formats may name ``%(otelTraceID)s`` etc."""
    out = copy.deepcopy(log_defs)
    out.setdefault("filters", {})[filter_name] = {"()": "thespian_trace.logs.TraceContextFilter"}
    for handler in out.get("handlers", {}).values():
        filters = handler.setdefault("filters", [])
        if filter_name not in filters:
            filters.append(filter_name)
    return out

