"""Codemod robustness (issue 7 item 6): hostile and unusual files, concurrent changes, interrupted runs.

Every case ends one of two ways: the file is rewritten exactly as expected (compared byte-for-byte with
an independently built expectation and compiled), or it is reported and left byte-for-byte intact.
"""
from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codemod import cli
from codemod.cli import TEMP_MARK, clean_stale_temps, main, run_codemod
from codemod_exercise import exercise

REPO = Path(__file__).resolve().parent.parent
TEMP_RE = re.compile(r"^\..+\.py" + re.escape(TEMP_MARK) + r"(\d+)\.[^/]*\.tmp$")

ACTOR = (
    "from thespian.actors import ActorTypeDispatcher\n"
    "\n"
    "\n"
    "class A(ActorTypeDispatcher):\n"
    "    def receiveMsg_str(self, msg, sender):\n"
    "        self.send(sender, msg)\n"
)


def migrate_text(text: str) -> str:
    """The expected rewrite of the simple shapes used here, built without the codemod."""
    return (text.replace("from thespian.actors import ActorTypeDispatcher", "from thespian_trace import TracedActor")
            .replace("(ActorTypeDispatcher)", "(TracedActor)").replace("self.send(", "self.traced_send("))


MIGRATED = migrate_text(ACTOR)


def _tree(root: Path, files) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())


def _run(paths, **kw):
    err = io.StringIO()
    kw.setdefault("jobs", 1)
    code, summary = run_codemod([str(p) for p in paths], out=io.StringIO(), err=err, **kw)
    return code, summary, err.getvalue()


def _snapshot(root: Path):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _compiles(data: bytes, name: str = "<rewritten>") -> None:
    compile(data, name, "exec", dont_inherit=True)


def _no_temps(root: Path):
    return [p.name for p in root.rglob("*") if TEMP_MARK in p.name or p.name.endswith(".tmp")]


def _runs(root: Path, answers):
    """Import the rewritten modules with the real thespian_trace and ask each actor: nothing stubbed.

    ``answers``: ``{module: [(actor class, message expr, expected expr), ...]}``.
    """
    exercise([root], list(answers), actors=[{"module": m, "cls": c, "ask": q, "expect": a}
                                            for m, items in answers.items() for c, q, a in items])


# --------------------------------------------------------------------------------------------------
# syntax errors and undecodable files: reported, byte-for-byte intact, the rest still migrated
# --------------------------------------------------------------------------------------------------
BROKEN = {
    "unclosed_paren.py": b"from thespian.actors import ActorTypeDispatcher\nclass B(ActorTypeDispatcher:\n"
                         b"    def receiveMsg_str(self, m, s):\n        self.send(s, m)\n",
    "py2_print.py": b"from thespian.actors import Actor\nclass B(Actor):\n    def receiveMessage(self, m, s):\n"
                    b"        print 'hi'\n        self.send(s, m)\n",
    "truncated.py": ACTOR.encode()[:-12],
    "unterminated_string.py": ACTOR.replace("msg)\n", "'msg)\n").encode(),
    "tab_error.py": b"from thespian.actors import ActorTypeDispatcher\nclass B(ActorTypeDispatcher):\n"
                    b"    def receiveMsg_str(self, m, s):\n\tif m:\n        \tself.send(s, m)\n",
    "null_byte.py": ACTOR.replace("msg)\n", "msg)\x00\n").encode(),
    "bad_utf8.py": ACTOR.replace("msg)\n", "'\xe9')\n").encode("latin-1"),  # no declaration: utf-8
    "wrong_declared.py": ("# -*- coding: utf-8 -*-\n" + ACTOR.replace("msg)\n", "'\xe9')\n")).encode("latin-1"),
    "unknown_codec.py": b"# -*- coding: no-such-codec -*-\n" + ACTOR.encode(),
    "lone_cr.py": ACTOR.replace("\n", "\r").encode(),  # classic-Mac newlines: refused by the rewrite
    "merge_conflict.py": ACTOR.replace("        self.send(sender, msg)\n",
                                       "<<<<<<< HEAD\n        self.send(sender, msg)\n=======\n"
                                       "        self.send(sender, msg + 1)\n>>>>>>> branch\n").encode(),
}


