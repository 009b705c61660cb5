"""Unit tests for the codemod: one pattern per test, positive and negative."""
from __future__ import annotations

import datetime
import io
import textwrap
from pathlib import Path
from typing import Dict, Tuple

from codemod.analysis import analyze_paths, analyze_sources, parse_optout
from codemod.cli import Summary, run_codemod


def _write(root: Path, files: Dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def run(tmp_path: Path, files: Dict[str, str], external: bool = False) -> Tuple[Dict[str, str], Summary]:
    """Write ``files``, run the codemod in-process, return new contents and the summary."""
    _write(tmp_path, files)
    code, summary = run_codemod([str(tmp_path)], jobs=1, external=external, out=io.StringIO(),
                                err=io.StringIO())
    assert code == 0, summary.failures
    out = {rel: (tmp_path / rel).read_text(encoding="utf-8") for rel in files}
    for rel, text in out.items():
        compile(text, rel, "exec")  # a rewritten file always compiles
    # idempotent: a second run changes nothing
    code2, s2 = run_codemod([str(tmp_path)], jobs=1, external=external, out=io.StringIO(), err=io.StringIO())
    assert code2 == 0 and s2.changed == 0
    assert {rel: (tmp_path / rel).read_text(encoding="utf-8") for rel in files} == out
    return out, summary


def dd(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")


# ------------------------------------------------------------------------------------------------
# rewrites
# ------------------------------------------------------------------------------------------------
def test_dispatcher_send_base_and_import(tmp_path):
    out, s = run(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher


        class Greeter(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, "hello " + msg)
        """})
    assert out["a.py"] == dd("""
        from thespian_trace import TracedActor


        class Greeter(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, "hello " + msg)
        """)
    assert (s.sends, s.rebased, s.changed) == (1, 1, 1)


def test_alias_import_keeps_other_names(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher as ATD, ActorExitRequest


        class A(ATD):
            def receiveMsg_ActorExitRequest(self, msg, sender):
                self.send(sender, ActorExitRequest())
        """})
    assert out["a.py"].startswith("from thespian.actors import ActorExitRequest\n"
                                  "from thespian_trace import TracedActor\n")
    assert "class A(TracedActor):" in out["a.py"]
    assert "ATD" not in out["a.py"]


def test_module_alias_import_removed_when_unused(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        import thespian.actors as ta


        class A(ta.ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, msg)
        """})
    assert "import thespian.actors as ta" not in out["a.py"]
    assert "class A(TracedActor):" in out["a.py"]


def test_module_import_kept_when_still_used(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        import thespian.actors


        class A(thespian.actors.ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, thespian.actors.ActorExitRequest())
        """})
    assert out["a.py"].startswith("import thespian.actors\nfrom thespian_trace import TracedActor\n")
    assert "class A(TracedActor):" in out["a.py"]


def test_dispatcher_import_kept_when_used_elsewhere(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher


        class A(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, isinstance(self, ActorTypeDispatcher))
        """})
    assert "from thespian.actors import ActorTypeDispatcher\n" in out["a.py"]
    assert "class A(TracedActor):" in out["a.py"]


def test_dispatcher_import_kept_when_in_dunder_all_or_reexported(tmp_path):
    out, _ = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": """
            from thespian.actors import ActorTypeDispatcher

            __all__ = ["ActorTypeDispatcher", "A"]


            class A(ActorTypeDispatcher):
                pass
            """,
        "pkg/b.py": """
            from thespian.actors import ActorTypeDispatcher


            class B(ActorTypeDispatcher):
                pass
            """,
        "pkg/c.py": """
            from pkg.b import ActorTypeDispatcher


            class C(ActorTypeDispatcher):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)
            """})
    assert "from thespian.actors import ActorTypeDispatcher" in out["pkg/a.py"]
    assert "from thespian.actors import ActorTypeDispatcher" in out["pkg/b.py"]  # re-exported to c
    assert "class C(TracedActor):" in out["pkg/c.py"]


def test_star_import_base(tmp_path):
    out, _ = run(tmp_path, {"a.py": '''
        """Doc."""
        from thespian.actors import *


        class A(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, msg)
        '''})
    assert out["a.py"] == dd('''
        """Doc."""
        from thespian.actors import *
        from thespian_trace import TracedActor


        class A(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, msg)
        ''')


def test_plain_actor_with_receive_message(tmp_path):
    out, s = run(tmp_path, {"a.py": """
        from thespian.actors import Actor


        class Echo(Actor):
            def receiveMessage(self, msg, sender):
                self.send(sender, msg)
        """})
    assert "from thespian_trace import TracedPlainActor\n" in out["a.py"]
    assert "class Echo(TracedPlainActor):" in out["a.py"]
    assert "from thespian.actors" not in out["a.py"]
    assert "self.traced_send(sender, msg)" in out["a.py"]


def test_existing_trace_import_is_extended(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        from thespian.actors import Actor
        from thespian_trace import TracedActor


        class A(TracedActor):
            pass


        class B(Actor):
            def receiveMessage(self, msg, sender):
                self.send(sender, msg)
        """})
    assert "from thespian_trace import TracedActor, TracedPlainActor\n" in out["a.py"]
    assert out["a.py"].count("thespian_trace") == 1


