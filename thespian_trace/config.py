"""Process-wide settings: rollout mode, the observation plane's switches, propagation policy, fanout table.

Rollout modes (per process):
  * ``off``     - unwrap Envelopes only: no spans, no context, bare sends.
  * ``receive`` - unwrap and continue incoming sampled traces; sends stay bare (safe while some
                  receivers are not yet upgraded).
  * ``on``      - full tracing: continue, start roots where allowed, send Envelopes for sampled work.

The mode in force (``settings.active_mode``, what the message path reads) is ``off`` while
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` names ``thespian``, whatever mode was asked for.

Environment variables (docs/configuration.md), read at import and by ``reload_from_env()``:
  THESPIAN_TRACE_MODE                off | receive | on                (default on)
  OTEL_PYTHON_DISABLED_INSTRUMENTATIONS  comma list; "thespian" turns the observation plane off
  THESPIAN_TRACE_PROPAGATE_UNSAMPLED 1 to send unsampled context too   (default 0)
  THESPIAN_TRACE_PRODUCER_SPANS      1 for one PRODUCER span per send  (default 0)
  THESPIAN_TRACE_USE_SPAN_LINKS      1: process spans link to the sender instead of being its child
  THESPIAN_TRACE_FANOUT_TABLE        e.g. "1:1,100:0.1,10000:0.001"   (default that)
  THESPIAN_TRACE_FANOUT_SEED         integer seed for fanout choices   (default random)
  THESPIAN_TRACE_HOOK                0 to not install the receive hook at import (default 1)
  THESPIAN_TRACE_MAX_CARRIER_BYTES   larger carriers are dropped       (default 8704)
Read once, at import, by ``autoconfig.py`` (not by ``reload_from_env``):
  THESPIAN_TRACE_AUTOCONFIGURE       otlp: install an SDK provider from OTEL_* variables
                                     when none is set                  (default off)
"""
from __future__ import annotations

import logging
import os
import random
from typing import Mapping, Optional

from ._state import OFF, ON, RECEIVE, Settings, settings
from .sampling import FanoutTable, parse_table

__all__ = ["OFF", "RECEIVE", "ON", "MODES", "settings", "get_mode", "set_mode", "configure",
           "reload_from_env", "observation_disabled", "DISABLE_VARIABLE", "INSTRUMENTATION_NAME"]

MODES = (OFF, RECEIVE, ON)
#: The standard OpenTelemetry switch, and the name (our entry point's) that turns us off in it.
DISABLE_VARIABLE = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
INSTRUMENTATION_NAME = "thespian"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

log = logging.getLogger("thespian_trace")


def _refresh() -> None:
    """Recompute the mode in force after any input changed (the message path reads only that)."""
    settings.active_mode = OFF if settings.disabled else settings.mode


def observation_disabled(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Does ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` (a comma list, spaces allowed) name ``thespian``?"""
    env = os.environ if environ is None else environ
    raw = env.get(DISABLE_VARIABLE) or ""
    return INSTRUMENTATION_NAME in (name.strip() for name in raw.split(","))


def _normalize_mode(mode: str) -> str:
    m = str(mode).strip().lower()
    for known in MODES:
        if m == known:
            return known  # the interned constant, so the hot path may compare by identity
    raise ValueError("unknown thespian-trace mode %r; expected one of %s" % (mode, ", ".join(MODES)))


def get_mode() -> str:
    """The rollout mode asked for in this process (``settings.active_mode`` is ``off`` while the
    observation plane is disabled by ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``)."""
    return settings.mode


def set_mode(mode: str) -> str:
    """Switch this process's rollout mode at run time; returns the previous mode."""
    previous = settings.mode
    settings.mode = _normalize_mode(mode)
    _refresh()
    return previous


def configure(*, mode: Optional[str] = None, propagate_unsampled: Optional[bool] = None,
              producer_spans: Optional[bool] = None, use_span_links: Optional[bool] = None,
              fanout_table: Optional[FanoutTable] = None, fanout_seed: Optional[int] = None,
              max_carrier_bytes: Optional[int] = None, tracer_provider=None) -> None:
    """Change settings in code; arguments left as None keep their current value.

    ``use_span_links``: a process span links to the sender's span instead of being its child (a new
    trace per handled message, as the celery instrumentation's option of the same name); default off.
    """
    if mode is not None:
        settings.mode = _normalize_mode(mode)
    if propagate_unsampled is not None:
        settings.propagate_unsampled = bool(propagate_unsampled)
    if producer_spans is not None:
        settings.producer_spans = bool(producer_spans)
    if use_span_links is not None:
        settings.use_span_links = bool(use_span_links)
    if fanout_table is not None:
        if not isinstance(fanout_table, FanoutTable):
            fanout_table = FanoutTable(fanout_table)
        settings.fanout_table = fanout_table
    if fanout_seed is not None:
        settings.rng = random.Random(fanout_seed)
    if max_carrier_bytes is not None:
        settings.max_carrier_bytes = int(max_carrier_bytes)
    if tracer_provider is not None:
        settings.tracer_provider = tracer_provider  # _tracing.get_tracer() notices the change
    _refresh()


def reload_from_env(environ: Optional[Mapping[str, str]] = None) -> None:
    """(Re)read the variables listed in this module's docstring, except THESPIAN_TRACE_AUTOCONFIGURE.

    Bad values are logged and the default kept. A tracer provider set in code is kept.
    ``THESPIAN_TRACE_HOOK`` is re-read, but the receive hook is installed (or not) once, at import.
    """
    env = os.environ if environ is None else environ
    fresh = Settings()
    fresh.tracer_provider = settings.tracer_provider

    def _bool(name: str, default: bool) -> bool:
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        log.warning("%s=%r is not a boolean (1/0, true/false, yes/no, on/off); using %r",
                    name, raw, default)
        return default

    raw_mode = env.get("THESPIAN_TRACE_MODE")
    if raw_mode:
        try:
            fresh.mode = _normalize_mode(raw_mode)
        except ValueError as exc:
            log.warning("%s; using %r", exc, fresh.mode)
    fresh.propagate_unsampled = _bool("THESPIAN_TRACE_PROPAGATE_UNSAMPLED", False)
    fresh.producer_spans = _bool("THESPIAN_TRACE_PRODUCER_SPANS", False)
    fresh.use_span_links = _bool("THESPIAN_TRACE_USE_SPAN_LINKS", False)
    fresh.disabled = observation_disabled(env)
    fresh.hook_enabled = _bool("THESPIAN_TRACE_HOOK", True)
    raw_table = env.get("THESPIAN_TRACE_FANOUT_TABLE")
    if raw_table:
        try:
            fresh.fanout_table = parse_table(raw_table)
        except ValueError as exc:
            log.warning("THESPIAN_TRACE_FANOUT_TABLE: %s; using the default table", exc)
    raw_seed = env.get("THESPIAN_TRACE_FANOUT_SEED")
    if raw_seed:
        try:
            fresh.rng = random.Random(int(raw_seed))
        except ValueError:
            log.warning("THESPIAN_TRACE_FANOUT_SEED=%r is not an integer; ignored", raw_seed)
    raw_max = env.get("THESPIAN_TRACE_MAX_CARRIER_BYTES")
    if raw_max:
        try:
            fresh.max_carrier_bytes = int(raw_max)
        except ValueError:
            log.warning("THESPIAN_TRACE_MAX_CARRIER_BYTES=%r is not an integer; ignored", raw_max)
    for name in Settings.__slots__:
        setattr(settings, name, getattr(fresh, name))
    _refresh()


reload_from_env()
