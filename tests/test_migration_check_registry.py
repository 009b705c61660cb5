"""The rule registry: one table, one module per rule with its documentation, found by its code."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from codemod import check
from codemod.check import rules

RULES_DIR = Path(rules.__file__).parent


def test_each_code_lives_in_its_own_module_named_after_it():
    modules = sorted(p.stem for p in RULES_DIR.glob("tt*.py"))
    assert [m.split("_")[0].upper() for m in modules] == list(check.RULES)
    for name in modules:
        mod = importlib.import_module("codemod.check.rules." + name)
        rule = mod.RULE
        assert name == "%s_%s" % (rule.code.lower(), rule.name.replace("-", "_"))
        assert callable(mod.check)
        assert rule.what and rule.why and rule.how, rule.code
        assert check.RULES[rule.code] is rule


@pytest.mark.parametrize("code", ["TT004", "tt008"])
def test_explain_prints_what_why_and_how(code, capsys):
    assert check.main(["--explain", code]) == 0
    out = capsys.readouterr().out
    rule = check.RULES[code.upper()]
    assert out.startswith("%s %s (%s)" % (rule.code, rule.name, rule.level))
    for title in ("What it does", "Why it matters", "How to fix"):
        assert title in out
    assert " ".join(rule.why.split()) in out


def test_explain_unknown_code_is_a_usage_error(capsys):
    assert check.main(["--explain", "TT123"]) == 2
    assert "unknown rule code 'TT123'" in capsys.readouterr().err


def test_json_and_sarif_carry_unknown_sites(tmp_path, monkeypatch):
    (tmp_path / "helper.py").write_text(
        "from thespian.actors import ActorTypeDispatcher\n\n\n"
        "def tell(actor, to, text):\n    actor.send(to, text)\n\n\n"
        "class A(ActorTypeDispatcher):\n    def receiveMsg_str(self, msg, sender):\n"
        "        tell(self, sender, msg)\n")
    monkeypatch.chdir(tmp_path)
    assert check.main(["helper.py", "--format", "json", "-o", "out.json"]) == 1
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["counts"]["new"] == {"TT002": 1, "TT008": 1}
    assert doc["adoption"]["unknown"] == 1 and doc["adoption"]["coverage"] == 0.0
    assert check.main(["helper.py", "--format", "sarif", "-o", "out.sarif"]) == 1
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    tt008 = [r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "TT008"][0]
    assert "Why it matters" in tt008["help"]["text"]