def test_existing_aliased_trace_import_is_reused(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher
        from thespian_trace import TracedActor as TA


        class B(ActorTypeDispatcher):
            pass
        """})
    assert "class B(TA):" in out["a.py"]
    assert "import TracedActor as TA\n" in out["a.py"]
    assert "ActorTypeDispatcher" not in out["a.py"]


def test_project_base_rebased_once_subclasses_left_alone(tmp_path):
    out, s = run(tmp_path, {
        "app/__init__.py": "",
        "app/base.py": """
            from thespian.actors import ActorTypeDispatcher


            class Base(ActorTypeDispatcher):
                pass
            """,
        "app/worker.py": """
            from app.base import Base


            class Worker(Base):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)


            class Sub(Worker):
                pass
            """})
    assert "class Base(TracedActor):" in out["app/base.py"]
    assert "class Worker(Base):" in out["app/worker.py"]
    assert "class Sub(Worker):" in out["app/worker.py"]
    assert "thespian_trace" not in out["app/worker.py"]
    assert "self.traced_send(sender, msg)" in out["app/worker.py"]
    assert s.rebased == 1


def test_relative_import_and_alias_and_star_reexport(tmp_path):
    out, _ = run(tmp_path, {
        "app/__init__.py": "",
        "app/base.py": """
            import thespian.actors as ta
            class Base(ta.ActorTypeDispatcher):
                pass
            """,
        "app/hub.py": "from .base import *\n",
        "app/sub/__init__.py": "",
        "app/sub/w.py": """
            from ..hub import Base as B
            from .. import base


            class W(B):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)


            class V(base.Base):
                def receiveMsg_int(self, msg, sender):
                    self.send(sender, msg)
            """})
    assert out["app/sub/w.py"].count("self.traced_send(sender, msg)") == 2


def test_shadowed_actor_name_is_a_project_class(tmp_path):
    out, _ = run(tmp_path, {
        "app/__init__.py": "",
        "app/own.py": """
            from thespian.actors import ActorTypeDispatcher


            class Actor(ActorTypeDispatcher):
                pass
            """,
        "app/user.py": """
            from app.own import Actor


            class User(Actor):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)
            """})
    assert "class User(Actor):" in out["app/user.py"]  # not switched to TracedPlainActor
    assert "self.traced_send" in out["app/user.py"]
    assert "class Actor(TracedActor):" in out["app/own.py"]


def test_nested_functions_lambdas_loops_comprehensions_star_args(tmp_path):
    out, s = run(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher


        class A(ActorTypeDispatcher):
            def receiveMsg_list(self, items, sender):
                for i in items:
                    self.send(sender, i)
                [self.send(sender, i) for i in items]
                {i: self.send(sender, i) for i in items}
                while items:
                    self.send(*items.pop())
                def inner(x):
                    def deeper():
                        self.send(sender, x)
                    deeper()
                inner(1)
                list(map(lambda i: self.send(sender, i), items))
        """})
    assert "self.send" not in out["a.py"]
    assert s.sends == 6


def test_formatting_preserved(tmp_path):
    src = """
        from thespian.actors import ActorTypeDispatcher  # the base


        class A(ActorTypeDispatcher):  # keep me
            def receiveMsg_str(self, msg, sender):
                # leading comment
                self.send(
                    sender,   # who
                    (msg,
                     msg),  # what
                )
                self.send(sender, \\
                          msg)
                self . send ( sender , msg )  # odd spacing
        """
    out, _ = run(tmp_path, {"a.py": src})
    expected = dd(src).replace("self.send(", "self.traced_send(").replace(
        "self . send (", "self . traced_send (").replace(
        "from thespian.actors import ActorTypeDispatcher  # the base",
        "from thespian_trace import TracedActor  # the base").replace(
        "class A(ActorTypeDispatcher):", "class A(TracedActor):")
    assert out["a.py"] == expected


