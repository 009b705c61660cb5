"""Issue 16: the codemod and migration-check on code shaped like the real codebases that broke them.

Each test writes a small tree the way real Thespian projects and test suites are written, runs the tools
on it, checks the output, and runs what the codemod wrote in a fresh interpreter (``codemod_exercise``).
"""
from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path
from typing import Dict

import pytest

from codemod import check
from codemod.analysis import analyze_paths
from codemod.cli import run_codemod
from codemod_exercise import exercise


def write(root: Path, files: Dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def codemod(*paths, **kw):
    err = io.StringIO()
    kw.setdefault("jobs", 1)
    code, summary = run_codemod([str(p) for p in paths], out=io.StringIO(), err=err, **kw)
    return code, summary, err.getvalue()


def findings(*paths, **kw):
    return check.collect([str(p) for p in paths], **kw)


def codes(collected):
    return sorted(f.code for f in collected.findings)


# ------------------------------------------------------------------------------------------------
# item 2: imports that continue below the classes (real test suites)
# ------------------------------------------------------------------------------------------------
SUITE = {"echo_suite.py": '''
    """Tests for echoing actors (as Thespian's own test modules are written)."""
    from thespian.actors import *
    import time


    class Echo(ActorTypeDispatcher):
        def receiveMsg_str(self, msg, sender):
            self.send(sender, "echo " + msg)


    class Counter(Actor):
        def receiveMessage(self, msg, sender):
            if isinstance(msg, int):
                self.send(sender, msg + 1)


    def answer_of(asys, cls, msg):
        return asys.ask(asys.createActor(cls), msg, 5)


    import tempfile, zipfile  # late imports, below the classes, as in real suites


    def make_archive():
        return zipfile.ZipFile(tempfile.mktemp(suffix=".zip"), "w")
    ''',
    "guarded.py": '''
    """Thespian imported under a guard: no top-level thespian import to anchor the new one."""
    try:
        from thespian.actors import ActorTypeDispatcher
    except ImportError:  # pragma: no cover
        raise SystemExit("needs thespian")
    import os


    class Paths(ActorTypeDispatcher):
        def receiveMsg_str(self, msg, sender):
            self.send(sender, os.path.basename(msg))


    import json  # late
    '''}


def test_late_imports_new_import_goes_before_first_use(tmp_path):
    write(tmp_path, SUITE)
    code, s, err = codemod(tmp_path)
    assert code == 0, err
    text = (tmp_path / "echo_suite.py").read_text()
    lines = text.splitlines()
    assert lines[1] == "from thespian.actors import *"
    assert lines[2] == "from thespian_trace import TracedActor, TracedPlainActor"
    assert "class Echo(TracedActor):" in text and "class Counter(TracedPlainActor):" in text
    guarded = (tmp_path / "guarded.py").read_text()
    assert "    raise SystemExit(\"needs thespian\")\nimport os\nfrom thespian_trace import TracedActor\n" in guarded
    assert s.sends == 3 and s.rebased == 3 and s.changed == 2
    exercise([tmp_path], ["echo_suite", "guarded"], actors=[
        {"module": "echo_suite", "cls": "Echo", "ask": "'hi'", "expect": "'echo hi'"},
        {"module": "echo_suite", "cls": "Counter", "ask": "41", "expect": "42"},
        {"module": "guarded", "cls": "Paths", "ask": "'/a/b.txt'", "expect": "'b.txt'"},
    ])


def test_rewrite_that_would_use_a_name_before_its_binding_is_refused(tmp_path):
    """The module already imports TracedActor, but late: rebasing the class above would break import."""
    src = textwrap.dedent('''
        from thespian.actors import ActorTypeDispatcher


        class Echo(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, msg)


        from thespian_trace import TracedActor  # late: only used by the factory below


        def traced_base():
            return TracedActor
        ''').lstrip()
    (tmp_path / "late_runtime.py").write_text(src)
    code, s, err = codemod(tmp_path)
    assert code == 1 and s.failed == 1 and s.changed == 0
    assert "would use TracedActor at line 4 before it is bound (line 9); file left unchanged" in err
    assert (tmp_path / "late_runtime.py").read_text() == src  # never written
    exercise([tmp_path], ["late_runtime"], actors=[
        {"module": "late_runtime", "cls": "Echo", "ask": "'x'", "expect": "'x'"}])


# ------------------------------------------------------------------------------------------------
# item 3: virtualenvs, site-packages and build trees are not rewritten unless asked
# ------------------------------------------------------------------------------------------------
ACTOR = '''
    from thespian.actors import ActorTypeDispatcher


    class Worker(ActorTypeDispatcher):
        def receiveMsg_str(self, msg, sender):
            self.send(sender, msg.upper())
    '''


def _project_with_environments(root: Path) -> None:
    write(root, {
        "app/__init__.py": "",
        "app/worker.py": ACTOR,
        "app/build/__init__.py": "",            # a source package that happens to be called build
        "app/build/steps.py": ACTOR,
        "tools-env/pyvenv.cfg": "home = /usr/bin\n",  # a virtualenv not named .venv/venv
        "tools-env/lib/python3.11/site-packages/vendored/actors.py": ACTOR,
        "build/lib/app/worker.py": ACTOR,       # setuptools build tree
        "vendor/site-packages/other/actors.py": ACTOR,
    })


def test_virtualenv_site_packages_and_build_trees_are_skipped_and_reported(tmp_path):
    _project_with_environments(tmp_path)
    # migration-check skips the same trees and says so
    got = findings(tmp_path)
    assert {f.path.split("/")[-1] for f in got.findings} == {"worker.py", "steps.py"}
    assert sorted(os.path.basename(sk.path) for sk in got.skipped) == ["build", "site-packages", "tools-env"]
    before = {p: p.read_text() for p in tmp_path.rglob("*.py")}
    code, s, err = codemod(tmp_path)
    assert code == 0, err
    changed = sorted(str(p.relative_to(tmp_path)) for p in before if p.read_text() != before[p])
    assert changed == ["app/build/steps.py", "app/worker.py"]
    assert "skipped: %s (virtualenv (has pyvenv.cfg); pass --no-default-excludes to include it)" \
        % (tmp_path / "tools-env") in err
    assert "skipped: %s (build tree (build/ outside any package)" % (tmp_path / "build") in err
    assert "skipped: %s (installed packages (site-packages)" % (tmp_path / "vendor/site-packages") in err
    assert "3 folders skipped" in err


def test_explicit_path_inside_a_virtualenv_is_refused_unless_asked(tmp_path):
    _project_with_environments(tmp_path)
    inside = tmp_path / "tools-env/lib/python3.11/site-packages/vendored"
    code, s, err = codemod(inside)
    assert code == 0 and s.changed == 0
    assert "skipped: %s (inside virtualenv %s; pass --no-default-excludes to include it)" % (
        inside, tmp_path / "tools-env") in err
    code, s, err = codemod(tmp_path, default_excludes=False)
    assert code == 0 and s.changed == 5, err  # asked: every tree is rewritten
    assert "self.traced_send" in (inside / "actors.py").read_text()


# ------------------------------------------------------------------------------------------------
# item 4: timers keep the trace (wakeupAfter -> traced_wakeup_after)
# ------------------------------------------------------------------------------------------------
LOADGEN = {"loadgen.py": '''
    """A load generator driven by timers, as in a benchmark driver."""
    from datetime import timedelta

    from thespian.actors import ActorTypeDispatcher, WakeupMessage


    class Start:
        def __init__(self, ticks):
            self.ticks = ticks


    class LoadGen(ActorTypeDispatcher):
        def receiveMsg_Start(self, msg, sender):
            self.requester, self.left, self.sent = sender, msg.ticks, 0
            self.wakeupAfter(timedelta(milliseconds=5), payload="tick")

        def receiveMsg_WakeupMessage(self, msg, sender):
            self.left -= 1
            self.sent += 1
            if self.left > 0:
                self.wakeupAfter(timedelta(milliseconds=5), msg.payload)
            else:
                self.send(self.requester, ("done", self.sent, msg.payload))
    '''}


def test_wakeups_are_rewritten_and_the_trace_continues_through_them(tmp_path):
    write(tmp_path, LOADGEN)
    assert codes(findings(tmp_path)) == ["TT001", "TT002", "TT009", "TT009"]
    code, s, err = codemod(tmp_path)
    assert code == 0, err
    text = (tmp_path / "loadgen.py").read_text()
    assert text.count("self.traced_wakeup_after(timedelta(milliseconds=5)") == 2 and "wakeupAfter" not in text
    assert s.sends == 1 and s.wakeups == 2 and "1 sends rewritten (and 2 wakeups)" in err
    assert codes(findings(tmp_path)) == []
    out = exercise([tmp_path], ["loadgen"], tracing=True, actors=[
        {"module": "loadgen", "cls": "LoadGen", "ask": "Start(3)", "expect": "('done', 3, 'tick')"}])
    spans = out["spans"]
    handled = [sp for sp in spans if sp[0] != "request"]
    request = [sp for sp in spans if sp[0] == "request"]
    assert len(request) == 1 and len(handled) >= 4  # Start + three wakeups
    assert {sp[1] for sp in handled} == {request[0][1]}, spans  # one trace: the timers did not start new ones


# ------------------------------------------------------------------------------------------------
# item 5: decorator closures and helper objects
# ------------------------------------------------------------------------------------------------
DECORATED = {
    "svc/__init__.py": "",
    "svc/guards.py": '''
        import functools


        def no_retry(f):
            """Refuse retried jobs before the handler runs."""
            @functools.wraps(f)
            def guard(self, msg, sender):
                if getattr(msg, "retry", False):
                    self.send(sender, "no retries")
                    return None
                return f(self, msg, sender)
            return guard
        ''',
    "svc/workers.py": '''
        from thespian.actors import ActorTypeDispatcher

        from svc.guards import no_retry


        class Job:
            def __init__(self, retry=False):
                self.retry = retry


        class Worker(ActorTypeDispatcher):
            @no_retry
            def receiveMsg_Job(self, msg, sender):
                self.send(sender, "done")
        ''',
}


def test_decorator_closure_applied_to_actor_methods_is_rewritten(tmp_path):
    write(tmp_path, DECORATED)
    before = findings(tmp_path)
    assert [(f.code, f.path.split("/")[-1]) for f in before.findings if f.code == "TT001"] == [
        ("TT001", "guards.py"), ("TT001", "workers.py")]
    code, s, err = codemod(tmp_path)
    assert code == 0 and s.sends == 2, err
    assert 'self.traced_send(sender, "no retries")' in (tmp_path / "svc/guards.py").read_text()
    after = findings(tmp_path)
    assert after.findings == [] and check.total_stats(after.stats).coverage == 100.0
    exercise([tmp_path], ["svc.workers"], actors=[
        {"module": "svc.workers", "cls": "Worker", "ask": "Job(retry=True)", "expect": "'no retries'"},
        {"module": "svc.workers", "cls": "Worker", "ask": "Job()", "expect": "'done'"},
    ])


def test_decorator_also_used_on_a_non_actor_is_reported_not_rewritten(tmp_path):
    files = dict(DECORATED)
    files["svc/jobs.py"] = '''
        from svc.guards import no_retry


        class LocalRunner:
            @no_retry
            def run(self, msg, sender):
                return "ran"
        '''
    write(tmp_path, files)
    code, s, err = codemod(tmp_path)
    assert code == 0
    assert 'self.send(sender, "no retries")' in (tmp_path / "svc/guards.py").read_text()
    assert "decorator no_retry is also applied to LocalRunner.run" in err
    tt004 = [f for f in findings(tmp_path).findings if f.code == "TT004"]
    assert len(tt004) == 1 and tt004[0].path.endswith("svc/guards.py") and "LocalRunner.run" in tt004[0].message


HELPERS = {
    "pinger.py": '''
        from thespian.actors import ActorTypeDispatcher


        class Pinger:
            """Holds the actor and sends on its behalf."""

            def __init__(self, actor, target):
                self.actor = actor
                self.target = target

            def ping(self, n):
                self.actor.send(self.target, ("ping", n))


        def notify(actor, to, text):
            actor.send(to, text)


        class Driver(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                Pinger(self, sender).ping(1)

            def receiveMsg_int(self, msg, sender):
                notify(self, sender, "n=%d" % msg)


        class Pipe:
            def __init__(self, conn):
                self.conn = conn

            def push(self, data):
                self.conn.send(data, 0)  # a socket-like object: not an actor, not reported
        ''',
}


def test_sends_through_helper_objects_are_unknown_and_never_counted_as_traced(tmp_path):
    write(tmp_path, HELPERS)
    code, s, err = codemod(tmp_path)
    assert code == 0 and s.rebased == 1 and s.sends == 0
    assert len(s.unknown) == 2 and "held by Pinger" in err and "passed to notify()" in err
    got = findings(tmp_path)
    tt008 = [f for f in got.findings if f.code == "TT008"]
    assert [(f.cls, f.method) for f in tt008] == [("Pinger", "ping"), ("-", "notify")]
    total = check.total_stats(got.stats)
    assert total.unknown == 2 and total.traced == 0 and total.coverage == 0.0
    out = check.render_text(check.Report(findings=got.findings, ratchet=check.Ratchet(new=got.findings),
                                         stats=got.stats))
    assert "100% traced" not in out and "(2 unknown, counted as not traced)" in out
    exercise([tmp_path], ["pinger"], actors=[
        {"module": "pinger", "cls": "Driver", "ask": "'go'", "expect": "('ping', 1)"},
        {"module": "pinger", "cls": "Driver", "ask": "7", "expect": "'n=7'"},
    ])


# ------------------------------------------------------------------------------------------------
# item 6: no false findings for function-local imports and stacked star imports
# ------------------------------------------------------------------------------------------------
def test_base_imported_inside_a_function_is_resolved(tmp_path):
    write(tmp_path, {"encoders.py": '''
        def make_encoder():
            from json import JSONEncoder

            class SetEncoder(JSONEncoder):
                def default(self, o):
                    return sorted(o) if isinstance(o, set) else super().default(o)

            return SetEncoder


        def make_actor():
            from thespian.actors import ActorTypeDispatcher as Base

            class Local(Base):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)

            return Local
        '''})
    got = findings(tmp_path)
    assert codes(got) == ["TT001", "TT002"]  # the local actor is found; JSONEncoder is not "unresolved"
    code, s, err = codemod(tmp_path)
    assert code == 0 and s.sends == 1 and s.rebased == 1, err
    exercise([tmp_path], ["encoders"], actors=[
        {"module": "encoders", "cls": "make_actor()", "ask": "'x'", "expect": "'x'"}],
        calls=[{"module": "encoders", "call": "__import__('json').dumps({1, 2}, cls=make_encoder())",
                "expect": "'[1, 2]'"}])


def test_two_star_imports_resolve_through_the_module_that_defines_the_name(tmp_path):
    write(tmp_path, {
        "proj/__init__.py": "",
        "proj/common.py": '''
            from plugin_host import *  # a third-party module the analysis does not see
            from proj.base import ShopActor


            def fmt(x):
                return str(x)
            ''',
        "proj/base.py": '''
            from thespian.actors import ActorTypeDispatcher


            class ShopActor(ActorTypeDispatcher):
                pass
            ''',
        "proj/shop.py": '''
            from thespian.actors import *
            from proj.common import *


            class Till(ActorTypeDispatcher):
                def receiveMsg_int(self, msg, sender):
                    self.send(sender, fmt(msg))


            class Front(ShopActor):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)


            class Ghost(NotDefinedAnywhere):
                pass
            ''',
    })
    got = findings(tmp_path)
    tt007 = [f for f in got.findings if f.code == "TT007"]
    assert [f.message.split("`")[1] for f in tt007] == ["NotDefinedAnywhere"]
    assert "may come from star import of plugin_host" in tt007[0].message
    repo = analyze_paths([str(tmp_path)])
    assert repo.class_by_qualname("proj.shop.Till").is_actor and repo.class_by_qualname("proj.shop.Front").is_actor


# ------------------------------------------------------------------------------------------------
# item 7: external entry points from `-> ActorSystem` functions and attributes
# ------------------------------------------------------------------------------------------------
EXTERNAL = {
    "shopfront/__init__.py": "",
    "shopfront/actors.py": '''
        from thespian.actors import ActorTypeDispatcher


        class Orders(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, "order " + msg)
        ''',
    "shopfront/system.py": '''
        import thespian.actors
        from thespian.actors import ActorSystem


        def make_system() -> ActorSystem:
            # An ActorSystem by its annotation only: the analysis cannot see what getattr returns.
            start = getattr(thespian.actors, "ActorSystem")
            return start("simpleSystemBase", transientUnique=True)


        def make_untyped():
            return ActorSystem("simpleSystemBase", transientUnique=True)
        ''',
    "shopfront/web.py": '''
        from shopfront import system
        from shopfront.actors import Orders
        from shopfront.system import make_system, make_untyped


        class Client:
            def __init__(self):
                self.asys = make_system()
                self.orders = self.asys.createActor(Orders)

            def order(self, item):
                return self.asys.ask(self.orders, item, 5)

            def close(self):
                self.asys.shutdown()


        def place(item):
            client = Client()
            try:
                return client.order(item)
            finally:
                client.close()


        def notify(item):
            asys = make_untyped()
            try:
                orders = asys.createActor(Orders)
                asys.tell(orders, item)
                return asys.ask(orders, item, 5)
            finally:
                asys.shutdown()


        def via_module(item):
            asys = system.make_system()
            try:
                return asys.ask(asys.createActor(Orders), item, 5)
            finally:
                asys.shutdown()
        ''',
}


def test_external_calls_from_annotated_factories_and_attributes(tmp_path):
    write(tmp_path, EXTERNAL)
    tt003 = [f for f in findings(tmp_path).findings if f.code == "TT003"]
    assert [(f.method, f.message.split("`")[1]) for f in tt003] == [
        ("Client.order", "self.asys.ask(...)"), ("notify", "asys.tell(...)"), ("notify", "asys.ask(...)"),
        ("via_module", "asys.ask(...)")]
    code, s, err = codemod(tmp_path, external=True)
    assert code == 0 and s.externals == 4, err
    web = (tmp_path / "shopfront/web.py").read_text()
    assert "return traced_ask(self.asys, self.orders, item, 5)" in web
    assert "traced_tell(asys, orders, item)" in web
    assert [f.code for f in findings(tmp_path).findings] == []
    exercise([tmp_path], ["shopfront.web"], calls=[
        {"module": "shopfront.web", "call": "place('tea')", "expect": "'order tea'"},
        {"module": "shopfront.web", "call": "notify('jam')", "expect": "'order jam'"},
        {"module": "shopfront.web", "call": "via_module('oil')", "expect": "'order oil'"},
    ])


# ------------------------------------------------------------------------------------------------
# item 9: batches: analyse the whole repository, rewrite only the paths given
# ------------------------------------------------------------------------------------------------
BATCH = {
    "shop/__init__.py": "",
    "shop/base.py": '''
        from thespian.actors import ActorTypeDispatcher


        class ShopActor(ActorTypeDispatcher):
            def reply(self, to, msg):
                self.send(to, msg)
        ''',
    "shop/orders.py": '''
        from shop.base import ShopActor


        class OrderActor(ShopActor):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, "accepted " + msg)
        ''',
    "shop/billing.py": '''
        from shop.base import ShopActor


        class Billing(ShopActor):
            def receiveMsg_int(self, msg, sender):
                self.reply(sender, msg * 2)
        ''',
}


def test_batch_whose_base_lives_outside_is_deferred_then_migrated(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, BATCH)
    orders = tmp_path / "shop/orders.py"
    # the check on the batch alone resolves the base through the repository and names both files
    got = findings(orders)
    assert [f.code for f in got.findings] == ["TT001"] and got.context_files == 3
    assert got.findings[0].fix == "thespian-trace codemod %s %s" % (
        os.path.relpath(orders).replace(os.sep, "/") if not os.path.relpath(orders).startswith("..") else orders,
        os.path.relpath(tmp_path / "shop/base.py") if not os.path.relpath(orders).startswith("..")
        else tmp_path / "shop/base.py")
    # batch 1 = orders.py alone: its send would break (ShopActor is not traced yet): deferred, said so
    code, s, err = codemod(orders)
    assert code == 0 and s.changed == 0 and len(s.deferred) == 1
    assert "deferred: the class of OrderActor.receiveMsg_str becomes traced only when %s is rewritten" \
        % (tmp_path / "shop/base.py") in err
    assert "analysed 3 more files under %s (repository root)" % tmp_path in err
    # batch 2 = the base: rebased (its own send too); batch 3 = orders.py: now rewritten
    code, s, err = codemod(tmp_path / "shop/base.py")
    assert code == 0 and s.rebased == 1 and s.sends == 1, err
    code, s, err = codemod(orders)
    assert code == 0 and s.sends == 1 and not s.deferred, err
    assert "self.traced_send(sender" in orders.read_text()
    assert "self.send" not in orders.read_text()
    exercise([tmp_path], ["shop.orders", "shop.billing"], actors=[
        {"module": "shop.orders", "cls": "OrderActor", "ask": "'tea'", "expect": "'accepted tea'"},
        {"module": "shop.billing", "cls": "Billing", "ask": "21", "expect": "42"},
    ])


def test_a_file_that_relies_on_a_failed_rewrite_is_not_written(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, BATCH)
    base = tmp_path / "shop/base.py"
    os.chmod(base, 0o444)  # the base cannot be rewritten
    before = (tmp_path / "shop/orders.py").read_text()
    try:
        code, s, err = codemod(tmp_path / "shop")
    finally:
        os.chmod(base, 0o644)
    assert code == 1
    assert "read-only file" in err
    assert "not rewritten: its traced sends rely on %s, which could not be rewritten" % base in err
    assert (tmp_path / "shop/orders.py").read_text() == before
    exercise([tmp_path], ["shop.orders"], actors=[
        {"module": "shop.orders", "cls": "OrderActor", "ask": "'tea'", "expect": "'accepted tea'"}])


@pytest.mark.parametrize("flag", ["--root", "default"])
def test_root_flag_limits_what_is_analysed(tmp_path, flag):
    (tmp_path / ".git").mkdir()
    write(tmp_path, BATCH)
    kw = {"root": str(tmp_path / "shop")} if flag == "--root" else {}
    got = findings(tmp_path / "shop/orders.py", **kw)
    assert got.root == str(tmp_path / "shop" if flag == "--root" else tmp_path)
    assert [f.code for f in got.findings] == ["TT001"]
