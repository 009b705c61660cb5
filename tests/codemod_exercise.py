"""Run what the codemod wrote: import rewritten modules in a fresh interpreter and exercise their actors.

A rewrite that compiles can still fail at import (a base used before its import) or at run time (a
``traced_send`` on a class that did not become traced). :func:`exercise` imports the given modules in a
subprocess with Thespian and the real ``thespian_trace`` available (nothing stubbed), then, on
``base`` (``simpleSystemBase`` unless given; a fresh system per question), creates each listed actor, asks it a message and compares the answer, and evaluates
listed calls (``driver.run(1)``). Expressions are evaluated in the namespace of the scenario's module.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from conftest import LOG_DEFS  # the suite's quiet logDefs, for the multi-process bases

REPO = Path(__file__).resolve().parent.parent

_DRIVER = r'''
import importlib, json, sys
spec = json.loads(sys.argv[1])
out = {"imported": [], "answers": [], "calls": []}
for name in spec["modules"]:
    importlib.import_module(name)
    out["imported"].append(name)
if spec.get("tracing"):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
for c in spec.get("calls", []):
    ns = dict(vars(importlib.import_module(c["module"])))
    got = eval(c["call"], ns)
    exp = eval(c["expect"], ns)
    out["calls"].append([c["module"], c["call"], repr(got), repr(exp), got == exp])
from thespian.actors import ActorSystem
base = spec["base"]
extra = {} if base == "simpleSystemBase" else {"logDefs": spec["log_defs"]}
for a in spec.get("actors", []):
    # a system per question: answers an actor sends after the first would reach the next question
    asys = ActorSystem(base, transientUnique=True, **extra)
    try:
        ns = dict(vars(importlib.import_module(a["module"])))
        addr = asys.createActor(eval(a["cls"], ns))
        msg = eval(a["ask"], ns)
        if spec.get("tracing"):
            from thespian_trace import traced_ask
            with trace.get_tracer("exercise").start_as_current_span("request"):
                got = traced_ask(asys, addr, msg, a.get("timeout", 10))
        else:
            got = asys.ask(addr, msg, a.get("timeout", 10))
        exp = eval(a["expect"], ns)
        out["answers"].append([a["module"], a["cls"], repr(got), repr(exp), got == exp])
    finally:
        asys.shutdown()
if spec.get("tracing"):
    out["spans"] = [[s.name, format(s.context.trace_id, "032x"), format(s.context.span_id, "016x"),
                     format(s.parent.span_id, "016x") if s.parent else None]
                    for s in exporter.get_finished_spans()]
print(json.dumps(out))
'''


def exercise(roots: Sequence[Path], modules: Sequence[str], actors: Sequence[Dict[str, str]] = (),
             calls: Sequence[Dict[str, str]] = (), tracing: bool = False,
             extra_env: Optional[Dict[str, str]] = None, base: str = "simpleSystemBase") -> Dict[str, List]:
    """Import ``modules`` (found under ``roots``) in a subprocess, run the scenarios, return the results.

    Fails (AssertionError with the child's stderr) when an import fails or an answer differs.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(r) for r in roots] + [str(REPO)])
    env.pop("THESPIAN_TRACE_AUTOCONFIGURE", None)
    env.update(extra_env or {})
    spec = {"modules": list(modules), "actors": list(actors), "calls": list(calls), "tracing": tracing,
            "base": base, "log_defs": LOG_DEFS}
    p = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(spec)], capture_output=True, text=True,
                       timeout=180, env=env, cwd=str(roots[0]))
    assert p.returncode == 0, "rewritten code failed in a fresh interpreter:\n" + p.stderr[-4000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["imported"] == list(modules)
    wrong = [r for r in out["answers"] + out["calls"] if not r[-1]]
    assert not wrong, "unexpected answers (module, actor/call, got, expected): %r" % wrong
    return out
