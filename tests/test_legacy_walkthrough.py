"""The legacy-app walkthrough end to end: check fails -> codemod -> check passes -> connected traces."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocTCPBase"])
def test_walkthrough_migrates_the_legacy_app_and_it_emits_connected_traces(base, tmp_path):
    original = {p: open(os.path.join(ROOT, "examples", "legacy_app", p), "rb").read()
                for p in os.listdir(os.path.join(ROOT, "examples", "legacy_app")) if p.endswith(".py")}
    res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "legacy_walkthrough.py"),
                          "--base", base, "--workdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    step2, step3 = out.index("2. the CI gate fails"), out.index("3. the codemod")
    step4, step5 = out.index("4. the CI gate passes"), out.index("5. the migrated app")
    assert "(exit 1)" in out[step2:step3] and "TT001" in out[step2:step3]
    assert "6 sends rewritten, 2 classes rebased, 1 external calls rewritten" in out[step3:step4]
    assert "100% traced" in out[step4:step5] and "(exit 0)" in out[step4:step5]
    assert "order A-17: 3 items, total 9.75, audited #1" in out[step5:]
    assert "in 2 traces (one per order)" in out
    migrated = (tmp_path / "legacy_app" / "actors.py").read_text()
    assert "self.traced_send(" in migrated and "self.send(" not in migrated
    # The walkthrough works on a copy: the example app itself stays untraced.
    for name, content in original.items():
        assert open(os.path.join(ROOT, "examples", "legacy_app", name), "rb").read() == content