def test_removed_import_line_keeps_leading_comment(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        import os
        # Thespian base class
        from thespian.actors import ActorTypeDispatcher


        class A(ActorTypeDispatcher):
            pass
        """})
    assert out["a.py"].startswith("import os\n# Thespian base class\nfrom thespian_trace import TracedActor\n")


def test_multiline_parenthesized_import(tmp_path):
    out, _ = run(tmp_path, {"a.py": """
        from thespian.actors import (
            ActorExitRequest,
            ActorTypeDispatcher,
        )


        class A(ActorTypeDispatcher):
            def receiveMsg_ActorExitRequest(self, m, s):
                pass
        """})
    compile(out["a.py"], "a", "exec")
    assert "ActorTypeDispatcher" not in out["a.py"]
    assert "ActorExitRequest," in out["a.py"]


def test_already_traced_classes_are_not_rebased(tmp_path):
    out, s = run(tmp_path, {"a.py": """
        from thespian_trace import TracedActor, TracedPlainActor


        class A(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, msg)
                self.send(sender, msg)


        class B(TracedPlainActor):
            def receiveMessage(self, msg, sender):
                self.send(sender, msg)
        """})
    assert s.rebased == 0 and s.sends == 2
    assert "self.send" not in out["a.py"]


# ------------------------------------------------------------------------------------------------
# never touched
# ------------------------------------------------------------------------------------------------
def test_look_alikes_and_non_actors_untouched(tmp_path):
    src = {
        "a.py": """
            from thespian.actors import ActorTypeDispatcher
            from requests.adapters import HTTPAdapter


            class Adapter(HTTPAdapter):
                def send(self, request, **kw):
                    return super().send(request, **kw)


            class Outbox:
                def send(self, a, m):
                    pass

                def flush(self):
                    self.send(1, 2)


            class A(ActorTypeDispatcher):
                def receiveMsg_str(self, msg, sender):
                    self.send_samples(msg)
                    self.pipe.send(msg)
                    other = Outbox()
                    other.send(sender, msg)
                    self.sendall = 1

                def send_samples(self, m):
                    return m
            """}
    out, s = run(tmp_path, src)
    assert s.sends == 0
    assert "super().send(request, **kw)" in out["a.py"]
    assert "self.send(1, 2)" in out["a.py"]
    assert "self.pipe.send(msg)" in out["a.py"]
    assert "other.send(sender, msg)" in out["a.py"]
    assert not s.review


def test_file_without_actors_is_not_parsed_by_libcst(tmp_path, monkeypatch):
    import libcst

    calls = []
    real = libcst.parse_module
    monkeypatch.setattr(libcst, "parse_module", lambda *a, **k: calls.append(a) or real(*a, **k))
    _write(tmp_path, {"plain.py": "import socket\ns = socket.socket()\ns.send(b'x')\n",
                      "cls.py": "class Sender:\n    def send(self, x):\n        self.send(x)\n"})
    code, s = run_codemod([str(tmp_path)], jobs=1, out=io.StringIO(), err=io.StringIO())
    assert code == 0 and s.changed == 0 and calls == []


# ------------------------------------------------------------------------------------------------
# manual review
# ------------------------------------------------------------------------------------------------
def test_manual_review_sites_are_reported_not_rewritten(tmp_path):
    src = """
        import functools
        import threading
        from thespian.actors import ActorTypeDispatcher


        class A(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                s = self.send
                functools.partial(self.send, sender)(msg)
                self.register(self.send)
                threading.Thread(target=self._loop).start()
                threading.Thread(target=lambda: self.send(sender, 1)).start()
                def pump():
                    self.send(sender, 2)
                threading.Timer(1.0, pump).start()
                self.send(sender, msg)

            def _loop(self):
                self.send(None, "tick")

            def register(self, cb):
                return lambda self: self.send(1, 2)


        def helper(self, target):
            self.send(target, "x")
        """
    out, s = run(tmp_path, {"a.py": src})
    lines = dd(src).splitlines()
    reviewed = {line: reason for _p, line, reason in s.review}
    expect = {
        "s = self.send": "bound to a variable",
        "functools.partial(self.send, sender)(msg)": "functools.partial",
        "self.register(self.send)": "callback",
        "threading.Thread(target=lambda: self.send(sender, 1)).start()": "thread",
        "self.send(sender, 2)": "thread",
        'self.send(None, "tick")': "thread",
        "return lambda self: self.send(1, 2)": "rebound",
        'self.send(target, "x")': "module-level function",
    }
    for snippet, why in expect.items():
        ln = next(i + 1 for i, l in enumerate(lines) if l.strip() == snippet)
        assert ln in reviewed, snippet
        assert why in reviewed[ln], (snippet, reviewed[ln])
    assert len(reviewed) == len(expect)
    assert s.sends == 1
    assert out["a.py"].count("traced_send") == 1
    assert "        self.traced_send(sender, msg)\n" in out["a.py"]


def test_unresolved_base_is_reported(tmp_path):
    _write(tmp_path, {"a.py": """
        from plugins import *


        class P(PluginBase):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, msg)


        class Q(make_base()):
            pass
        """})
    repo = analyze_paths([str(tmp_path)])
    names = sorted(u.name for u in repo.unresolved())
    assert names == ["PluginBase", "make_base()"]
    sites = repo.send_sites()
    assert [s.kind for s in sites] == ["manual_review"]
    assert "could not be resolved" in sites[0].reason


# ------------------------------------------------------------------------------------------------
# opt-outs
# ------------------------------------------------------------------------------------------------
def test_optout_line_class_def_and_file(tmp_path):
    out, s = run(tmp_path, {
        "a.py": """
            from thespian.actors import ActorTypeDispatcher


            class A(ActorTypeDispatcher):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)  # thespian-trace: ignore
                    self.send(
                        sender, 1)  # thespian-trace: ignore[legacy client]
                    self.send(sender, 2)

                def receiveMsg_int(self, msg, sender):  # thespian-trace: ignore reason=later
                    self.send(sender, msg)


            class B(ActorTypeDispatcher):  # thespian-trace: ignore
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)
            """,
        "b.py": """
            # thespian-trace: ignore-file reason="vendored"
            from thespian.actors import ActorTypeDispatcher


            class C(ActorTypeDispatcher):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)
            """})
    assert s.sends == 1 and s.rebased == 1
    assert "self.traced_send(sender, 2)" in out["a.py"]
    assert "class B(ActorTypeDispatcher):" in out["a.py"]
    assert "from thespian.actors import ActorTypeDispatcher" in out["a.py"]  # still used by B
    assert "traced" not in out["b.py"]


def test_parse_optout_syntax():
    o = parse_optout("# thespian-trace: ignore")
    assert o is not None and o.reason is None and o.until is None and not o.file_level
    assert parse_optout("# thespian-trace: ignore[old client]").reason == "old client"
    o = parse_optout('# thespian-trace: ignore reason="team b owns it" until=2026-12-31')
    assert o.reason == "team b owns it" and o.until == datetime.date(2026, 12, 31)
    o = parse_optout("#thespian-trace:ignore reason=later until=2020-01-01")
    assert o.reason == "later" and o.expired(datetime.date(2021, 1, 1))
    assert not o.expired(datetime.date(2019, 1, 1))
    o = parse_optout("# thespian-trace: ignore free text until=bad-date")
    assert o.reason == "free text" and o.until is None and o.until_raw == "bad-date"
    assert parse_optout("# thespian-trace: ignore-file").file_level
    assert parse_optout("# thespian-trace: ignored") is None
    assert parse_optout("# something else") is None


def test_optout_in_string_is_not_an_optout():
    repo = analyze_sources({"/v/a.py": dd("""
        from thespian.actors import ActorTypeDispatcher
        class A(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, "# thespian-trace: ignore")
        """)})
    (site,) = repo.send_sites()
    assert site.optout is None and site.rewritable


# ------------------------------------------------------------------------------------------------
# external ask/tell (opt-in)
# ------------------------------------------------------------------------------------------------
EXTERNAL = """
    from thespian.actors import ActorSystem


    def main(addr):
        asys = ActorSystem("simpleSystemBase")
        try:
            print(asys.ask(addr, "hi", 1.0))
            ActorSystem().tell(addr,
                               "bye",  # trailing
                               )
            client.ask(addr, "not a system")
        finally:
            asys.shutdown()


    class Notifier:
        def __init__(self, system: ActorSystem):
            self.system = system

        def ping(self, addr):
            self.system.tell(addr, "ping")
    """


def test_external_rewrite_is_opt_in(tmp_path):
    out, s = run(tmp_path, {"a.py": EXTERNAL})
    assert out["a.py"] == dd(EXTERNAL) and s.changed == 0


def test_external_rewrite(tmp_path):
    out, s = run(tmp_path, {"a.py": EXTERNAL}, external=True)
    text = out["a.py"]
    assert "from thespian_trace import traced_ask, traced_tell\n" in text
    assert 'print(traced_ask(asys, addr, "hi", 1.0))' in text
    assert ("traced_tell(ActorSystem(), addr,\n"
            '                           "bye",  # trailing\n') in text
    assert 'client.ask(addr, "not a system")' in text
    assert "traced_tell(asys, addr" not in text
    assert 'self.system.tell(addr, "ping")' not in text
    assert s.externals == 3


def test_external_sites_in_analysis():
    repo = analyze_sources({"/v/a.py": dd(EXTERNAL) + "\nfrom thespian_trace import traced_ask\n"
                                                      "def g(a, s):\n    traced_ask(s, a, 1)\n"})
    sites = repo.external_sites()
    assert [(e.scope, e.op, e.traced) for e in sites] == [
        ("main", "ask", False), ("main", "tell", False), ("Notifier.ping", "tell", False), ("g", "ask", True)]


# ------------------------------------------------------------------------------------------------
# analysis model
# ------------------------------------------------------------------------------------------------
def test_analysis_keys_are_stable_when_lines_move():
    base = dd("""
        from thespian.actors import ActorTypeDispatcher
        class A(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                s = self.send
                self.send(sender, msg)
                self.traced_send(sender, msg)
        """)
    moved = base.replace("class A", "\n\n# moved\nclass A")
    k1 = [(s.key, s.kind) for s in analyze_sources({"/v/m.py": base}).send_sites()]
    k2 = [(s.key, s.kind) for s in analyze_sources({"/v/m.py": moved}).send_sites()]
    assert k1 == k2
    assert [k for k, _ in k1] == [("m", "A", "receiveMsg_str", "send", i) for i in range(3)]
    assert [kind for _, kind in k1] == ["manual_review", "untraced_send", "traced_send"]


def test_actor_class_model():
    repo = analyze_sources({
        "/v/p/__init__.py": "",
        "/v/p/b.py": "from thespian.actors import ActorTypeDispatcher as ATD\nclass Base(ATD):\n    pass\n",
        "/v/p/c.py": dd("""
            from p.b import Base
            from thespian_trace import TracedActor
            class C(Base):
                def send(self, a, m):
                    pass
            class T(TracedActor):
                pass
            class N:
                pass
            """)})
    c = repo.class_by_qualname("p.c.C")
    assert c.is_actor and not c.traced and c.actor_kind == "dispatcher"
    assert c.base_chain == ["p.b.Base", "thespian.actors.ActorTypeDispatcher"]
    assert c.rebase == [] and c.defines_send
    assert repo.class_by_qualname("p.b.Base").rebase == [(0, "TracedActor")]
    t = repo.class_by_qualname("p.c.T")
    assert t.is_actor and t.traced and t.rebase == []
    assert not repo.class_by_qualname("p.c.N").is_actor


def test_parse_error_is_reported():
    repo = analyze_sources({"/v/bad.py": "def f(:\n", "/v/ok.py": "x = 1\n"})
    bad = repo.file_for("/v/bad.py")
    assert bad.parse_error and "line 1" in bad.parse_error
    assert repo.file_for("/v/ok.py").parse_error is None


def test_classes_nested_in_functions_and_classes(tmp_path):
    out, s = run(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher


        def make():
            class Local(ActorTypeDispatcher):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)
            return Local


        class Outer:
            class Inner(ActorTypeDispatcher):
                def receiveMsg_int(self, msg, sender):
                    self.send(sender, msg)

            def send(self, a, b):
                self.send(a, b)
        """})
    assert s.sends == 2 and s.rebased == 2
    assert out["a.py"].count("self.traced_send(sender, msg)") == 2
    assert "        self.send(a, b)" in out["a.py"]


