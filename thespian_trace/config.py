"""Process-wide settings: rollout mode, propagation policy, fanout table. Read from env at import.

Rollout modes (per process):
  * ``off``     - unwrap Envelopes only: no spans, no context, bare sends.
  * ``receive`` - unwrap and continue incoming sampled traces; sends stay bare (safe while some
                  receivers are not yet upgraded).
  * ``on``      - full tracing: continue, start roots where allowed, send Envelopes for sampled work.

Environment variables (see README, "Configuration"):
  THESPIAN_TRACE_MODE                off | receive | on                (default on)
  THESPIAN_TRACE_PROPAGATE_UNSAMPLED 1 to send unsampled context too   (default 0)
  THESPIAN_TRACE_PRODUCER_SPANS      1 for one PRODUCER span per send  (default 0)
  THESPIAN_TRACE_FANOUT_TABLE        e.g. "1:1,100:0.1,10000:0.001"   (default that)
  THESPIAN_TRACE_FANOUT_SEED         integer seed for fanout choices   (default random)
  THESPIAN_TRACE_HOOK                0 to not install the receive hook (default 1)
  THESPIAN_TRACE_MAX_CARRIER_BYTES   larger carriers are dropped       (default 8704)
  THESPIAN_TRACE_AUTOCONFIGURE       otlp: install an SDK provider from OTEL_* variables
                                     when none is set (autoconfig.py)  (default off)
"""
from __future__ import annotations

import logging
import os
import random
from typing import Mapping, Optional

from .sampling import DEFAULT_TABLE, FanoutTable, parse_table

__all__ = ["OFF", "RECEIVE", "ON", "MODES", "settings", "get_mode", "set_mode", "configure",
           "reload_from_env"]

OFF, RECEIVE, ON = "off", "receive", "on"
MODES = (OFF, RECEIVE, ON)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

log = logging.getLogger("thespian_trace")


class _Settings:
    """Mutable singleton read on the hot path (plain attribute reads)."""

    __slots__ = ("mode", "propagate_unsampled", "producer_spans", "fanout_table", "rng",
                 "max_carrier_bytes", "tracer_provider", "hook_enabled")

    def __init__(self) -> None:
        self.mode = ON
        self.propagate_unsampled = False
        self.producer_spans = False
        self.fanout_table: FanoutTable = DEFAULT_TABLE
        self.rng = random.Random()
        self.max_carrier_bytes = 8704  # tracestate (512) + baggage (8192) per W3C limits
        self.tracer_provider = None
        self.hook_enabled = True


settings = _Settings()


def _normalize_mode(mode: str) -> str:
    m = str(mode).strip().lower()
    for known in MODES:
        if m == known:
            return known  # the interned constant, so the hot path may compare by identity
    raise ValueError("unknown thespian-trace mode %r; expected one of %s" % (mode, ", ".join(MODES)))


def get_mode() -> str:
    """The rollout mode of this process."""
    return settings.mode


def set_mode(mode: str) -> str:
    """Switch this process's rollout mode at run time; returns the previous mode."""
    previous = settings.mode
    settings.mode = _normalize_mode(mode)
    return previous


def configure(*, mode: Optional[str] = None, propagate_unsampled: Optional[bool] = None,
              producer_spans: Optional[bool] = None, fanout_table: Optional[FanoutTable] = None,
              fanout_seed: Optional[int] = None, max_carrier_bytes: Optional[int] = None,
              tracer_provider=None) -> None:
    """Change settings in code; arguments left as None keep their current value."""
    if mode is not None:
        settings.mode = _normalize_mode(mode)
    if propagate_unsampled is not None:
        settings.propagate_unsampled = bool(propagate_unsampled)
    if producer_spans is not None:
        settings.producer_spans = bool(producer_spans)
    if fanout_table is not None:
        if not isinstance(fanout_table, FanoutTable):
            fanout_table = FanoutTable(fanout_table)
        settings.fanout_table = fanout_table
    if fanout_seed is not None:
        settings.rng = random.Random(fanout_seed)
    if max_carrier_bytes is not None:
        settings.max_carrier_bytes = int(max_carrier_bytes)
    if tracer_provider is not None:
        settings.tracer_provider = tracer_provider
        from . import _tracing
        _tracing.reset_tracer()


def reload_from_env(environ: Optional[Mapping[str, str]] = None) -> None:
    """(Re)read every THESPIAN_TRACE_* variable. Bad values are logged and the default kept."""
    env = os.environ if environ is None else environ
    fresh = _Settings()
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
    for name in _Settings.__slots__:
        setattr(settings, name, getattr(fresh, name))


reload_from_env()
