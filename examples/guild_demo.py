"""The guild fanout demo: what tracing an actor system looks like, and why the sampling rules matter.

An "API" edge receives chat messages from web clients (each with a W3C ``traceparent`` header from the
upstream, sampled or not), sieves the header (``extract_if_sampled``: no parse for unsampled ones),
and asks a Guild actor with ``traced_ask``; the Guild fans the message out to N Session actors with
``traced_fanout``. Only p(N) of the recipients are traced (1,000 sessions -> 1 %), dropped ones get no
carrier and never start a trace of their own. Spans go to an embedded OTLP/HTTP collector on loopback
(and also to ``OTEL_EXPORTER_OTLP_ENDPOINT`` when set: Jaeger, Tempo, any collector). Each captured
trace is printed as a waterfall, then the Guild's log lines for those traces (their trace ids, put on
the records by log correlation, match the waterfalls), a per-class table of actor metrics (handled,
failed, p50/p99 processing time from the ``messaging.process.duration`` histogram), and a cost table
comparing the run against the same run with tracing off.

    python examples/guild_demo.py                      # simpleSystemBase, 1,000 sessions
    python examples/guild_demo.py --base multiprocTCPBase --sessions 20
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import sys
import tempfile
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from opentelemetry import trace  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402
from thespian.actors import ActorSystem  # noqa: E402

import thespian_trace  # noqa: E402
from thespian_trace import extract_if_sampled, set_mode, traced_ask  # noqa: E402
from thespian_trace.logs import enable_log_correlation, with_trace_context  # noqa: E402
from thespian_trace.metrics import (METRIC_DURATION, METRIC_FAILED, METRIC_HANDLED,  # noqa: E402
                                    disable_actor_metrics, enable_actor_metrics,
                                    reset_actor_metrics)
from thespian_trace.testing import (OTLPReceiver, SpanRecord, build_trees,  # noqa: E402
                                    configure_otlp_export, force_flush)

from guild_actors import ChatAck, ChatMessage, Guild, Setup  # noqa: E402

EDGE_TRACER = trace.get_tracer("guild_demo.api")
LOG_FORMAT = "trace_id=%(otelTraceID)s span_id=%(otelSpanID)s %(name)s: %(message)s"


def log_defs(path: str) -> dict:
    """Thespian's logDefs: the guild's records go to ``path`` (written by Thespian's logging process on
    the multi-process bases) with the ids of the span they were written in."""
    return with_trace_context({
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"ids": {"format": LOG_FORMAT}},
        "handlers": {"null": {"class": "logging.NullHandler"},
                     "file": {"class": "logging.FileHandler", "filename": path, "formatter": "ids"}},
        "loggers": {"guild": {"level": "WARNING", "handlers": ["file"], "propagate": False}},
        "root": {"level": "WARNING", "handlers": ["null"]}})  # the level actors forward at


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upstream_headers(i: int, ratio: float, rng: random.Random) -> Dict[str, str]:
    """The W3C header a web client's upstream sent with message ``i`` (sampled at ``ratio``).

    Deterministic spread: exactly ceil(ratio * n) of the first n messages are sampled, the first one
    included, so even a short run shows a trace.
    """
    sampled = math.ceil((i + 1) * ratio) > math.ceil(i * ratio)
    flags = "01" if sampled else "00"
    return {"traceparent": "00-%032x-%016x-%s" % (rng.getrandbits(128) | 1, rng.getrandbits(64) | 1, flags)}


def run_workload(asys, guild, messages: int, ratio: float, seed: int) -> List[ChatAck]:
    """The API edge: sieve each upstream header, then ask the guild (traced only when sampled)."""
    rng = random.Random(seed)
    acks = []
    for i in range(messages):
        headers = upstream_headers(i, ratio, rng)
        parent = extract_if_sampled(headers)      # unsampled: dropped without parsing
        if parent is None:
            acks.append(asys.ask(guild, ChatMessage(i, "hello %d" % i), 60))
            continue
        # What a web framework's instrumentation does: a SERVER span for the request, child of the
        # upstream's context; traced_ask then carries it into the actor system.
        with EDGE_TRACER.start_as_current_span("POST /chat", context=parent, kind=SpanKind.SERVER):
            acks.append(traced_ask(asys, guild, ChatMessage(i, "hello %d" % i), 60))
    return acks


def start_system(base: str, sessions: int, log_path: str):
    caps = {"Admin Port": _free_port()} if base == "multiprocTCPBase" else {}
    asys = ActorSystem(base, caps, logDefs=log_defs(log_path), transientUnique=True)
    guild = asys.createActor(Guild)
    created = asys.ask(guild, Setup(sessions), 120)
    if created != sessions:
        asys.shutdown()
        raise SystemExit("guild set-up failed: %r" % (created,))
    return asys, guild


# ------------------------------------------------------------------------------------------------
# Rendering

BAR_WIDTH = 36
LABEL_WIDTH = 58


def _label(rec: SpanRecord) -> str:
    a = rec.attributes
    extra = []
    if "messaging.batch.message_count" in a:
        extra.append("N=%d kept=%s p=%.4g" % (a["messaging.batch.message_count"],
                                             a.get("messaging.thespian.fanout.kept", "?"),
                                             a.get("messaging.thespian.sampling.probability", 1.0)))
    elif "messaging.thespian.sampling.probability" in a:
        extra.append("kept with p=%.4g of %s" % (a["messaging.thespian.sampling.probability"],
                                                 a.get("messaging.thespian.fanout.size", "?")))
    elif "messaging.thespian.message.type" in a and rec.kind == "CONSUMER":
        extra.append(a["messaging.thespian.message.type"])
    if rec.status == "ERROR":
        extra.append("ERROR")
    return "%s [%s]%s" % (rec.name, rec.kind.lower(), (" " + ", ".join(extra)) if extra else "")


def waterfall(records: List[SpanRecord], max_lines: int = 40) -> List[str]:
    """One trace as a terminal waterfall: tree on the left, bars scaled to the trace's time span."""
    t0 = min(r.start_ns for r in records)
    t1 = max((r.end_ns or r.start_ns) for r in records)
    total = max(t1 - t0, 1)
    lines = []
    roots = next(iter(build_trees(records).values()))

    def walk(node, depth):
        rec = node.record
        start = int((rec.start_ns - t0) * BAR_WIDTH / total)
        width = max(1, int(((rec.end_ns or rec.start_ns) - rec.start_ns) * BAR_WIDTH / total))
        bar = " " * start + "\u2588" * min(width, BAR_WIDTH - start)
        label = ("  " * depth + _label(rec))[:LABEL_WIDTH]
        lines.append("%-*s |%-*s| %7.2f ms" % (LABEL_WIDTH, label, BAR_WIDTH, bar,
                                             ((rec.end_ns or rec.start_ns) - rec.start_ns) / 1e6))
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    if len(lines) > max_lines:
        hidden = len(lines) - max_lines
        lines = lines[:max_lines] + ["... %d more spans" % hidden]
    return lines


