"""migration-check core: baseline format and ratchet, reporters, SARIF schema, adoption summary.

These tests build findings directly; the end-to-end tests on real source live in
``test_migration_check_rules.py`` / ``test_migration_check_cli.py``.
"""
from __future__ import annotations

import json

import jsonschema
import pytest

from codemod import check
from codemod.check.render import as_github
from codemod.check import (
    BaselineEntry,
    BaselineError,
    Finding,
    PackageStats,
    Ratchet,
    Report,
    compare_baseline,
    format_baseline,
    parse_baseline,
)


def F(code="TT001", module="app.workers", cls="Worker", method="receiveMsg_Job", ordinal=1,
      line=10, col=9, path="app/workers.py", snippet="self.send(a, m)", message="untraced send"):
    return Finding(code=code, path=path, line=line, col=col, message=message, module=module,
                   cls=cls, method=method, ordinal=ordinal, snippet=snippet)


def report_for(new=(), accepted=(), stale=(), stats=(), baseline=None, min_cov=None):
    return Report(findings=list(new) + list(accepted),
                  ratchet=Ratchet(new=list(new), accepted=list(accepted), stale=list(stale)),
                  stats=list(stats), files_scanned=3, baseline_path=baseline,
                  update_command="thespian-trace migration-check app --baseline b.txt --update-baseline",
                  min_coverage=min_cov)


# ------------------------------------------------------------------------------------- baseline file
def test_baseline_roundtrip_sorted_one_per_line_deduplicated():
    entries = [BaselineEntry("TT001", "b.mod", "C", "m", 2), BaselineEntry("TT001", "a.mod", "C", "m", 1),
               BaselineEntry("TT002", "a.mod", "C", "-", 0), BaselineEntry("TT001", "a.mod", "C", "m", 1)]
    text = format_baseline(entries)
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert body == sorted(body) and len(body) == 3
    assert all(len(ln.split("\t")) == 5 for ln in body)
    assert parse_baseline(text) == sorted(set(entries))
    assert text.endswith("\n")


@pytest.mark.parametrize("bad", [
    "TT001\tmod\tC\tm\n",                   # too few fields
    "TT999\tmod\tC\tm\t1\n",                # unknown rule
    "TT001\tmod\tC\tm\tfirst\n",            # non-integer ordinal
    "<<<<<<< HEAD\nTT001\tmod\tC\tm\t1\n",  # merge conflict left in
    "TT001\t\tC\tm\t1\n",                   # empty module
])
def test_malformed_baseline_raises(bad):
    with pytest.raises(BaselineError):
        parse_baseline(bad)


def test_write_baseline_is_atomic_and_loadable(tmp_path):
    p = tmp_path / "baseline.txt"
    check.write_baseline(str(p), [F().key])
    assert check.load_baseline(str(p)) == [F().key]
    assert [x.name for x in tmp_path.iterdir()] == ["baseline.txt"]  # no temp file left behind


def test_load_missing_baseline_is_baseline_error(tmp_path):
    with pytest.raises(BaselineError):
        check.load_baseline(str(tmp_path / "nope.txt"))


# ------------------------------------------------------------------------------------------ ratchet
def test_ratchet_exact_match_accepts():
    r = compare_baseline([F(ordinal=1), F(ordinal=2)], [F(ordinal=1).key, F(ordinal=2).key])
    assert (len(r.accepted), r.new, r.stale) == (2, [], [])


def test_ratchet_line_moves_do_not_matter():
    before = [F(line=10), F(code="TT002", method="-", ordinal=0, line=3)]
    after = [F(line=110), F(code="TT002", method="-", ordinal=0, line=80)]
    r = compare_baseline(after, [f.key for f in before])
    assert (len(r.accepted), r.new, r.stale) == (2, [], [])


def test_ratchet_ordinal_shift_in_same_method_is_absorbed_by_count():
    # a traced send inserted above shifts the untraced one from ordinal 1 to 2
    r = compare_baseline([F(ordinal=2)], [F(ordinal=1).key])
    assert (len(r.accepted), r.new, r.stale) == (1, [], [])


