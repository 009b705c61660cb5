"""Benchmark harness: interleaved rounds, per-round ratios, targets, machine info, Markdown/JSON output.

Every comparison is *side by side*: each round runs the bare variant and the traced variant back to back
in the same process (the order alternates every round, so drift and warm-up hit both sides alike). The
headline ratio is the ratio of the two sides' medians over the rounds; min/median/max of the per-round
ratios is the spread. One untimed warm-up run of each side precedes the rounds.

Fairness: a side's work must be charged to that side's run, never to the next one. Spans are exported
by the SDK's batch processor on a thread of its own (in every process that made them), so work a traced
run caused can still be pending when it returns, and would then run during the next run, often a bare
one (flattering traced). Each benchmark therefore either
* times each side to its own completion: the run's last timed step flushes every span processor that
  the run fed (this process's directly; actor processes' by a ``Flush`` message through the actors,
  ``bench_actors.Flush``), the same step on both sides (the bare side has nothing to export, so it
  costs it next to nothing). Used where the flush is cheap next to a run: every in-process case
  (``simpleSystemBase``, whose clock is process CPU time and so includes the export thread; the sieve
  and the sampled hop) and the multi-process ping-pong (one ask through the pinger and its ponger);
* or settles between runs, untimed: ``interleave(settle=...)`` flushes after each run, before the next
  one starts. Used where the flush would cost as much as the run itself: the multi-process fanout (one
  message to each of 200 actor processes, about as much work as the fanout measured); there the spans
  its few kept recipients still hold when a traced run ends are not charged to any side, instead of to
  the next run.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

# logDefs=False crashes every multi-process actor at start (Thespian 4.0.1); give a quiet real config.
LOG_DEFS = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"level": "CRITICAL", "handlers": ["null"]},
}

BASES = ("simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase")

# ratio kinds: how a row's ratio is computed from (bare, traced) and which direction is good
THROUGHPUT = "throughput"  # traced / bare, both in operations per second (higher is better)
TIME = "time"              # traced / bare, both in seconds (lower is better)
SPEEDUP = "speedup"        # bare / traced, both in seconds: how many times cheaper "traced" is
BYTES = "bytes"            # traced - bare, in bytes


def free_port() -> int:
    """An ephemeral loopback port (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_system(base: str, capabilities: Optional[Dict[str, Any]] = None) -> Any:
    """A fresh, private actor system on ``base`` (TCP on a free loopback port). Caller shuts it down.

    Remembers the base and, on a multi-process base, the session of the system's processes, for
    :func:`clock_for`."""
    from thespian.actors import ActorSystem

    caps = dict(capabilities or {})
    if base == "multiprocTCPBase":
        caps.setdefault("Admin Port", free_port())
    before = _fork_sessions() if base != "simpleSystemBase" else set()
    with _headroom_for_bare(base):
        asys = ActorSystem(base, caps, logDefs=LOG_DEFS, transientUnique=True)
    try:
        asys.base = base
        asys.bench_sessions = _fork_sessions() - before if base != "simpleSystemBase" else set()
    except Exception:  # pragma: no cover
        pass
    return asys


@contextlib.contextmanager
def _headroom_for_bare(base: str) -> Iterator[None]:
    """Start a bare multi-process system's actors with the data-stack headroom the hook gives traced
    ones (``thespian_trace._stack``): without it a bare actor whose message path straddles a chunk
    boundary pays for its layout (the metrics counters row lost 6-26 % that way), which would be
    counted as a gain of tracing. The Admin forks here, with headroom itself (``startAdmin``), and
    keeps this ``startChild``; every actor descends from it."""
    from thespian.system import multiprocCommon as mpc

    from thespian_trace import _stack, hook

    if base == "simpleSystemBase" or hook.installed():
        yield
        return
    saved = [(name, getattr(mpc, name)) for name in ("startChild", "startAdmin")
             if callable(getattr(mpc, name, None))]
    for name, original in saved:
        setattr(mpc, name, _stack.with_headroom(original))
    try:
        yield
    finally:
        for name, original in saved:
            setattr(mpc, name, original)


# Clocks ------------------------------------------------------------------------------------------
# In process (simpleSystemBase): CPU time of this process, the span export thread included; the machine
# is shared, and the wall time of a single-threaded loop mostly measures the neighbours.
# Multi-process bases: CPU time of this process plus every process of the actor system (its Admin
# calls setsid, and every actor is a fork in that session), threads included (span export). Their wall
# time measured the scheduler more than the work: one message costs about 1.4 ms of CPU over three
# busy processes on 2 cores. Per-round ratios of the TCP on-unsampled row: 0.64-1.37 in wall time
# (make bench at 211de9d), 0.95-1.05 in this CPU time (make bench at ebcdf86; docs/performance.md).
# Linux (/proc); wall time elsewhere. A process that exits during a run loses its share (none does).

_PROC = "/proc"
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: str) -> Optional[List[bytes]]:
    try:
        with open("%s/%s/stat" % (_PROC, pid), "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2:].split()  # [0] is the state (field 3 of proc(5))


def _fork_sessions() -> set:
    """Session ids of the processes running this one's command line (forks of it), this one's aside."""
    if not os.path.isdir(_PROC):
        return set()
    try:
        with open("%s/self/cmdline" % _PROC, "rb") as f:
            mine = f.read()
    except OSError:
        return set()
    own = os.getsid(0)
    out = set()
    for pid in os.listdir(_PROC):
        if not pid.isdigit():
            continue
        try:
            with open("%s/%s/cmdline" % (_PROC, pid), "rb") as f:
                if f.read() != mine:
                    continue
        except OSError:
            continue
        fields = _stat_fields(pid)
        if fields is not None and int(fields[3]) != own:
            out.add(int(fields[3]))
    return out


def _process_cpu(pid: str, fields: List[bytes]) -> float:
    """Seconds of CPU of one process, every thread: schedstat (ns) where it exists, else ticks."""
    total, found = 0, False
    try:
        for tid in os.listdir("%s/%s/task" % (_PROC, pid)):
            try:
                with open("%s/%s/task/%s/schedstat" % (_PROC, pid, tid), "rb") as f:
                    total += int(f.read().split()[0])
                found = True
            except (OSError, ValueError, IndexError):
                continue
    except OSError:
        pass
    if found:
        return total / 1e9
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def sessions_cpu(sessions: set) -> float:
    """Seconds of CPU used so far by the live processes of the given sessions."""
    total = 0.0
    for pid in os.listdir(_PROC):
        if pid.isdigit():
            fields = _stat_fields(pid)
            if fields is not None and int(fields[3]) in sessions:
                total += _process_cpu(pid, fields)
    return total


def clock_for(asys: Any) -> Callable[[], float]:
    """The clock a run on ``asys`` is timed with (see above): seconds, differences only."""
    if getattr(asys, "base", "simpleSystemBase") == "simpleSystemBase":
        return time.process_time
    sessions = getattr(asys, "bench_sessions", None)
    if not sessions:
        return time.perf_counter  # no /proc: wall time

    def clock() -> float:
        return time.process_time() + sessions_cpu(sessions)

    return clock


def shutdown(asys: Any) -> None:
    if asys is None:
        return
    try:
        asys.shutdown()
    except Exception:  # pragma: no cover - best effort
        pass


def wall_figures(bare: List[float], traced: List[float]) -> Dict[str, Any]:
    """Throughput ratio of the medians of wall-clock figures, and the range of the per-round ratios
    (a row timed in CPU time reports these beside it)."""
    if not bare or not traced:
        return {"ratio": float("nan"), "range": [float("nan"), float("nan")]}
    ratios = [t / b for b, t in zip(bare, traced)]
    return {"ratio": statistics.median(traced) / statistics.median(bare),
            "range": [min(ratios), max(ratios)], "bare_rounds": bare, "traced_rounds": traced}


def _ratio(kind: str, bare: float, traced: float) -> float:
    if kind == BYTES:
        return traced - bare
    if kind == SPEEDUP:
        return bare / traced if traced else float("inf")
    return traced / bare if bare else float("inf")


def interleave(bare: Callable[[], float], traced: Callable[[], float], rounds: int, kind: str,
               warmup: int = 1, settle: Optional[Callable[[], Any]] = None) -> Dict[str, Any]:
    """Run ``rounds`` rounds of (bare, traced) with alternating order; each callable returns its figure.

    Figures are whatever the callables measure (ops/s for THROUGHPUT, seconds for TIME/SPEEDUP).
    ``settle``, when given, runs untimed after every run (warm-up included), so nothing one run left
    pending runs during the next. Returns the median figures, the ratio of those medians (the
    headline) and the min/median/max spread of the per-round ratios.
    """
    def run(side: Callable[[], float]) -> float:
        figure = side()
        if settle is not None:
            settle()
        return figure

    for _ in range(warmup):
        run(bare)
        run(traced)
    b_vals: List[float] = []
    t_vals: List[float] = []
    ratios: List[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            b = run(bare)
            t = run(traced)
        else:
            t = run(traced)
            b = run(bare)
        b_vals.append(b)
        t_vals.append(t)
        ratios.append(_ratio(kind, b, t))
    return {
        "bare": statistics.median(b_vals),
        "traced": statistics.median(t_vals),
        "ratio": _ratio(kind, statistics.median(b_vals), statistics.median(t_vals)),
        "spread": [min(ratios), statistics.median(ratios), max(ratios)],
        "rounds": rounds,
        "bare_rounds": b_vals,
        "traced_rounds": t_vals,
        "ratios": ratios,
    }


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def row(group: str, case: str, bare_label: str, traced_label: str, unit: str, kind: str,
        stats: Dict[str, Any], target: Optional[str] = None, note: str = "") -> Dict[str, Any]:
    """One result row; ``target`` like ">= 0.95" / "<= 1.10" / "== 0" checks the ratio."""
    r: Dict[str, Any] = {
        "group": group, "case": case, "bare_label": bare_label, "traced_label": traced_label,
        "unit": unit, "kind": kind, "bare": stats.get("bare"), "traced": stats.get("traced"),
        "ratio": stats.get("ratio"), "spread": stats.get("spread"), "rounds": stats.get("rounds"),
        "target": target, "status": check_target(stats.get("ratio"), target), "note": note,
    }
    for key in ("ratios", "bare_rounds", "traced_rounds", "extra", "wall"):
        if key in stats:
            r[key] = stats[key]
    return r


def check_target(ratio: Optional[float], target: Optional[str]) -> str:
    if not target:
        return "-"
    if ratio is None or not isinstance(ratio, (int, float)):
        return "MISS"
    parsed = parse_target(target)
    if parsed is None:
        return "-"
    op, v = parsed
    ok = {">=": ratio >= v, "<=": ratio <= v, "==": ratio == v}[op]
    return "PASS" if ok else "MISS"


def parse_target(target: str):
    """(op, value) from ">= 0.95", "ratio <= 0.5", "≤ 3"...; None when it cannot be read."""
    import re

    m = re.search(r"(<=|>=|==|≤|≥)\s*([-+]?[0-9]*\.?[0-9]+)", str(target))
    if not m:
        return None
    op = {"≤": "<=", "≥": ">="}.get(m.group(1), m.group(1))
    return op, float(m.group(2))


# --------------------------------------------------------------------------------------------------
# environment


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return "not installed"


def machine_info() -> Dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = "?"
    try:
        import subprocess
        here = os.path.dirname(os.path.abspath(__file__))
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
    except Exception:
        pass
    try:
        load = "%.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        load = "?"
    return {
        "commit": commit,
        "loadavg_at_end": load,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "thespian": _version("thespian"),
        "opentelemetry-api": _version("opentelemetry-api"),
        "opentelemetry-sdk": _version("opentelemetry-sdk"),
        "libcst": _version("libcst"),
        "thespian-trace": _version("thespian-trace"),
    }


# --------------------------------------------------------------------------------------------------
# output


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if unit == "B" or (isinstance(value, int) and not isinstance(value, bool)):
        return "%d" % value
    if unit == "s":
        if value < 1e-3:
            return "%.2f µs" % (value * 1e6)
        if value < 1:
            return "%.2f ms" % (value * 1e3)
        return "%.3f s" % value
    a = abs(value)
    if a >= 1000:
        return "{:,.0f}".format(value)
    if a >= 100:
        return "%.1f" % value
    return "%.3f" % value


def _fmt_ratio(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == BYTES:
        return "%+d B" % value
    if kind == SPEEDUP:
        return "%.1f×" % value
    return "%.3f" % value


def _fmt_target(target: Optional[str], kind: str) -> str:
    if not target:
        return "-"
    parsed = parse_target(target)
    if parsed is None:
        return str(target)
    op, num = parsed
    v = "%g" % num
    sym = {">=": "≥", "<=": "≤", "==": "="}.get(op, op)
    if kind == BYTES:
        return "%s %s B" % (sym, ("+" + v) if num > 0 else v)
    if kind == SPEEDUP:
        return "%s %s× cheaper" % (sym, v)
    return "%s %s" % (sym, v)


def markdown(rows: Sequence[Dict[str, Any]], info: Dict[str, Any], command: str,
             elapsed_s: Optional[float] = None, missing: Sequence[str] = (),
             notes: Sequence[str] = ()) -> str:
    out: List[str] = []
    out.append("Machine: %s, %s cores; %s; load average at the end %s (shared machine)" % (
        info["cpu"], info["cores"], info["platform"], info.get("loadavg_at_end", "?")))
    out.append("")
    out.append("Commit: %s. SDK: %s" % (info.get("commit", "?"), info.get("sdk", "?")))
    out.append("")
    out.append("Python %s, Thespian %s, opentelemetry-api %s, opentelemetry-sdk %s, LibCST %s" % (
        info["python"], info["thespian"], info["opentelemetry-api"], info["opentelemetry-sdk"],
        info["libcst"]))
    out.append("")
    out.append("Command: `%s`%s" % (command, "" if elapsed_s is None else
                                     " (whole run %.0f s)" % elapsed_s))
    out.append("")
    for name in missing:
        out.append("**%s**" % name)
        out.append("")
    for note in notes:
        out.append("Note: %s" % note)
        out.append("")
    groups: List[str] = []
    for r in rows:
        if r["group"] not in groups:
            groups.append(r["group"])
    for g in groups:
        out.append("### %s" % g)
        out.append("")
        out.append("| case | bare | traced | unit | ratio | spread (min / med / max) | rounds | target | |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if r["group"] != g:
                continue
            kind = r.get("kind", TIME)
            spread = r.get("spread")
            sp = "-" if not spread else " / ".join(_fmt_ratio(x, kind) for x in spread)
            case = r["case"] + (" (%s)" % r["note"] if r.get("note") else "")
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                case, _fmt(r.get("bare"), r.get("unit", "")), _fmt(r.get("traced"), r.get("unit", "")),
                r.get("unit", ""), _fmt_ratio(r.get("ratio"), kind), sp, r.get("rounds") or "-",
                _fmt_target(r.get("target"), kind), r.get("status", "-")))
        out.append("")
    return "\n".join(out)


def write_results(out_dir: str, rows: Sequence[Dict[str, Any]], info: Dict[str, Any], command: str,
                  elapsed_s: Optional[float] = None, missing: Sequence[str] = (),
                  notes: Sequence[str] = ()) -> Dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    md_path = os.path.join(out_dir, "bench.md")
    json_path = os.path.join(out_dir, "bench.json")
    with open(md_path, "w") as f:
        f.write(markdown(rows, info, command, elapsed_s, missing, notes) + "\n")
    with open(json_path, "w") as f:
        json.dump({"machine": info, "command": command, "elapsed_s": elapsed_s,
                   "missing": list(missing), "notes": list(notes), "rows": list(rows)}, f, indent=1,
                  default=str)
    return {"md": md_path, "json": json_path}