@pytest.mark.parametrize("jobs", [1, 2])
def test_broken_files_are_reported_and_left_intact(tmp_path, jobs):
    _tree(tmp_path, dict(BROKEN, **{"good.py": ACTOR, "good2.py": ACTOR.replace("class A", "class Z")}))
    code, s, err = _run([tmp_path], jobs=jobs)
    assert code == 1
    for name, data in BROKEN.items():
        assert (tmp_path / name).read_bytes() == data, name
        assert "error: %s: " % (tmp_path / name) in err, name
    assert s.failed == len(BROKEN) and s.changed == 2
    assert (tmp_path / "good.py").read_text() == MIGRATED
    assert (tmp_path / "good2.py").read_text() == migrate_text(ACTOR.replace("class A", "class Z"))
    assert _no_temps(tmp_path) == []
    _runs(tmp_path, {"good": [("A", "'x'", "'x'")], "good2": [("Z", "'y'", "'y'")]})
    # --check and --diff report the same failures and write nothing
    before = _snapshot(tmp_path)
    assert _run([tmp_path], check=True)[0] == 1
    assert _snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------------
# encodings, BOM, newlines, tabs: exact expected bytes
# --------------------------------------------------------------------------------------------------
LATIN_BODY = (
    "# Acteur de r\xe9ception \u2014 commentaire accentu\xe9: \xe0 \xe7 \xf1 \xfc \xb5\n"
    .replace("\u2014", "-") +
    "from thespian.actors import ActorTypeDispatcher\n"
    "\n"
    "caf\xe9 = 'cr\xe8me br\xfbl\xe9e \xa7'\n"
    "\n"
    "\n"
    "class R\xe9ception(ActorTypeDispatcher):  # classe \xab acteur \xbb\n"
    "    def receiveMsg_str(self, msg, sender):\n"
    "        # r\xe9ponse \xe9l\xe9gante\n"
    "        self.send(sender, msg + ' \xb0\xe9\xe8\xea')  # \xe9t\xe9\n"
    "        self.send(sender, b'\\xe9')\n"
)


@pytest.mark.parametrize("header,codec", [
    ("# -*- coding: latin-1 -*-\n", "latin-1"),
    ("#!/usr/bin/env python\n# vim: set fileencoding=iso-8859-15 :\n", "iso-8859-15"),
    ("# coding=cp1252\n", "cp1252"),
])
def test_pep263_encodings_keep_non_ascii_literals_and_comments(tmp_path, header, codec):
    src = (header + LATIN_BODY).encode(codec)
    assert b"\xe9" in src  # really non-UTF-8 bytes on disk
    _tree(tmp_path, {"m.py": src})
    code, s, err = _run([tmp_path])
    assert code == 0 and s.sends == 2, err
    got = (tmp_path / "m.py").read_bytes()
    assert got == migrate_text(header + LATIN_BODY).encode(codec)
    _compiles(got)
    # imported as the interpreter decodes it (the real runtime import, nothing stubbed), and it answers
    exercise([tmp_path], ["m"], actors=[{"module": "m", "cls": "R\xe9ception", "ask": "'x'",
                                         "expect": "'x \xb0\xe9\xe8\xea'"}],
             calls=[{"module": "m", "call": "caf\xe9", "expect": "'cr\xe8me br\xfbl\xe9e \xa7'"}])
    assert _run([tmp_path])[2].endswith("nothing to change: the code is already migrated\n")  # idempotent


def test_utf8_bom_with_crlf_and_declaration(tmp_path):
    text = "# -*- coding: utf-8 -*-\n" + ACTOR.replace("msg)\n", "msg + '\u00e9\u4e2d\U0001f600')\n")
    files = {
        "bom.py": b"\xef\xbb\xbf" + text.encode(),
        "bom_crlf.py": b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(),
        "bom_only_body.py": b"\xef\xbb\xbf" + ACTOR.encode(),
    }
    _tree(tmp_path, files)
    code, s, err = _run([tmp_path])
    assert code == 0 and s.changed == 3, err
    assert (tmp_path / "bom.py").read_bytes() == b"\xef\xbb\xbf" + migrate_text(text).encode()
    assert (tmp_path / "bom_crlf.py").read_bytes() == \
        b"\xef\xbb\xbf" + migrate_text(text).replace("\n", "\r\n").encode()
    assert (tmp_path / "bom_only_body.py").read_bytes() == b"\xef\xbb\xbf" + MIGRATED.encode()
    for name in files:
        _compiles((tmp_path / name).read_bytes(), name)
    tail = "'x\u00e9\u4e2d\U0001f600'"
    _runs(tmp_path, {"bom": [("A", "'x'", tail)], "bom_crlf": [("A", "'x'", tail)],
                     "bom_only_body": [("A", "'x'", "'x'")]})


