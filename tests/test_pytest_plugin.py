"""The pytest plugin (``pytest_thespian_trace``, entry point ``pytest11``), as a user's project meets it.

Each test writes a throwaway project into ``tmp_path`` (test files only, no conftest) and runs pytest on
it in a subprocess with the interpreter of this venv, where the package is installed: the plugin is
found through its entry point, exactly as in a project that did ``pip install thespian-trace``.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import leakcheck

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _processes_mentioning(text):
    """PIDs of live processes whose command line contains ``text`` (zombies excluded)."""
    needle, found = text.encode(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read()
            with open("/proc/%s/stat" % entry) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z":
            found.append(int(entry))
    return found


def run_project(tmp_path, files, *args, timeout=180):
    """Write ``files`` (name -> source) into ``tmp_path`` and run pytest there; the CompletedProcess.

    Actor-system processes forked by that run carry its command line (which names ``tmp_path``): any
    still alive 10 s after it ended are killed by PID and fail the calling test.
    """
    for name, source in files.items():
        with open(os.path.join(str(tmp_path), name), "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(source))
    assert not [n for n in os.listdir(str(tmp_path)) if n == "conftest.py"]
    # A user's clean environment, except the test session's token (leakcheck.py): the session's own
    # leak check then also sees whatever the throwaway project leaves.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("THESPIAN_TRACE_", "OTEL_", "PYTEST_")) or k == leakcheck.ENV_VAR}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path),
           str(tmp_path)] + list(args)
    try:
        return subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True,
                              timeout=timeout)
    finally:
        deadline = time.monotonic() + 10
        while _processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.2)
        leaked = _processes_mentioning(str(tmp_path))
        for pid in leaked:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        assert not leaked, "processes of the throwaway project outlived it (killed): %r" % leaked


def test_plugin_module_imports_neither_thespian_trace_nor_the_sdk():
    code = ("import sys, pytest_thespian_trace\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'thespian_trace'"
            " or m.startswith('opentelemetry')))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout


def test_loading_the_plugin_through_pytest_imports_nothing_until_a_fixture_is_used(tmp_path):
    res = run_project(tmp_path, {"test_lazy.py": """
        import sys

        def loaded():
            return sorted(m for m in sys.modules
                          if m.split(".")[0] == "thespian_trace" or m.startswith("opentelemetry.sdk"))

        def test_1_plugin_loaded_but_nothing_imported(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("thespian_trace")
            assert "pytest_thespian_trace" in sys.modules
            assert loaded() == []

        def test_2_the_fixture_imports_them(thespian_spans):
            assert "thespian_trace" in loaded() and "opentelemetry.sdk.trace" in loaded()
    """})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout, res.stdout


def test_thespian_spans_holds_the_spans_of_its_test_only(tmp_path):
    """Records are SpanRecords, the helpers work on them, and nothing crosses into the next test."""
    res = run_project(tmp_path, {"test_spans.py": """
        from thespian.actors import ActorSystem
        from thespian_trace import TracedActor, traced_ask
        from thespian_trace.testing import SpanRecord


        class Echo(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, msg)


        def ask_once():
            asys = ActorSystem("simpleSystemBase", transientUnique=True)
            try:
                assert traced_ask(asys, asys.createActor(Echo), "hi", 5) == "hi"
            finally:
                asys.shutdown()


        def test_1_records(thespian_spans):
            ask_once()
            records = thespian_spans.records()
            assert sorted(r.name for r in records) == ["ask str", "process Echo"]
            assert all(isinstance(r, SpanRecord) for r in records)
            (ask,) = thespian_spans.spans_named("ask str")
            assert [r.name for r in thespian_spans.children_of(ask)] == ["process Echo"]
            assert thespian_spans.assert_single_trace() == ask.trace_id
            assert len(thespian_spans.build_trees()) == 1
            assert "process Echo [CONSUMER]" in thespian_spans.format_tree()


        def test_2_spans_of_an_earlier_test_are_gone(thespian_spans):
            assert thespian_spans.records() == []


        def test_3_spans_made_without_the_fixture():
            ask_once()


        def test_4_are_not_collected(thespian_spans):
            assert thespian_spans.records() == []
            ask_once()
            assert len(thespian_spans.records()) == 2
            thespian_spans.clear()
            assert thespian_spans.records() == []
    """})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 passed" in res.stdout, res.stdout


def test_thespian_otlp_receiver_collects_spans_of_forked_actor_processes(tmp_path):
    """multiprocTCPBase: the actor's CONSUMER span is made in its own process and still arrives; the
    receiver starts each test empty."""
    res = run_project(tmp_path, {"test_receiver.py": """
        import os
        import socket

        from thespian.actors import ActorSystem
        from thespian_trace import TracedActor, traced_ask
        from thespian_trace.testing import assert_chain, spans_named


        class Pid(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, os.getpid())


        def free_port():
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                return s.getsockname()[1]


        def test_1_spans_from_another_process(thespian_otlp_receiver):
            asys = ActorSystem("multiprocTCPBase", {"Admin Port": free_port()}, transientUnique=True)
            try:
                actor_pid = traced_ask(asys, asys.createActor(Pid), "pid?", 10)
            finally:
                asys.shutdown()
            assert actor_pid != os.getpid()
            spans = thespian_otlp_receiver.wait_for(lambda s: assert_chain(s, ["ask str", "process Pid"]))
            (ask,) = spans_named(spans, "ask str")
            (process,) = spans_named(spans, "process Pid")
            assert process.parent_span_id == ask.span_id


        def test_2_starts_empty(thespian_otlp_receiver):
            assert thespian_otlp_receiver.spans() == []
    """})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout, res.stdout
