"""The env-var-only SDK path for processes that do not inherit a tracer provider."""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import free_port
from thespian_trace.testing import OTLPReceiver

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from opentelemetry import trace
    import thespian_trace
    from thespian_trace import traced_ask
    from thespian.actors import ActorSystem
    import tt_actors as ta
    print("provider", type(trace.get_tracer_provider()).__name__)
    import gc
    from thespian_trace.forksafe import ForkSafeSession
    print("forksafe", any(isinstance(o, ForkSafeSession) for o in gc.get_objects()))
    base = {base!r}
    caps = {{"Admin Port": {port}}} if base == "multiprocTCPBase" else {{}}
    logdefs = {{"version": 1, "root": {{"level": "CRITICAL", "handlers": []}}}}
    asys = ActorSystem(base, caps, logDefs=logdefs, transientUnique=True)
    try:
        print("reply", type(traced_ask(asys, asys.createActor(ta.Front), ta.Ping(1), 5)).__name__)
    finally:
        asys.shutdown()
    thespian_trace.flush()
    print("carriers_built", thespian_trace.stats()["carriers_built"])
""")


def _run(env_extra, base="simpleSystemBase"):
    env = dict(os.environ, **env_extra)
    code = SCRIPT.format(tests=os.path.dirname(__file__), base=base, port=free_port())
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)


def test_autoconfigure_exports_over_otlp_from_env_alone():
    with OTLPReceiver() as rx:
        out = _run({"THESPIAN_TRACE_AUTOCONFIGURE": "otlp",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint,
                    "OTEL_SERVICE_NAME": "autoconf-test"})
        assert out.returncode == 0, out.stderr
        assert "provider TracerProvider" in out.stdout
        assert "forksafe True" in out.stdout  # actors forked mid-export keep their spans
        assert "reply Pong" in out.stdout
        spans = rx.wait_for(count=3, timeout=10)
        assert {s.name for s in spans} >= {"ask Ping", "process Front", "process Hop"}
        assert all(s.resource.get("service.name") == "autoconf-test" for s in spans)


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocTCPBase"])
def test_without_sdk_everything_works_and_no_span_is_made(base):
    out = _run({"THESPIAN_TRACE_AUTOCONFIGURE": "0"}, base)
    assert out.returncode == 0, out.stderr
    assert "provider ProxyTracerProvider" in out.stdout
    assert "reply Pong" in out.stdout
    # The API no-op span is never sampled, so no context is ever injected or sent.
    assert "carriers_built 0" in out.stdout
