# Each target creates or refreshes .venv itself, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-fast bench bench-scale bench-doc bench-instructions clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[otlp,test,codemod]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) examples/guild_demo.py

# Everything, the multi-host (network-namespace) tests included; they skip with the reason where
# namespaces cannot be made (not root, no iproute2).
test: $(STAMP)
	$(PY) -m pytest

# A fast subset on any Python, in its own venv (.venv-X.Y): CI runs it on the oldest and newest
# Python the machine has, so the requires-python promise is tested.
#   make test-fast PYTHON=/root/.pyenv/versions/3.9.18/bin/python
FAST_TESTS := tests/test_runtime.py tests/test_envelope.py tests/test_sieve.py tests/test_sampling.py \
	tests/test_config.py tests/test_fanout.py tests/test_semconv.py tests/test_telemetry.py \
	tests/test_testing_helpers.py tests/test_convention.py tests/test_context_hygiene.py \
	tests/test_switches.py tests/test_reliability_carriers.py tests/test_reliability_faults.py \
	tests/test_fork_safety.py tests/test_leak_check.py tests/test_codemod.py \
	tests/test_migration_check_core.py tests/test_migration_check_rules.py tests/test_instrumentation.py \
	tests/test_observers.py tests/test_metrics.py tests/test_logs.py tests/test_extract_fast_path.py \
	tests/test_stack_headroom.py
FAST_DESELECT := -k "not hundreds"
FAST_VENV := .venv-$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

$(FAST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FAST_VENV)
	$(FAST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FAST_VENV)/bin/python -m pip install --quiet -e '.[otlp,test,codemod]'
	touch $@

test-fast: $(FAST_VENV)/.installed
	$(FAST_VENV)/bin/python -m pytest -q $(FAST_TESTS) $(FAST_DESELECT)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# The seed's scale: a 1,000,000-recipient fanout on simpleSystemBase, bare vs traced (about 5 minutes,
# under 1 GiB of memory per variant: 0.8 GiB peak at 1970c7d); writes benchmarks/results/scale.json.
bench-scale: $(STAMP)
	$(PY) benchmarks/bench_scale.py

# The simpleSystemBase ping-pong rows and the multiprocTCPBase metrics headline in instructions per
# message (valgrind's callgrind; the TCP table also gives minor faults per message): immune to a noisy
# neighbour, about three minutes on 2 cores.
bench-instructions: $(STAMP)
	$(PY) benchmarks/count_instructions.py

# Rewrite the results section of docs/performance.md from benchmarks/results/ (bench.json, scale.json).
bench-doc: $(STAMP)
	$(PY) benchmarks/refill_doc.py

clean:
	rm -rf $(VENV) .venv-* build *.egg-info
