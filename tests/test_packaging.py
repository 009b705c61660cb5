"""What `pip install thespian-trace` puts on a production host: thespian, opentelemetry-api and their
own dependencies, nothing the codemod needs (libcst, pathspec: the `codemod` extra).

A fresh virtualenv is checked by pip's resolver (`pip install --dry-run --report`) on a copy of the
project; the manual version of that check (a real venv, `pip install .`, `import thespian_trace`) is in
the closing notes of issue 14.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, entry_points, requires

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = {"thespian", "opentelemetry-api"}
CODEMOD = {"libcst", "pathspec"}


def _name(requirement):
    """PEP 503 normalised project name of a requirement string."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9._-]+)", requirement).group(1)).lower()


def _split(requirements):
    """(unconditional names, {extra: names}) of a distribution's Requires-Dist lines."""
    plain, extras = set(), {}
    for req in requirements or ():
        marker = req.split(";", 1)[1] if ";" in req else ""
        extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
        if extra:
            extras.setdefault(extra.group(1), set()).add(_name(req))
        else:
            plain.add(_name(req))
    return plain, extras


def test_installed_metadata_requires_only_thespian_and_opentelemetry_api():
    plain, extras = _split(requires("thespian-trace"))
    assert plain == RUNTIME, "unconditional requirements: %s" % sorted(plain)
    assert extras.get("codemod") == CODEMOD, extras
    for extra, names in extras.items():  # the SDK only ever comes with an extra
        assert extra != "" and names, (extra, names)
    found = entry_points()  # Python 3.9: a dict by group; 3.10+: select(group=...)
    group = found.select(group="pytest11") if hasattr(found, "select") else found.get("pytest11", ())
    # set(): Python 3.9 may list an editable distribution twice
    (plugin,) = {(ep.name, ep.value) for ep in group if ep.name == "thespian_trace"}
    assert plugin[1] == "pytest_thespian_trace"


def test_pyproject_agrees_with_the_installed_metadata():
    """The metadata above is the installed copy: a pyproject edit without `make venv` shows here."""
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    plain, extras = _split(requires("thespian-trace"))
    assert {_name(r) for r in project["dependencies"]} == plain
    assert {k: {_name(r) for r in v} for k, v in project["optional-dependencies"].items()} == extras


_IMPORT_CHECK = r"""
import os, sys
from importlib.metadata import distributions
before = set(sys.modules)
import thespian_trace
new = [sys.modules[m] for m in set(sys.modules) - before if m.split(".")[0] not in sys.stdlib_module_names]
owner = {}
for dist in distributions():
    for f in dist.files or ():
        if f.suffix == ".py":
            owner[os.path.realpath(str(dist.locate_file(f)))] = dist.metadata["Name"]
first_party = os.path.realpath(os.path.dirname(thespian_trace.__file__))
out = set()
for mod in new:
    path = getattr(mod, "__file__", None)
    if path is None:  # namespace package (opentelemetry): judged by its submodules
        continue
    path = os.path.realpath(path)
    out.add("thespian-trace" if path.startswith(first_party + os.sep) else owner.get(path, "?" + mod.__name__))
print("\n".join(sorted(out)))
"""


def _dependency_closure(names):
    """The installed distributions ``names`` need without extras (other markers ignored: a superset;
    a requirement not installed here, say for another Python version, cannot be imported anyway)."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            todo.extend(_split(requires(name))[0])
        except PackageNotFoundError:
            continue
        seen.add(name)
    return seen


@pytest.mark.skipif(sys.version_info < (3, 10), reason="needs sys.stdlib_module_names")
def test_importing_the_runtime_loads_only_its_declared_dependencies():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THESPIAN_TRACE_", "OTEL_"))}
    res = subprocess.run([sys.executable, "-c", _IMPORT_CHECK], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr
    loaded = {_name(n) if not n.startswith("?") else n for n in res.stdout.split()}
    allowed = _dependency_closure({"thespian-trace"})
    assert "thespian" in loaded and "opentelemetry-api" in loaded, loaded
    assert loaded <= allowed, "imported but not a runtime dependency: %s" % sorted(loaded - allowed)


_NETWORK_TROUBLE = re.compile(r"NewConnectionError|Temporary failure in name resolution|Network is "
                              r"unreachable|ConnectTimeout|ReadTimeout|Could not fetch URL")


def test_a_fresh_install_resolves_without_libcst_or_pathspec(tmp_path):
    """pip's resolver on a copy of the project, as for an empty venv (``--ignore-installed``)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "pytest_thespian_trace.py"):
        shutil.copy(os.path.join(ROOT, name), str(src / name))
    for package in ("thespian_trace", "codemod"):
        shutil.copytree(os.path.join(ROOT, package), str(src / package),
                        ignore=shutil.ignore_patterns("__pycache__"))
    report = tmp_path / "report.json"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                          "--quiet", "--report", str(report), str(src)],
                         capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    if res.returncode != 0 and _NETWORK_TROUBLE.search(res.stderr):
        pytest.skip("no package index reachable: %s" % res.stderr.strip().splitlines()[-1])
    assert res.returncode == 0, res.stderr
    names = {_name(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    assert {"thespian-trace"} | RUNTIME <= names, names
    assert not names & CODEMOD, names
    assert not {n for n in names if n.startswith("opentelemetry-") and n != "opentelemetry-api"}, names
