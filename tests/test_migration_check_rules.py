"""migration-check rules on real source: one small repository per rule, through the shared analysis."""
from __future__ import annotations

import datetime
import textwrap
from pathlib import Path
from typing import Dict


from codemod import check


def write_tree(root: Path, files: Dict[str, str]) -> Path:
    for rel, src in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(src).lstrip("\n"), encoding="utf-8")
    return root


def run(root: Path, today: str = "2026-06-01", **kw):
    return check.collect([str(root)], today=datetime.date.fromisoformat(today), **kw)


def codes(collected):
    return sorted(f.code for f in collected.findings)


ACTOR = """
from thespian.actors import ActorTypeDispatcher

class Worker(ActorTypeDispatcher):
    def receiveMsg_str(self, msg, sender):
        self.send(sender, msg.upper())
"""


def test_tt001_and_tt002_untraced_actor(tmp_path):
    write_tree(tmp_path, {"app/__init__.py": "", "app/workers.py": ACTOR})
    got = run(tmp_path)
    assert codes(got) == ["TT001", "TT002"]
    tt001 = [f for f in got.findings if f.code == "TT001"][0]
    assert (tt001.line, tt001.col) == (5, 9)
    assert tt001.path.endswith("app/workers.py")
    assert (tt001.module, tt001.cls, tt001.method, tt001.ordinal) == ("app.workers", "Worker", "receiveMsg_str", 0)
    assert tt001.fix == f"thespian-trace codemod {tt001.path}"
    tt002 = [f for f in got.findings if f.code == "TT002"][0]
    assert (tt002.line, tt002.col, tt002.cls) == (3, 1, "Worker")
    assert "TracedActor" in tt002.message
    assert [(s.package, s.total, s.traced) for s in got.stats] == [("app", 1, 0)]


def test_traced_actor_is_clean_and_counts_as_traced(tmp_path):
    write_tree(tmp_path, {"app/__init__.py": "", "app/workers.py": """
        from thespian_trace import TracedActor

        class Worker(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, msg)
                self.traced_send(sender, msg)
        """})
    got = run(tmp_path)
    assert got.findings == []
    assert [(s.package, s.total, s.coverage) for s in got.stats] == [("app", 2, 100.0)]


def test_tt001_plain_send_in_traced_class_and_not_in_non_actor(tmp_path):
    write_tree(tmp_path, {"app/__init__.py": "", "app/mixed.py": """
        from thespian_trace import TracedActor

        class Worker(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.traced_send(sender, msg)
                self.send(sender, msg)

        class Pipe:
            def go(self):
                self.send(1, 2)
                self.send_samples()
        """})
    got = run(tmp_path)
    assert codes(got) == ["TT001"]
    f = got.findings[0]
    assert (f.line, f.ordinal) == (6, 1)  # ordinal counts all sends of the method


def test_tt002_only_for_the_project_base_not_its_subclasses(tmp_path):
    write_tree(tmp_path, {"app/__init__.py": "", "app/base.py": """
        from thespian.actors import ActorTypeDispatcher as ATD

        class BaseActor(ATD):
            pass
        """, "app/leaf.py": """
        from app.base import BaseActor

        class Leaf(BaseActor):
            def receiveMsg_int(self, msg, sender):
                self.send(sender, msg + 1)
        """})
    got = run(tmp_path)
    assert [(f.code, f.cls) for f in got.findings] == [("TT002", "BaseActor"), ("TT001", "Leaf")]


def test_tt003_external_ask_tell(tmp_path):
    write_tree(tmp_path, {"cli.py": """
        from thespian.actors import ActorSystem
        from thespian_trace import traced_tell

        def main(addr):
            asys = ActorSystem()
            asys.tell(addr, "go")
            traced_tell(asys, addr, "go")
            return asys.ask(addr, "status", 5)
        """})
    got = run(tmp_path)
    assert codes(got) == ["TT003", "TT003"]
    assert [f.line for f in got.findings] == [6, 8]
    assert got.findings[0].fix == f"thespian-trace codemod --external {got.findings[0].path}"
    assert got.findings[0].path.endswith("/cli.py")
    assert "asys.tell" in got.findings[0].message
    assert [(f.method, f.ordinal) for f in got.findings] == [("main", 0), ("main", 2)]
    total = check.total_stats(got.stats)
    assert (total.total, total.traced) == (3, 1)