def test_crlf_throughout_including_continuations_and_added_import(tmp_path):
    text = (
        "import os\n"
        "from thespian.actors import (\n"
        "    ActorTypeDispatcher,\n"
        ")\n"
        "\n"
        "\n"
        "class A(ActorTypeDispatcher):\n"
        "    \"\"\"Doc\n"
        "    string.\"\"\"\n"
        "    def receiveMsg_str(self, msg, sender):\n"
        "        self.send(sender,\n"
        "                  msg + \\\n"
        "                  os.sep)  # trailing comment\n"
    )
    expected = (text.replace("from thespian.actors import (\n    ActorTypeDispatcher,\n)\n",
                             "from thespian_trace import TracedActor\n")
                .replace("(ActorTypeDispatcher)", "(TracedActor)").replace("self.send(", "self.traced_send("))
    _tree(tmp_path, {"crlf.py": text.replace("\n", "\r\n"), "noeol.py": ACTOR.replace("\n", "\r\n").rstrip()})
    code, s, err = _run([tmp_path])
    assert code == 0 and s.changed == 2, err
    got = (tmp_path / "crlf.py").read_bytes()
    assert got == expected.replace("\n", "\r\n").encode()
    assert b"\n" not in got.replace(b"\r\n", b"")  # no bare LF introduced
    assert (tmp_path / "noeol.py").read_bytes() == MIGRATED.replace("\n", "\r\n").rstrip().encode()
    for name in ("crlf.py", "noeol.py"):
        _compiles((tmp_path / name).read_bytes(), name)
    _runs(tmp_path, {"crlf": [("A", "'x'", "'x' + os.sep")], "noeol": [("A", "'x'", "'x'")]})


def test_mixed_newlines_each_line_keeps_its_own(tmp_path):
    src = ACTOR.replace("\n\n\nclass", "\r\n\n\r\nclass").replace("sender):\n", "sender):\r\n").encode()
    _tree(tmp_path, {"mixed.py": src})
    code, s, err = _run([tmp_path])
    assert code == 0, err
    got = (tmp_path / "mixed.py").read_bytes()
    assert got == migrate_text(src.decode()).encode()
    _compiles(got)
    _runs(tmp_path, {"mixed": [("A", "'x'", "'x'")]})


def test_tabs_and_mixed_tabs_in_continuation_lines(tmp_path):
    text = (
        "from thespian.actors import ActorTypeDispatcher\n"
        "\n"
        "\n"
        "class A(ActorTypeDispatcher):\n"
        "\tdef receiveMsg_str(self, msg, sender):\n"
        "\t\tif msg:\n"
        "\t\t\tself.send(sender,\n"
        "\t\t\t  \t  msg)\t# tab before comment\n"
        "\t\tfor x in (1,\n"
        "        \t   2):\n"
        "\t\t\tself.send(\tsender, x )\n"
        "\t\tvals = [self.send(sender,\n"
        "  \t\t\t\tv) for v in 'ab']\n"
        "\t\treturn vals\n"
        "\n"
        "\n"
        "class B(A):\n"
        "    def receiveMsg_int(self, msg, sender):\n"
        "    \tself.send(sender, msg)  # spaces then a tab: the same column for Python\n"
    )
    _tree(tmp_path, {"tabs.py": text})
    _compiles(text.encode())
    code, s, err = _run([tmp_path])
    assert code == 0 and s.sends == 4, err
    got = (tmp_path / "tabs.py").read_bytes()
    assert got == migrate_text(text).encode()
    _compiles(got)
    _runs(tmp_path, {"tabs": [("A", "'x'", "'x'"), ("A", "''", "1"), ("B", "5", "5")]})