def test_ratchet_new_send_in_method_is_new():
    r = compare_baseline([F(ordinal=1), F(ordinal=2, line=12)], [F(ordinal=1).key])
    assert [f.ordinal for f in r.new] == [2] and r.stale == []


def test_ratchet_new_send_elsewhere_is_new_even_if_another_was_fixed():
    r = compare_baseline([F(method="other")], [F().key])
    assert len(r.new) == 1 and r.stale == [F().key]


def test_ratchet_removed_send_is_stale():
    r = compare_baseline([F(ordinal=1)], [F(ordinal=1).key, F(ordinal=2).key])
    assert r.new == [] and r.stale == [F(ordinal=2).key]


def test_ratchet_without_baseline_everything_new():
    r = compare_baseline([F(), F(ordinal=2)], [])
    assert len(r.new) == 2 and r.accepted == []


# ----------------------------------------------------------------------------------------- summary
def test_package_stats_and_floor():
    s = PackageStats("app", traced=87, untraced=13)
    assert s.total == 100 and s.line().startswith("app: 100 send sites, 87% traced")
    assert check.pct(99.99) == "99.9%"  # never rounds up to 100%
    assert PackageStats("empty").coverage == 100.0
    rep = report_for(stats=[s], min_cov=90)
    assert rep.coverage_failed and rep.exit_code == 1
    assert any("coverage floor 90%: FAILED" in ln for ln in rep.summary_lines())
    rep = report_for(stats=[s], min_cov=87)
    assert not rep.coverage_failed and rep.exit_code == 0


def test_package_of():
    assert check.package_of("app.workers.pool") == "app.workers"
    assert check.package_of("script") == "<root>"


def test_exit_code_from_report():
    assert report_for().exit_code == 0
    assert report_for(new=[F()]).exit_code == 1
    assert report_for(accepted=[F()], baseline="b.txt").exit_code == 0
    assert report_for(stale=[F().key], baseline="b.txt").exit_code == 1


# ----------------------------------------------------------------------------------------- reporters
def test_text_format_is_ruff_like_with_fix_and_stale_hint():
    rep = report_for(new=[F()], stale=[F(method="gone").key], baseline="b.txt",
                     stats=[PackageStats("app", traced=3, untraced=1)])
    out = check.render_text(rep)
    first = out.splitlines()[0]
    assert first.startswith("app/workers.py:10:9: TT001 untraced send")
    assert "fix: thespian-trace codemod app/workers.py" in first
    stale = [ln for ln in out.splitlines() if "stale" in ln and "TT001" in ln]
    assert len(stale) == 1 and "receiveMsg_Job" not in stale[0] and ":Worker.gone #1" in stale[0]
    hint = [ln for ln in out.splitlines() if "remove stale entries with:" in ln]
    assert hint == ["b.txt: 1 stale entry; remove stale entries with: "
                    "thespian-trace migration-check app --baseline b.txt --update-baseline"]
    assert "adoption: 4 send sites, 75% traced" in out
    assert "app: 4 send sites, 75% traced" in out


def test_text_format_show_accepted_marks_baselined():
    rep = report_for(accepted=[F()], baseline="b.txt")
    assert "[baseline]" in check.render_text(rep, show_accepted=True)
    assert "TT001" not in check.render_text(rep).split("migration-check:")[0]


def test_every_rule_has_fix_and_manual_review_says_so():
    for code, rule in check.RULES.items():
        assert rule.fix
        f = F(code=code, path="a b/x.py")
        assert "a b/x.py" in f.fix or "manual review" in f.fix or code in ("TT005", "TT900")
    assert F(code="TT001", path="a b/x.py").fix == "thespian-trace codemod 'a b/x.py'"
    assert F(code="TT004").fix.startswith("manual review")


