"""Migrate the untraced legacy app, step by step, and show that it then emits connected traces.

    python examples/legacy_walkthrough.py [--base multiprocTCPBase] [--workdir DIR]

1. copy ``examples/legacy_app`` to a work directory (the original is never touched);
2. ``thespian-trace migration-check`` fails: untraced sends, untraced actor classes, untraced asks;
3. ``thespian-trace codemod --external`` rewrites them (and shows what it changed);
4. ``thespian-trace migration-check`` passes;
5. the migrated app runs unchanged otherwise, with tracing configured purely by environment
   (``THESPIAN_TRACE_AUTOCONFIGURE=otlp``) and exporting to an embedded OTLP collector: one connected
   trace per order, across Frontdoor, the Workers and the Auditor.
Exits 0 only if every step behaved as described.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from thespian_trace.testing import OTLPReceiver, build_trees, format_tree

HERE = os.path.dirname(os.path.abspath(__file__))
LEGACY = os.path.join(HERE, "legacy_app")


def _cli(*args: str) -> subprocess.CompletedProcess:
    """Run the ``thespian-trace`` command of this interpreter's environment."""
    cmd = [sys.executable, "-m", "codemod", *args]
    print("$ thespian-trace " + " ".join(args))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = (res.stdout + res.stderr).rstrip()
    for line in out.splitlines()[-12:]:
        print("    " + line)
    print("    (exit %d)" % res.returncode)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="simpleSystemBase",
                    choices=["simpleSystemBase", "multiprocQueueBase", "multiprocTCPBase"])
    ap.add_argument("--workdir", help="where to copy the app (default: a temporary directory)")
    args = ap.parse_args(argv)

    tmp = None
    if args.workdir:
        work = os.path.join(args.workdir, "legacy_app")
    else:
        tmp = tempfile.mkdtemp(prefix="legacy-walkthrough-")
        work = os.path.join(tmp, "legacy_app")
    try:
        shutil.copytree(LEGACY, work, ignore=shutil.ignore_patterns("__pycache__"))
        print("1. copied the legacy app to %s\n" % work)

        print("2. the CI gate fails on the untraced app:")
        if _cli("migration-check", work).returncode != 1:
            print("FAILED: migration-check should fail before the migration")
            return 1

        print("\n3. the codemod migrates it:")
        if _cli("codemod", "--external", work).returncode != 0:
            print("FAILED: the codemod did not succeed")
            return 1

        print("\n4. the CI gate passes:")
        if _cli("migration-check", work).returncode != 0:
            print("FAILED: migration-check should pass after the migration")
            return 1

        print("\n5. the migrated app, traced by environment alone (%s):" % args.base)
        with OTLPReceiver() as rx:
            env = dict(os.environ, THESPIAN_TRACE_AUTOCONFIGURE="otlp",
                       OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint, OTEL_SERVICE_NAME="legacy-app")
            run = subprocess.run([sys.executable, os.path.join(work, "main.py"), "--base", args.base],
                                 capture_output=True, text=True, timeout=120, env=env)
            for line in run.stdout.rstrip().splitlines():
                print("    " + line)
            if run.returncode != 0:
                print("FAILED: the migrated app exited %d\n%s" % (run.returncode, run.stderr))
                return 1
            try:
                spans = rx.wait_for(lambda s: _complete(s), timeout=30)
            except TimeoutError as exc:
                print("FAILED: %s" % exc)
                return 1
        trees = build_trees(spans)
        print("\n    %d spans in %d traces (one per order):" % (len(spans), len(trees)))
        for line in format_tree(spans, max_attrs=0).splitlines():
            print("      " + line)
        return 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _complete(spans) -> bool:
    """Two orders, each one trace rooted at the external ask and reaching every actor class."""
    trees = build_trees(spans)
    if len(trees) != 2:
        return False
    for roots in trees.values():
        if len(roots) != 1 or roots[0].record.name != "ask Order":
            return False
        names = {node.record.name for node in roots[0].walk()}
        if not {"process Frontdoor", "process Worker", "process Auditor"} <= names:
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())