# --------------------------------------------------------------------------------------------------
# very long file
# --------------------------------------------------------------------------------------------------
def _long_source(n_blocks: int):
    src, exp = [], []
    head = ("import threading\nfrom thespian.actors import ActorTypeDispatcher, Actor\n\n\n")
    src.append(head)
    exp.append("import threading\nfrom thespian_trace import TracedActor, TracedPlainActor\n\n\n")
    for i in range(n_blocks):
        block = (
            "# ------------------------------------------------------------------\n"
            "# Worker {i}: forwards strings, counts integers.\n"
            "# (comment blocks and docstrings as in real code: about a third of the lines)\n"
            "# ------------------------------------------------------------------\n"
            "class Worker{i}(ActorTypeDispatcher):\n"
            "    \"\"\"Actor {i}.\n"
            "\n"
            "    Receives ``str`` and ``int`` messages and answers the sender; the\n"
            "    ``send_samples`` method and ``self.pipe.send`` are not actor sends.\n"
            "    \"\"\"\n"
            "\n"
            "    def receiveMsg_str(self, msg, sender):\n"
            "        # forward {i}\n"
            "        self.send(sender, msg + '{i}')\n"
            "        for k in range({m}):\n"
            "            self.send(\n"
            "                sender,\n"
            "                k,\n"
            "            )\n"
            "\n"
            "    def receiveMsg_int(self, msg, sender):\n"
            "        self.send_samples(msg)  # look-alike method: untouched\n"
            "        self.pipe.send(msg)  # not the actor's send\n"
            "\n"
            "    def send_samples(self, m):\n"
            "        return m\n"
            "\n"
            "\n"
            "class Plain{i}(Actor):\n"
            "    def receiveMessage(self, msg, sender):\n"
            "        self.send(sender, ({i}, msg))\n"
            "\n"
            "\n"
            "class Helper{i}:\n"
            "    def send(self, a, b):\n"
            "        return a, b\n"
            "\n"
            "    def run(self):\n"
            "        return self.send({i}, {m})\n"
            "\n"
            "\n"
        ).format(i=i, m=i % 7)
        src.append(block)
        exp.append(block.replace("(ActorTypeDispatcher):", "(TracedActor):").replace("(Actor):", "(TracedPlainActor):")
                   .replace("        self.send(sender", "        self.traced_send(sender")
                   .replace("            self.send(\n", "            self.traced_send(\n"))
    return "".join(src), "".join(exp)


def test_very_long_file_is_rewritten_correctly_and_fast(tmp_path):
    n = 500
    src, expected = _long_source(n)
    assert src.count("\n") > 20000
    _tree(tmp_path, {"big.py": src, "small.py": ACTOR})
    t0 = time.perf_counter()
    code, s, err = _run([tmp_path])
    elapsed = time.perf_counter() - t0
    assert code == 0, err
    got = (tmp_path / "big.py").read_text()
    if got != expected:  # show the first differing line rather than a 20,000-line diff
        for ln, (a, b) in enumerate(zip(got.splitlines(), expected.splitlines()), 1):
            assert a == b, "line %d" % ln
    assert got == expected
    assert s.sends == 3 * n + 1 and s.rebased == 2 * n + 1
    _compiles(got.encode())
    print("\nlong file: %d lines, %d sends, codemod %.2f s" % (src.count("\n"), 3 * n, elapsed))
    assert elapsed < 20, elapsed  # ~7 s here (about 0.4 ms/line, linear); a quadratic regression would blow this
    assert "nothing to change" in _run([tmp_path])[2]
    _runs(tmp_path, {"big": [("Worker0", "'x'", "'x0'"), ("Worker499", "'y'", "'y499'"),
                             ("Plain499", "'m'", "(499, 'm')"), ("Worker3", "'z'", "'z3'")],
                     "small": [("A", "'x'", "'x'")]})