def test_json_format():
    rep = report_for(new=[F()], accepted=[F(method="old")], stale=[F(method="gone").key],
                     baseline="b.txt", stats=[PackageStats("app", traced=1, untraced=2)])
    doc = json.loads(check.render_json(rep))
    assert doc["exit_code"] == 1
    assert [(f["code"], f["baseline"]) for f in doc["findings"]] == [("TT001", "new"), ("TT001", "accepted")]
    f = doc["findings"][0]
    assert (f["path"], f["line"], f["col"], f["class"], f["method"], f["ordinal"]) == \
        ("app/workers.py", 10, 9, "Worker", "receiveMsg_Job", 1)
    assert f["fix"] == "thespian-trace codemod app/workers.py"
    assert doc["stale_baseline_entries"][0]["method"] == "gone"
    assert doc["adoption"]["send_sites"] == 3 and doc["adoption"]["coverage"] == pytest.approx(33.33)


def _gh_lines(out, kind):
    return [ln for ln in out.splitlines() if ln.startswith(f"::{kind} ")]


def test_github_annotations_within_limit(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    rep = report_for(new=[F(line=i, ordinal=i) for i in range(1, 4)] + [F(code="TT005", line=50)])
    out = check.render_github(rep)
    errors, warnings = _gh_lines(out, "error"), _gh_lines(out, "warning")
    assert len(errors) == 3 and len(warnings) == 1
    assert errors[0].startswith("::error file=app/workers.py,line=1,col=9,title=TT001 untraced-send::")
    assert "fix: thespian-trace codemod app/workers.py" in errors[0]


def test_github_annotations_summarised_beyond_limit(monkeypatch, tmp_path):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    new = [F(line=i, ordinal=i, path=f"pkg/m{i % 7}.py") for i in range(1, 31)]
    rep = report_for(new=new, stale=[F(method="gone").key], baseline="b.txt")
    out = check.render_github(rep)
    errors = _gh_lines(out, "error")
    assert len(errors) == 10  # GitHub shows at most 10 per type per step
    individual = [e for e in errors if "file=" in e]
    assert len(individual) == 8
    folded = [e for e in errors if "more errors not shown" in e]
    assert len(folded) == 1 and "22 more errors" in folded[0] and "TT001: 22" in folded[0]
    assert any("stale baseline" in e for e in errors)
    # every finding still appears in the log
    assert sum(1 for ln in out.splitlines() if ": TT001 " in ln) == 30
    md = summary.read_text()
    assert "FAILED" in md and "| TT001 untraced-send | 30 |" in md


def test_github_escaping():
    assert as_github.escape_data("50%\nnext") == "50%25%0Anext"
    assert as_github.escape_property("a,b:c") == "a%2Cb%3Ac"


# SARIF 2.1.0: the required fields of the official schema (sarif-schema-2.1.0.json, OASIS), restricted to
# the objects we emit: sarifLog{version, runs}, run{tool}, tool{driver}, toolComponent{name},
# reportingDescriptor{id}, result{message}, message{text|id}, physicalLocation{artifactLocation|address},
# region line/column minimum 1, multiformatMessageString{text}, suppression{kind},
# partialFingerprints: string values, baselineState/level/kind enums.
_MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
            "properties": {"text": {"type": "string"}, "id": {"type": "string"}}}
_MFMS = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
SARIF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"enum": ["2.1.0"]},
        "$schema": {"type": "string"},
        "runs": {"type": "array", "items": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "rules": {"type": "array", "items": {
                            "type": "object", "required": ["id"],
                            "properties": {
                                "id": {"type": "string"},
                                "shortDescription": _MFMS, "fullDescription": _MFMS, "help": _MFMS,
                                "defaultConfiguration": {"type": "object", "properties": {
                                    "level": {"enum": ["none", "note", "warning", "error"]}}},
                            }}},
                    }}}},
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "message": _MESSAGE,
                        "ruleId": {"type": "string"},
                        "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "baselineState": {"enum": ["new", "unchanged", "updated", "absent"]},
                        "partialFingerprints": {"type": "object",
                                                "additionalProperties": {"type": "string"}},
                        "suppressions": {"type": "array", "items": {
                            "type": "object", "required": ["kind"],
                            "properties": {"kind": {"enum": ["inSource", "external"]}}}},
                        "locations": {"type": "array", "items": {
                            "type": "object",
                            "properties": {"physicalLocation": {
                                "type": "object",
                                "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}],
                                "properties": {
                                    "artifactLocation": {"type": "object", "properties": {
                                        "uri": {"type": "string"}, "uriBaseId": {"type": "string"}}},
                                    "region": {"type": "object", "properties": {
                                        "startLine": {"type": "integer", "minimum": 1},
                                        "startColumn": {"type": "integer", "minimum": 1}}},
                                }}}}},
                    }}},
                "invocations": {"type": "array", "items": {
                    "type": "object", "required": ["executionSuccessful"],
                    "properties": {"toolExecutionNotifications": {"type": "array", "items": {
                        "type": "object", "required": ["message"],
                        "properties": {"message": _MESSAGE}}}}}},
            }}},
    },
}