def _quantile(dp, q: float) -> float:
    """The ``q`` quantile of a histogram data point, interpolated linearly inside its bucket."""
    target, seen = q * dp.count, 0
    bounds = list(dp.explicit_bounds)
    for i, n in enumerate(dp.bucket_counts):
        if n and seen + n >= target:
            lo = max(bounds[i - 1] if i > 0 else 0.0, dp.min)
            hi = min(bounds[i] if i < len(bounds) else dp.max, dp.max)
            return lo + (hi - lo) * (target - seen) / n
        seen += n
    return dp.max


def metrics_table(reader) -> List[str]:
    """Per actor class: handled / failed invocations and p50 / p99 processing time."""
    rows: Dict[str, dict] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for dp in metric.data.data_points:
                    cls = dp.attributes.get("messaging.destination.template")
                    row = rows.setdefault(cls, {"handled": 0, "failed": 0, "points": []})
                    if metric.name == METRIC_HANDLED:
                        row["handled"] += dp.value
                    elif metric.name == METRIC_FAILED:
                        row["failed"] += dp.value
                    elif metric.name == METRIC_DURATION and not dp.attributes.get("error.type"):
                        row["points"].append(dp)
    lines = ["    %-10s %8s %7s %10s %10s" % ("class", "handled", "failed", "p50", "p99")]
    for cls, row in sorted(rows.items()):
        if not row["handled"]:
            continue
        timed = max(row["points"], key=lambda dp: dp.count, default=None)  # its main message type
        p50, p99 = (("%8.1f us" % (_quantile(timed, 0.5) * 1e6), "%8.1f us" % (_quantile(timed, 0.99) * 1e6))
                    if timed is not None else ("-", "-"))
        lines.append("    %-10s %8d %7d %10s %10s" % (cls, row["handled"], row["failed"], p50, p99))
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=None,
                    help="fanout size N (default 1000 on simpleSystemBase, 20 on multi-process bases)")
    ap.add_argument("--base", default="simpleSystemBase",
                    choices=["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"])
    ap.add_argument("--ratio", type=float, default=0.5,
                    help="share of upstream requests that arrive sampled (default 0.5)")
    ap.add_argument("--messages", type=int, default=4, help="chat messages to send (default 4)")
    ap.add_argument("--seed", type=int, default=7, help="seed for fanout sampling and headers")
    ap.add_argument("--show", type=int, default=2, help="waterfalls to print (default 2)")
    ap.add_argument("--json", metavar="FILE", help="also write every captured span as JSON")
    args = ap.parse_args(argv)
    sessions = args.sessions or (1000 if args.base == "simpleSystemBase" else 20)
    if not (0.0 <= args.ratio <= 1.0) or sessions < 1 or args.messages < 1:
        ap.error("need 0 <= --ratio <= 1, --sessions >= 1, --messages >= 1")

    receiver = OTLPReceiver().start()
    try:
        configure_otlp_export(receiver, resource_attrs={"service.name": "guild-demo"})
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from thespian_trace.forksafe import ForkSafeSession  # actors forked mid-export keep spans
            trace.get_tracer_provider().add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(session=ForkSafeSession())))
            print("also exporting to %s" % os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
        thespian_trace.configure(fanout_seed=args.seed)
        enable_log_correlation()  # before the systems fork: their actor processes inherit it
        log_dir = tempfile.mkdtemp(prefix="guild-demo-")
        try:
            return _run(args, sessions, receiver, log_dir)
        finally:
            shutil.rmtree(log_dir, ignore_errors=True)
    finally:
        receiver.stop()


def _run(args, sessions: int, receiver: OTLPReceiver, log_dir: str) -> int:
    print("guild demo: %d chat messages -> Guild -> %d Sessions on %s; upstream sampled %.0f%%"
          % (args.messages, sessions, args.base, args.ratio * 100))

    # The same workload on a second system with tracing off, for the cost comparison. Modes are per
    # process and multi-process actors inherit the mode they were forked with, so each system is
    # started under its own mode; both are warmed up with one bare message before timing.
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    log_path = os.path.join(log_dir, "guild.log")
    set_mode("off")
    off_sys, off_guild = start_system(args.base, sessions, os.path.join(log_dir, "off.log"))
    set_mode("on")
    try:
        asys, guild = start_system(args.base, sessions, log_path)
    except BaseException:
        off_sys.shutdown()
        raise
    try:
        for s, g in ((off_sys, off_guild), (asys, guild)):  # warm-up, incl. each exporter's first export
            run_workload(s, g, 1, 1.0, args.seed + 1)
        force_flush()
        time.sleep(0.5)
        # Actor metrics in both timed runs (so the cost table compares tracing alone), each run to its
        # own provider; the table shows the traced run's. In this process: every actor on
        # simpleSystemBase; actor processes of the multi-process bases would need a provider of their
        # own (docs/configuration.md). Session opts in to the duration histogram by class attribute,
        # Guild by pattern.
        simple = args.base == "simpleSystemBase"
        off_meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
        set_mode("off")
        if simple:
            enable_actor_metrics(off_meters, duration_include=["Guild"])
        t = time.perf_counter()
        off_acks = run_workload(off_sys, off_guild, args.messages, args.ratio, args.seed)
        off_wall = time.perf_counter() - t
        disable_actor_metrics()
        reset_actor_metrics()  # the counts are per process: start the traced run's from zero
        off_meters.shutdown()
        set_mode("on")
        force_flush()
        receiver.clear()
        thespian_trace.reset_stats()
        metered = simple and enable_actor_metrics(meters, duration_include=["Guild"])
        t = time.perf_counter()
        acks = run_workload(asys, guild, args.messages, args.ratio, args.seed)
        on_wall = time.perf_counter() - t
        stats = thespian_trace.stats()
        metric_lines = metrics_table(reader) if metered else []
        disable_actor_metrics()
    finally:
        asys.shutdown()
        off_sys.shutdown()
    force_flush()

    for ack in list(acks) + list(off_acks):
        if not isinstance(ack, ChatAck) or ack.delivered != sessions:
            print("FAILED: a chat message was not delivered to every session: %r" % (ack,))
            return 1

    expect_traces = sum(1 for i in range(args.messages)
                        if math.ceil((i + 1) * args.ratio) > math.ceil(i * args.ratio))
    try:
        spans = receiver.wait_for(lambda s: len({r.trace_id for r in s if r.name == "POST /chat"}) >= expect_traces and
                                  len([r for r in s if r.name.startswith("fanout ")]) >= expect_traces,
                                  timeout=20)
        time.sleep(0.3)
        spans = receiver.spans()
    except TimeoutError as exc:
        print("FAILED: spans did not arrive: %s" % exc)
        return 1

    by_trace: Dict[str, List[SpanRecord]] = {}
    for rec in spans:
        by_trace.setdefault(rec.trace_id, []).append(rec)
    traces = sorted(by_trace.values(), key=lambda rs: min(r.start_ns for r in rs))
    for n, records in enumerate(traces[:args.show]):
        print("\ntrace %d/%d  %s  (%d spans)" % (n + 1, len(traces), records[0].trace_id, len(records)))
        for line in waterfall(records):
            print("  " + line)
    if len(traces) > args.show:
        print("\n(%d more traces not shown; --show N)" % (len(traces) - args.show))

    shown = [records[0].trace_id for records in traces[:args.show]]
    logged = {}
    if os.path.exists(log_path):
        with open(log_path, encoding="utf-8") as fh:
            for line in fh:
                trace_id = line.split(" ", 1)[0].split("=", 1)[-1]
                logged.setdefault(trace_id, line.rstrip("\n"))
    print("\nGuild log lines of the traces above (log correlation):")
    for n, trace_id in enumerate(shown):
        print("  trace %d: %s" % (n + 1, logged.get(trace_id, "(no log line with this trace id)")))

    if metric_lines:
        print("\nactor metrics (handled / failed handler invocations, processing time from the "
              "messaging.process.duration histogram):")
        for line in metric_lines:
            print(line)
    else:
        print("\n(actor metrics table: simpleSystemBase only, where every actor runs in this process)")
    meters.shutdown()

    handled = sessions * args.messages * 2 + args.messages  # deliveries + acks + chat messages
    fanouts = [r for r in spans if r.name.startswith("fanout ")]
    kept = sum(int(r.attributes.get("messaging.thespian.fanout.kept", 0)) for r in fanouts)
    fanned = sum(int(r.attributes.get("messaging.batch.message_count", 0)) for r in fanouts)
    local = " (API process only)" if args.base != "simpleSystemBase" else ""
    rows = [
        ("messages handled (by actors)", "%d" % handled),
        ("traces captured", "%d (of %d chat messages; upstream sampled %d)"
         % (len(traces), args.messages, expect_traces)),
        ("spans exported", "%d" % len(spans)),
        ("sampled fanouts: recipients traced / dropped", "%d / %d" % (kept, fanned - kept)),
        ("carriers built" + local, "%d" % stats["carriers_built"]),
        ("carriers sieved away, no parse" + local, "%d" % stats["carriers_sieved"]),
        ("wall time, tracing on", "%.3f s%s" % (on_wall, " (actor metrics on in both runs)" if metered else "")),
        ("wall time, tracing off", "%.3f s" % off_wall),
        ("ratio on / off", "%.2f x" % (on_wall / off_wall if off_wall else float("nan"))),
    ]
    print()
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print("  %-*s  %s" % (width, key, value))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump([{"name": r.name, "trace_id": r.trace_id, "span_id": r.span_id,
                        "parent_span_id": r.parent_span_id, "kind": r.kind, "status": r.status,
                        "start_ns": r.start_ns, "end_ns": r.end_ns,
                        "attributes": {k: (list(v) if isinstance(v, tuple) else v)
                                       for k, v in r.attributes.items()}} for r in spans],
                      fh, indent=1)
        print("\nwrote %d spans to %s" % (len(spans), args.json))
    if expect_traces and len(traces) < expect_traces:
        print("FAILED: expected %d traces, captured %d" % (expect_traces, len(traces)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