# --------------------------------------------------------------------------------------------------
# read-only files, ownership, write errors
# --------------------------------------------------------------------------------------------------
def test_read_only_file_is_reported_and_left_intact(tmp_path):
    _tree(tmp_path, {"ro.py": ACTOR, "rw.py": ACTOR})
    os.chmod(tmp_path / "ro.py", 0o444)
    st = os.stat(tmp_path / "ro.py")
    code, s, err = _run([tmp_path])
    # as root the file *could* be written; the mode says "do not edit" and the codemod honours it
    assert code == 1
    assert "error: %s: read-only file (mode 444); not modified" % (tmp_path / "ro.py") in err
    assert (tmp_path / "ro.py").read_text() == ACTOR
    st2 = os.stat(tmp_path / "ro.py")
    assert (st2.st_mode, st2.st_ino, st2.st_mtime_ns) == (st.st_mode, st.st_ino, st.st_mtime_ns)
    assert (tmp_path / "rw.py").read_text() == MIGRATED
    assert s.failed == 1 and s.changed == 1
    assert _no_temps(tmp_path) == []
    _runs(tmp_path, {"rw": [("A", "'x'", "'x'")], "ro": [("A", "'x'", "'x'")]})  # one migrated, one not
    # a dry run still shows the pending change (the file needs migrating once made writable)
    assert _run([tmp_path], check=True)[0] == 1
    os.chmod(tmp_path / "ro.py", 0o644)
    assert _run([tmp_path])[0] == 0 and (tmp_path / "ro.py").read_text() == MIGRATED


def test_file_made_read_only_during_the_run_is_not_written(tmp_path, monkeypatch):
    _tree(tmp_path, {"a.py": ACTOR})
    real = cli.rewrite_job

    def chmod_then_rewrite(job):
        os.chmod(tmp_path / "a.py", 0o400)
        return real(job)

    monkeypatch.setattr(cli, "rewrite_job", chmod_then_rewrite)
    code, s, err = _run([tmp_path])
    assert code == 1 and "read-only" in err
    assert (tmp_path / "a.py").read_text() == ACTOR


@pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                    reason="needs root to chown: runs in CI (.ci/run -> make test, as root); skipped for a "
                           "non-root developer")
def test_owner_and_mode_kept_when_root_rewrites(tmp_path):
    """Only root can give a file back to another owner, so only a root run proves the codemod does.

    CI runs the suite as root (``.ci/run`` -> ``make test`` on this machine), so this runs there. Under a
    ``CI`` variable without root it runs anyway and fails (chown is refused) instead of skipping, so CI
    can never silently stop covering it.
    """
    _tree(tmp_path, {"a.py": ACTOR})
    os.chown(tmp_path / "a.py", 4321, 4322)
    os.chmod(tmp_path / "a.py", 0o640)
    assert _run([tmp_path])[0] == 0
    st = os.stat(tmp_path / "a.py")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (4321, 4322, 0o640)
    assert (tmp_path / "a.py").read_text() == MIGRATED


def test_write_error_is_reported_and_leaves_no_temp(tmp_path, monkeypatch):
    _tree(tmp_path, {"a.py": ACTOR})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    code, s, err = _run([tmp_path])
    assert code == 1 and "write failed" in err and "No space left" in err
    assert (tmp_path / "a.py").read_text() == ACTOR
    assert _no_temps(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# symlinks
# --------------------------------------------------------------------------------------------------
def test_symlinks_inside_outside_dangling_and_loops(tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    _tree(tree, {"pkg/z_real.py": ACTOR, "pkg/plain.py": "x = 1\n"})
    _tree(outside, {"ext.py": ACTOR})
    os.symlink("z_real.py", tree / "pkg/a_link.py")           # sorts before its target
    os.symlink(tree / "pkg/z_real.py", tree / "b_abs_link.py")  # a second link to the same file
    os.symlink(outside / "ext.py", tree / "pkg/outside_link.py")
    os.symlink(tmp_path / "missing.py", tree / "pkg/dangling.py")
    os.symlink("..", tree / "pkg/loop")                        # directory loop: not followed
    os.symlink(outside, tree / "outdir")                       # directory link: not followed
    code, s, err = _run([tree])
    assert code == 0, err
    assert (tree / "pkg/z_real.py").read_text() == MIGRATED
    assert s.changed == 1 and s.sends == 1  # the file reached three ways is rewritten once
    _runs(tree / "pkg", {"z_real": [("A", "'x'", "'x'")]})
    for link in ("pkg/a_link.py", "b_abs_link.py", "pkg/outside_link.py", "pkg/dangling.py"):
        assert os.path.islink(tree / link), link
    assert (outside / "ext.py").read_text() == ACTOR  # never writes outside the given tree
    assert "outside the given paths; not followed" in err
    assert "%s (dangling symlink)" % (tree / "pkg/dangling.py") in err
    assert "same file as %s" % (tree / "pkg/z_real.py") in err
    assert not (tmp_path / "missing.py").exists()  # the dangling link is not "repaired"
    assert _no_temps(tree) == [] and _no_temps(outside) == []
    # naming the outside link explicitly follows it
    assert _run([tree / "pkg/outside_link.py"])[0] == 0
    assert (outside / "ext.py").read_text() == MIGRATED and os.path.islink(tree / "pkg/outside_link.py")


def test_symlink_into_tree_given_as_both_paths(tmp_path):
    _tree(tmp_path, {"a.py": ACTOR})
    os.symlink("a.py", tmp_path / "b.py")
    code, s, err = _run([tmp_path / "b.py", tmp_path / "a.py", tmp_path])
    assert code == 0, err
    assert s.changed == 1 and (tmp_path / "a.py").read_text() == MIGRATED and os.path.islink(tmp_path / "b.py")


# --------------------------------------------------------------------------------------------------
# files that change between analysis and write
# --------------------------------------------------------------------------------------------------
def _edit_same_size_keep_mtime(p: Path):
    st = os.stat(p)
    p.write_text(ACTOR.replace("msg)", "MSG)"))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))