def test_sarif_validates_and_has_content_fingerprints():
    rep = report_for(new=[F(), F(code="TT900", cls="-", method="-", ordinal=0, line=1, col=1)],
                     accepted=[F(method="old")], stale=[F(method="gone").key], baseline="b.txt",
                     stats=[PackageStats("app", traced=1, untraced=2)])
    doc = json.loads(check.render_sarif(rep))
    jsonschema.validate(doc, SARIF_SCHEMA)
    run = doc["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == list(check.RULES)
    for res in run["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert res["partialFingerprints"]["thespianTraceSite/v1"]
    states = sorted(r["baselineState"] for r in run["results"])
    assert states == ["new", "new", "unchanged"]
    unchanged = [r for r in run["results"] if r["baselineState"] == "unchanged"][0]
    assert unchanged["suppressions"][0]["kind"] == "external"
    assert "stale baseline entry" in json.dumps(run["invocations"])


def test_sarif_schema_rejects_broken_logs():
    """The hand-written schema is not vacuous."""
    good = json.loads(check.render_sarif(report_for(new=[F()])))
    jsonschema.validate(good, SARIF_SCHEMA)
    for mutate in (lambda d: d.pop("version"),
                   lambda d: d["runs"][0]["tool"]["driver"].pop("name"),
                   lambda d: d["runs"][0]["results"][0].pop("message"),
                   lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
                   .__setitem__("startLine", 0)):
        bad = json.loads(json.dumps(good))
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SARIF_SCHEMA)


def test_fingerprints_ignore_lines_but_not_content():
    a = check.fingerprints([F(line=10)])[0]
    assert a == check.fingerprints([F(line=99, col=1)])[0]
    assert a != check.fingerprints([F(snippet="self.send(b, m)")])[0]
    assert a != check.fingerprints([F(method="other")])[0]
    two = check.fingerprints([F(), F(line=20)])  # identical text twice in one method
    assert two[0] != two[1]


# ----------------------------------------------------------------------------- ratchet properties
from collections import Counter  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_site = st.tuples(st.sampled_from(["TT001", "TT004"]), st.sampled_from(["m1", "m2"]),
                  st.sampled_from(["A", "B"]), st.integers(0, 4))


@settings(max_examples=200, deadline=None)
@given(current=st.sets(_site, max_size=12), recorded=st.sets(_site, max_size=12))
def test_ratchet_properties(current, recorded):
    findings = [F(code=c, method=m, cls=k, ordinal=o) for c, m, k, o in current]
    entries = [F(code=c, method=m, cls=k, ordinal=o).key for c, m, k, o in recorded]
    r = compare_baseline(findings, entries)
    # every finding is either new or accepted, every entry either matched or stale
    assert sorted(map(id, r.new + r.accepted)) == sorted(map(id, findings))
    assert len(r.accepted) + len(r.stale) == len(entries)
    # per (rule, module, class, method) group: accepted = min(current, recorded)
    cur = Counter(f.key.group for f in findings)
    rec = Counter(e.group for e in entries)
    acc = Counter(f.key.group for f in r.accepted)
    for g in set(cur) | set(rec):
        assert acc[g] == min(cur[g], rec[g])
        assert Counter(f.key.group for f in r.new)[g] == max(cur[g] - rec[g], 0)
        assert Counter(e.group for e in r.stale)[g] == max(rec[g] - cur[g], 0)
    # a baseline written from the current findings accepts exactly them
    again = compare_baseline(findings, [f.key for f in findings])
    assert again.new == [] and again.stale == []
