"""The rewrite's binding-order proof, and the one send-site model the analysis and the rewrite share."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from codemod.analysis.collect import analyze_one
from codemod.binding_order import first_use_before_binding
from codemod.rewrite import FilePlan, TraceTransformer
from codemod.sites import BY_ATTR

REPO = Path(__file__).resolve().parent.parent
IMPORT = "from thespian_trace import TracedActor, traced_ask\n"


def first(src: str, names=("TracedActor", "traced_ask")):
    return first_use_before_binding(ast.parse(textwrap.dedent(src)), names)


@pytest.mark.parametrize("label,src,line", [
    ("class base", "class A(TracedActor):\n    pass\n" + IMPORT, 1),
    ("class keyword", "class A(metaclass=TracedActor):\n    pass\n" + IMPORT, 1),
    ("class decorator", "@traced_ask\nclass A:\n    pass\n" + IMPORT, 1),
    ("class body", "class A:\n    base = TracedActor\n" + IMPORT, 2),
    ("method decorator", "class A:\n    @traced_ask\n    def f(self):\n        pass\n" + IMPORT, 2),
    ("function decorator", "@traced_ask\ndef f():\n    pass\n" + IMPORT, 1),
    ("default argument", "def f(ask=traced_ask):\n    return ask\n" + IMPORT, 1),
    ("keyword-only default", "def f(*, ask=traced_ask):\n    return ask\n" + IMPORT, 1),
    ("annotation", "def f(a: TracedActor):\n    return a\n" + IMPORT, 1),
    ("lambda default", "f = lambda ask=traced_ask: ask\n" + IMPORT, 1),
    ("module-level call", "def make():\n    return TracedActor\n\nBase = make()\n" + IMPORT, 2),
    ("call through a call", "def a():\n    return traced_ask\n\ndef b():\n    return a()\n\nb()\n" + IMPORT, 2),
    ("instantiation runs __init__", "class C:\n    def __init__(self):\n        self.t = TracedActor\n\n"
                                    "c = C()\n" + IMPORT, 3),
    ("decorator function body", "def deco(f):\n    traced_ask\n    return f\n\n@deco\ndef g():\n    pass\n"
                                + IMPORT, 2),
    ("if __main__ block", "if __name__ == '__main__':\n    traced_ask(1, 2, 3)\n" + IMPORT, 2),
    ("never bound", "class A(TracedActor):\n    pass\n", 1),
])
def test_uses_before_binding_are_found(label, src, line):
    got = first(src)
    assert got is not None, label
    assert got[1] == line, (label, got)


@pytest.mark.parametrize("label,src", [
    ("import first", IMPORT + "class A(TracedActor):\n    pass\n"),
    ("function body runs later", "def f():\n    return traced_ask\n" + IMPORT + "f()\n"),
    ("method body runs later", "class A:\n    def f(self):\n        return TracedActor\n" + IMPORT),
    ("lambda body runs later", "f = lambda: traced_ask\n" + IMPORT),
    ("future annotations", "from __future__ import annotations\ndef f(a: TracedActor):\n    return a\n" + IMPORT),
    ("nested decorator closure", "def deco(f):\n    def w(*a):\n        return traced_ask(*a)\n    return w\n\n"
                                 "@deco\ndef g():\n    pass\n" + IMPORT),
    ("bound inside try", "try:\n    " + IMPORT + "except ImportError:\n    TracedActor = object\n"
                         "class A(TracedActor):\n    pass\n"),
    ("star import of the runtime", "from thespian_trace import *\nclass A(TracedActor):\n    pass\n"),
])
def test_sound_orders_pass(label, src):
    assert first(src) is None, label


def test_a_star_import_of_another_module_does_not_count_as_binding():
    assert first("from thespian.actors import *\nclass A(TracedActor):\n    pass\n" + IMPORT)[1] == 2


# --------------------------------------------------------------------------------------------------
# one model: the LibCST walk and the ast walk find the same sites with the same keys
# --------------------------------------------------------------------------------------------------
class _Recorder(dict):
    """A plan whose ``sends`` records every key the transformer looks up (and plans nothing)."""

    def __init__(self):
        super().__init__()
        self.keys = []

    def get(self, key, default=None):
        self.keys.append(tuple(key))
        return default


def _libcst_keys(text: str):
    plan = FilePlan(path="m.py", module="m")
    rec = _Recorder()
    plan.sends = rec
    cst.parse_module(text).visit(TraceTransformer(plan))
    return sorted(rec.keys, key=repr)


def _ast_keys(path: str, data: bytes):
    st = analyze_one(path, data, lambda p: False)
    return sorted(((c.frame.cls, c.method, BY_ATTR[c.op].family, c.ordinal) for c in st.cands), key=repr)


def _corpus():
    files = sorted((REPO / "tests" / "codemod_fixtures").rglob("*.py"))
    files += sorted((REPO / "examples" / "legacy_app").glob("*.py"))
    return files


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: str(p.relative_to(REPO)))
def test_analysis_and_rewrite_see_the_same_sites(path):
    data = path.read_bytes()
    assert _ast_keys(str(path), data) == _libcst_keys(data.decode("utf-8"))


def test_same_sites_on_nested_shapes():
    src = textwrap.dedent('''
        from thespian.actors import ActorTypeDispatcher
        import functools


        def deco(f):
            def guard(self, msg, sender):
                self.send(sender, 1)
                self.wakeupAfter(1)
                return f(self, msg, sender)
            return guard


        def helper(self, to):
            self.send(to, 2)


        class A(ActorTypeDispatcher):
            @deco
            def receiveMsg_str(self, msg, sender, cb=lambda s: s.send):
                self.send(sender, [self.send(sender, x) for x in msg])
                super().send(sender, 3)
                self.traced_send(sender, 4)
                self.wakeupAfter(2, payload=self.send)

                def inner(n):
                    self.send(sender, n)
                    return lambda: self.send(sender, n + 1)

                class Local(ActorTypeDispatcher):
                    def receiveMsg_int(me, m, s):
                        me.send(s, m)
                        self.send(s, m)

            @staticmethod
            def util(self):
                self.send(1, 2)
        ''')
    keys = _ast_keys("m.py", src.encode())
    assert keys == _libcst_keys(src)
    assert ("A.receiveMsg_str.<locals>.Local", "receiveMsg_int", "send", 0) in keys
    assert (None, "deco.guard", "wakeup", 0) in keys and (None, "helper", "send", 0) in keys
    assert not any(k[1] == "util" for k in keys)  # a staticmethod binds no actor