def _touch(p: Path):
    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))


def _replace_by_rename(p: Path):
    tmp = p.with_name("new")
    tmp.write_text(ACTOR + "# replaced by a branch switch\n")
    os.replace(tmp, p)


@pytest.mark.parametrize("change,expect_err,keeps", [
    (_edit_same_size_keep_mtime, "changed on disk", lambda p: p.read_text() == ACTOR.replace("msg)", "MSG)")),
    (_touch, "changed on disk", lambda p: p.read_text() == ACTOR),
    (_replace_by_rename, "changed on disk", lambda p: p.read_text().endswith("# replaced by a branch switch\n")),
    (lambda p: p.write_text(""), "changed on disk", lambda p: p.read_text() == ""),
    (lambda p: p.unlink(), "cannot stat", lambda p: not p.exists()),
    (lambda p: (p.unlink(), p.mkdir()), "not a regular file", lambda p: p.is_dir()),
])
def test_file_changed_between_analysis_and_write(tmp_path, monkeypatch, change, expect_err, keeps):
    _tree(tmp_path, {"a.py": ACTOR, "b.py": ACTOR.replace("class A", "class B")})
    real = cli.rewrite_job

    def racing(job):
        if job[0].endswith("a.py"):
            change(tmp_path / "a.py")
        return real(job)

    monkeypatch.setattr(cli, "rewrite_job", racing)
    code, s, err = _run([tmp_path])
    assert code == 1 and "error: %s: %s" % (tmp_path / "a.py", expect_err) in err, err
    assert keeps(tmp_path / "a.py")
    assert (tmp_path / "b.py").read_text() == migrate_text(ACTOR.replace("class A", "class B"))
    assert s.failed == 1 and s.changed == 1
    assert _no_temps(tmp_path) == []
    _runs(tmp_path, {"b": [("B", "'x'", "'x'")]})


# --------------------------------------------------------------------------------------------------
# interrupted runs
# --------------------------------------------------------------------------------------------------
def _corpus(n: int):
    files = {}
    for i in range(n):
        files["m%04d.py" % i] = ACTOR.replace("class A", "class A%d" % i) + "\n# padding %s\n" % ("x" * (i % 50))
    return files