def test_tt004_indirect_sends_need_manual_review(tmp_path):
    write_tree(tmp_path, {"app/__init__.py": "", "app/odd.py": """
        import functools
        import threading
        from thespian_trace import TracedActor

        class Odd(TracedActor):
            def receiveMsg_str(self, msg, sender):
                later = functools.partial(self.send, sender)
                out = self.send
                threading.Thread(target=self.pump, args=(sender,)).start()

            def pump(self, sender):
                self.send(sender, "tick")
        """})
    got = run(tmp_path)
    assert codes(got) == ["TT004"] * 3
    msgs = " | ".join(f.message for f in got.findings)
    assert "partial" in msgs and "variable" in msgs and "thread" in msgs
    assert all(f.fix.startswith("manual review") for f in got.findings)
    assert check.total_stats(got.stats).manual == 3


def test_optout_suppresses_and_tt005_without_reason(tmp_path):
    write_tree(tmp_path, {"app/__init__.py": "", "app/w.py": """
        from thespian_trace import TracedActor

        class W(TracedActor):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, msg)  # thespian-trace: ignore
                self.send(sender, msg)  # thespian-trace: ignore[old client needs bare messages]
        """})
    got = run(tmp_path)
    assert codes(got) == ["TT005"]
    f = got.findings[0]
    assert (f.line, f.col) == (5, 33)
    assert (f.cls, f.method) == ("W", "receiveMsg_str")
    assert check.total_stats(got.stats).opted_out == 2


def test_tt006_expired_until_depends_on_injected_today(tmp_path, monkeypatch):
    write_tree(tmp_path, {"app/__init__.py": "", "app/w.py": """
        from thespian.actors import ActorTypeDispatcher

        class W(ActorTypeDispatcher):  # thespian-trace: ignore reason="team B" until=2026-03-31
            def receiveMsg_str(self, msg, sender):
                self.send(sender, msg)
        """})
    assert codes(run(tmp_path, today="2026-03-31")) == []  # the until day itself is still fine
    got = run(tmp_path, today="2026-04-01")
    assert codes(got) == ["TT006"]
    assert "expired on 2026-03-31" in got.findings[0].message
    assert got.findings[0].cls == "W"
    # the same through the CLI: env var and hidden flag
    monkeypatch.setenv(check.TODAY_ENV, "2026-01-01")
    assert check.main([str(tmp_path)]) == 0
    monkeypatch.setenv(check.TODAY_ENV, "2027-01-01")
    assert check.main([str(tmp_path)]) == 1
    assert check.main([str(tmp_path), "--today", "2026-01-01"]) == 0  # flag wins over env


def test_tt006_invalid_until_date(tmp_path):
    write_tree(tmp_path, {"a.py": """
        from thespian.actors import ActorTypeDispatcher

        class W(ActorTypeDispatcher):  # thespian-trace: ignore reason=x until=someday
            pass
        """})
    got = run(tmp_path)
    assert codes(got) == ["TT006"] and "invalid until=" in got.findings[0].message


def test_tt007_unresolved_base(tmp_path):
    write_tree(tmp_path, {"p.py": """
        from plugins import *

        class PluginActor(PluginBase):
            def receiveMsg_str(self, msg, sender):
                self.send(sender, msg)
        """})
    got = run(tmp_path)
    assert codes(got) == ["TT004", "TT007"]
    tt007 = [f for f in got.findings if f.code == "TT007"][0]
    assert "PluginBase" in tt007.message and (tt007.line, tt007.col) == (3, 19)


def test_tt900_parse_error_is_a_finding_not_a_crash(tmp_path, capsys):
    write_tree(tmp_path, {"app/__init__.py": "", "app/broken.py": "def f(:\n    pass\n", "app/w.py": ACTOR})
    got = run(tmp_path)
    assert codes(got) == ["TT001", "TT002", "TT900"]
    bad = [f for f in got.findings if f.code == "TT900"][0]
    assert bad.path.endswith("app/broken.py") and bad.line == 1
    assert check.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "TT900 cannot parse file" in out


def test_generated_files_are_skipped(tmp_path):
    write_tree(tmp_path, {"gen.py": "# @generated by protoc\n" + textwrap.dedent(ACTOR)})
    assert run(tmp_path).findings == []


def test_file_level_optout(tmp_path):
    write_tree(tmp_path, {"a.py": "# thespian-trace: ignore-file\n" + textwrap.dedent(ACTOR)})
    got = run(tmp_path)
    assert codes(got) == ["TT005"]  # the opt-out itself has no reason
    assert got.findings[0].method == "<file>"


def test_exclude_glob(tmp_path):
    write_tree(tmp_path, {"keep/a.py": ACTOR, "vendor/b.py": ACTOR})
    got = run(tmp_path, exclude=["vendor/"])
    assert {f.path.split("/")[-2] for f in got.findings} == {"keep"}