def test_self_reassigned_is_review(tmp_path):
    out, s = run(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher


        class A(ActorTypeDispatcher):
            def receiveMsg_str(self, msg, sender):
                self = msg.owner
                self.send(sender, msg)
        """})
    assert s.sends == 0 and len(s.review) == 1 and "rebound" in s.review[0][2]


# ------------------------------------------------------------------------------------------------
# property: any mix of patterns -> compiles, idempotent, every rewritable send traced, rest untouched
# ------------------------------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

SNIPPETS = [
    ("self.send(sender, msg)", 1),
    ("self.send(*pair)", 1),
    ("for t in targets:\n    self.send(t, msg)", 1),
    ("[self.send(t, msg) for t in targets]", 1),
    ("def inner(x):\n    self.send(x, msg)\ninner(sender)", 1),
    ("list(map(lambda t: self.send(t, msg), targets))", 1),
    ("self.send(\n    sender,  # who\n    msg,\n)", 1),
    ("self.traced_send(sender, msg)", 0),
    ("s = self.send", 0),
    ("self.pipe.send(msg)", 0),
    ("self.send_samples(msg)", 0),
    ("self.send(sender, msg)  # thespian-trace: ignore", 0),
    ("if msg:\n    self.send(sender, 'yes')\nelse:\n    self.send(sender, 'no')", 2),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(range(len(SNIPPETS))), min_size=1, max_size=8), st.booleans())
def test_property_random_method_bodies(tmp_path_factory, picks, plain):
    tmp = tmp_path_factory.mktemp("prop")
    body = "\n".join(textwrap.indent(SNIPPETS[i][0], " " * 8) for i in picks)
    base = "Actor" if plain else "ActorTypeDispatcher"
    meth = "receiveMessage" if plain else "receiveMsg_str"
    src = ("from thespian.actors import %s\n\n\nclass A(%s):\n    def %s(self, msg, sender):\n"
           "        pair, targets = (sender, msg), [sender]\n%s\n\n    def send_samples(self, m):\n"
           "        return m\n" % (base, base, meth, body))
    p = tmp / "m.py"
    p.write_text(src)
    code, s = run_codemod([str(tmp)], jobs=1, out=io.StringIO(), err=io.StringIO())
    assert code == 0
    new = p.read_text()
    compile(new, "m.py", "exec")
    want = sum(SNIPPETS[i][1] for i in picks)
    assert s.sends == want
    assert new.count("traced_send") == want + sum(1 for i in picks if SNIPPETS[i][0].startswith("self.traced"))
    code, s2 = run_codemod([str(tmp)], jobs=1, out=io.StringIO(), err=io.StringIO())
    assert s2.changed == 0 and p.read_text() == new
    # nothing but the sends, the base and the import changed
    norm = new.replace("traced_send", "send").replace("TracedPlainActor", base).replace("TracedActor", base)
    norm = norm.replace("from thespian_trace import %s" % base, "from thespian.actors import %s" % base)
    assert norm == src.replace("traced_send", "send")


def test_star_reexport_without_dunder_all_keeps_import(tmp_path):
    out, _ = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": """
            from thespian.actors import ActorTypeDispatcher


            class A(ActorTypeDispatcher):
                pass
            """,
        "pkg/b.py": """
            from pkg.a import *


            class B(ActorTypeDispatcher):
                pass
            """})
    assert "from thespian.actors import ActorTypeDispatcher" in out["pkg/a.py"]
    assert "class A(TracedActor):" in out["pkg/a.py"] and "class B(TracedActor):" in out["pkg/b.py"]


def test_subclass_of_opted_out_or_generated_base_is_review(tmp_path):
    out, s = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/frozen.py": """
            from thespian.actors import ActorTypeDispatcher


            class Frozen(ActorTypeDispatcher):  # thespian-trace: ignore[owned elsewhere]
                pass
            """,
        "pkg/gen.py": """
            # @generated
            from thespian.actors import ActorTypeDispatcher


            class Gen(ActorTypeDispatcher):
                pass
            """,
        "pkg/user.py": """
            from pkg.frozen import Frozen
            from pkg.gen import Gen


            class A(Frozen):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)


            class B(Gen):
                def receiveMsg_str(self, msg, sender):
                    self.send(sender, msg)
            """})
    assert s.sends == 0 and s.rebased == 0
    assert out["pkg/user.py"].count("self.send(sender, msg)") == 2
    assert len(s.review) == 2 and all("untraced base" in r for _p, _l, r in s.review)


def test_rewrite_refuses_anything_but_planned_changes():
    from codemod.rewrite import _same_program

    old = "class A(B):\n    def f(self):\n        self.send(1, 2)\n        asys.ask(a, m)\n"
    ok = ("from thespian_trace import TracedActor\nclass A(TracedActor):\n    def f(self):\n"
          "        self.traced_send(1, 2)\n        traced_ask(asys, a, m)\n")
    assert _same_program(old, ok)
    assert not _same_program(old, ok.replace("(1, 2)", "(2, 1)"))
    assert not _same_program(old, ok.replace("def f", "def g"))