def test_keyboard_interrupt_mid_write_leaves_whole_files_and_no_temps(tmp_path, monkeypatch, capsys):
    files = _corpus(20)
    _tree(tmp_path, files)
    real_replace = os.replace
    calls = []

    def replace_then_interrupt(src, dst):
        calls.append(dst)
        if len(calls) == 6:
            raise KeyboardInterrupt  # arrives after the temp file is written, before the rename
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    assert main(["codemod", "--jobs", "1", str(tmp_path)]) == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(os, "replace", real_replace)
    done = [rel for rel, text in files.items() if (tmp_path / rel).read_text() == migrate_text(text)]
    intact = [rel for rel, text in files.items() if (tmp_path / rel).read_text() == text]
    assert len(done) == 5 and len(intact) == 15
    assert _no_temps(tmp_path) == []
    assert main(["codemod", "--jobs", "1", str(tmp_path)]) == 0  # re-running finishes the job
    assert all((tmp_path / rel).read_text() == migrate_text(t) for rel, t in files.items())
    _runs(tmp_path, {"m0000": [("A0", "'x'", "'x'")], "m0019": [("A19", "'y'", "'y'")]})


def _run_and_kill(root: Path, watched: Path, original: bytes, sig: int, env):
    proc = subprocess.Popen([sys.executable, "-m", "codemod", "codemod", "--jobs", "1", "--quiet", str(root)],
                            cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if watched.read_bytes() != original:  # that write landed: writes are under way
                os.kill(proc.pid, sig)
                killed = True
                break
        except OSError:
            pass
    out, err = proc.communicate(timeout=60)
    return proc, killed, err.decode()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_process_killed_mid_run(tmp_path, sig):
    files = _corpus(250)
    expected = {rel: migrate_text(text).encode() for rel, text in files.items()}
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for attempt in range(3):
        root = tmp_path / ("corpus%d" % attempt)
        _tree(root, files)
        tenth = sorted(files)[10]  # kill once the 11th write has landed: well inside the write phase
        proc, killed, err = _run_and_kill(root, root / tenth, files[tenth].encode(), sig, env)
        states = {}
        for rel, text in files.items():
            data = (root / rel).read_bytes()
            assert data in (text.encode(), expected[rel]), "%s is half-written or wrong" % rel
            states[rel] = data == expected[rel]
        leftovers = sorted(set(os.listdir(root)) - set(files))
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and "interrupted" in err, err
            assert leftovers == []
        else:
            assert proc.returncode == -signal.SIGKILL
            # at most the one temp file being written at the moment of the kill, recognisably ours
            assert len(leftovers) <= 1
            for name in leftovers:
                m = TEMP_RE.match(name)
                assert m and int(m.group(1)) == proc.pid, name
        if killed and 0 < sum(states.values()) < len(files):
            print("\ninterrupted after %d of %d files (attempt %d), %d temp files left"
                  % (sum(states.values()), len(files), attempt + 1, len(leftovers)))
            break  # genuinely interrupted mid-way
    else:
        pytest.fail("could not interrupt the run mid-way in 3 attempts")
    if sig == signal.SIGKILL:
        # what a SIGKILL between mkstemp and rename leaves: a temp of the dead pid; the next run removes it
        stale = root / (".%s%s%d.abcd1234.tmp" % (sorted(files)[-1], TEMP_MARK, proc.pid))
        stale.write_bytes(b"partial")
        (root / "unrelated.tmp").write_bytes(b"not ours")
    code, s, err2 = _run([root])
    assert code == 0, err2
    assert all((root / rel).read_bytes() == expected[rel] for rel in files)
    assert sorted(set(os.listdir(root)) - set(files)) == (["unrelated.tmp"] if sig == signal.SIGKILL else [])
    if sig == signal.SIGKILL:
        assert "removed a temp file left by an interrupted run" in err2
    for rel in list(files)[:5]:
        _compiles((root / rel).read_bytes(), rel)
    _runs(root, {"m0000": [("A0", "'x'", "'x'")], "m0249": [("A249", "'y'", "'y'")]})


def test_temps_of_live_runs_and_dry_runs_are_left_alone(tmp_path):
    _tree(tmp_path, {"a.py": ACTOR})
    live = tmp_path / (".a.py%s%d.xyz.tmp" % (TEMP_MARK, os.getpid()))  # a run still in progress
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
    dead = tmp_path / (".a.py%s%s.xyz.tmp" % (TEMP_MARK, dead_pid))
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    assert _run([tmp_path], check=True)[0] == 1
    assert live.exists() and dead.exists()  # --check writes nothing, removes nothing
    assert clean_stale_temps([str(tmp_path)]) == [str(dead)]
    assert live.exists() and not dead.exists()
