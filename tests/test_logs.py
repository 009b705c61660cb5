"""Log correlation (thespian_trace.logs): a record written inside a handler carries that handler's
trace and span ids where the logDefs handlers write it: this process on simpleSystemBase, Thespian's
logging process on multiprocQueueBase and multiprocTCPBase (the record crosses a process boundary,
pickled)."""
import logging
import os
import re
import time
import uuid

import pytest
from thespian.actors import ActorSystem

from thespian_trace import traced_ask
from thespian_trace.logs import (LOG_FORMAT, TraceContextFilter, disable_log_correlation,
                                 enable_log_correlation, with_trace_context)

import logs_actors as la
from conftest import free_port

TIMEOUT = 20
LINE = re.compile(r"trace_id=(\w+) span_id=(\w+) .*chatty got (\S+)")


def log_defs(path):
    return with_trace_context({
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"ids": {"format": LOG_FORMAT}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(path),
                              "formatter": "ids", "level": "WARNING"}},
        "root": {"level": "WARNING", "handlers": ["file"]},
    })


@pytest.fixture
def correlated():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    assert enable_log_correlation()
    try:
        yield
    finally:
        disable_log_correlation()
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:], root.level = saved


def wait_lines(path, n, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        found = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                found = [m.groups() for m in map(LINE.search, fh) if m]
        if len(found) >= n or time.monotonic() > deadline:
            return {msg: (trace_id, span_id) for trace_id, span_id, msg in found}
        time.sleep(0.1)


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"])
def test_a_handlers_log_record_carries_its_span_ids_at_the_logging_process(base, tmp_path, spans,
                                                                           correlated):
    path = tmp_path / "actors.log"
    caps = {"Admin Port": free_port()} if base == "multiprocTCPBase" else {}
    asys = ActorSystem(base, caps, logDefs=log_defs(path), transientUnique=True)
    try:
        chatty = asys.createActor(la.Chatty)
        traced, bare = "traced-" + uuid.uuid4().hex[:8], "bare-" + uuid.uuid4().hex[:8]
        pid = traced_ask(asys, chatty, traced, TIMEOUT)
        assert asys.ask(chatty, bare, TIMEOUT) == pid
        lines = wait_lines(path, 2)
    finally:
        asys.shutdown()
    assert (pid == os.getpid()) == (base == "simpleSystemBase")  # else: across a process boundary
    span = [s for s in spans.wait(lambda ss: any(s.name == "process Chatty" for s in ss))
            if s.name == "process Chatty"]
    assert len(span) == 1
    assert lines[traced] == (span[0].trace_id, span[0].span_id)
    assert lines[bare] == ("0", "0")  # no span: the fields are there, saying so


def test_filter_fills_missing_fields_from_the_current_span():
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    TraceContextFilter().filter(record)
    assert (record.otelTraceID, record.otelSpanID, record.otelServiceName) == ("0", "0", "")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as s:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        assert TraceContextFilter().filter(record)
    ctx = s.get_span_context()
    assert record.otelTraceID == "%032x" % ctx.trace_id and record.otelSpanID == "%016x" % ctx.span_id
    record.otelTraceID, record.otelSpanID = "a" * 32, "b" * 16  # set where it was made: kept
    TraceContextFilter().filter(record)
    assert (record.otelTraceID, record.otelSpanID) == ("a" * 32, "b" * 16)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_with_trace_context_adds_the_filter_to_every_handler():
    defs = {"version": 1, "handlers": {"a": {"class": "logging.NullHandler"},
                                       "b": {"class": "logging.NullHandler", "filters": ["mine"]}},
            "filters": {"mine": {"name": "x"}}}
    out = with_trace_context(defs)
    assert out["handlers"]["a"]["filters"] == ["thespian_trace"]
    assert out["handlers"]["b"]["filters"] == ["mine", "thespian_trace"]
    assert "filters" not in defs["handlers"]["a"]  # a copy
    assert with_trace_context(out) == out
