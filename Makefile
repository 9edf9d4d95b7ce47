# graphmem — everything a fresh machine needs: `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.graphmem-setup
# Capabilities whose contract file in ../shared/contract must pass.
CONTRACT_BUILT ?= core semantic paths composed
CONTRACT_DIR   ?= ../shared/contract
ENGINES        ?= kuzu ladybug

.PHONY: setup warm demo test test-fast bench bench-quick bench-setup clean

setup: $(STAMP)

# torch==2.13.0 first: it is a CPU build on local disk here, and a bare torch
# pulled in by sentence-transformers would download a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[model,ladybug,dev,mcp,metrics,cluster,langgraph]'
	$(PY) -m graphmem.warm
	touch $(STAMP)

# Compile the numba kernels into their on-disk cache (__pycache__ beside the
# sources, or NUMBA_CACHE_DIR), so a new install's first path query does not
# pay 16 s of compiling. setup runs it; again it only loads the cache (~2 s).
warm: setup
	$(PY) -m graphmem.warm

demo: setup
	$(PY) -m graphmem demo

# Two pytest workers (pytest-xdist), a test file each at a time: most of the
# suite waits on subprocesses (servers, the console in a terminal, crash
# harnesses) rather than computing, so two workers nearly halve the wall time
# on two cores. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# The engine-independent tests and doctests run once; the engine tests run once
# per engine, each in its own process (kuzu and ladybug cannot share one).
# The bench extra is installed too (binary wheels, ~70 MB, once per venv) so the
# benchmark report's smoke test measures every peer; it skips any that is missing.
# The layering of DESIGN.md is checked first (import-linter contracts in
# pyproject.toml, every module; about a second), then the types (mypy strict on
# graphmem/, configured in pyproject.toml: ~12 s of CPU from a cold cache,
# under a second warm).
test: setup bench-setup
	$(VENV)/bin/lint-imports
	$(PY) -m mypy graphmem
	$(PY) -m pytest -q -m "not slow" $(PARALLEL)
	for engine in $(filter-out kuzu,$(ENGINES)); do \
		GRAPHMEM_ENGINE=$$engine $(PY) -m pytest -q -m "engine and not slow" -o addopts="-ra --strict-markers" \
			$(PARALLEL) tests || exit 1; \
	done
	@if [ -d $(CONTRACT_DIR) ]; then \
		for engine in $(ENGINES); do for cap in $(CONTRACT_BUILT); do \
			echo "contract $$cap on $$engine"; \
			GRAPHMEM_ENGINE=$$engine $(PY) -m pytest -q -p no:cacheprovider -o addopts="" \
				--rootdir=$(CONTRACT_DIR) $(CONTRACT_DIR)/test_contract_$$cap.py || exit 1; \
		done; done; \
	else echo "no $(CONTRACT_DIR): contract tests skipped"; fi

# The benchmark extra (plots, peers): binary wheels only, installed once per venv.
BENCH_STAMP := $(VENV)/.graphmem-bench
bench-setup: $(BENCH_STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

# Timed runs take a lock so two of them never share the cores (several people
# work on one machine); flock comes with util-linux, and without it they just run.
LOCK := $(shell command -v flock >/dev/null 2>&1 && echo flock /tmp/graphmem-bench.lock)

# The full record: every suite at 10k, 100k and 1M into benchmarks/results/,
# then benchmarks/RESULTS.md and benchmarks/plots/ (hours: see benchmarks/README.md).
bench: bench-setup
	$(LOCK) $(PY) -m benchmarks.run --sizes 10000,100000,1000000

# A check in under 5 minutes: 10k entities, the suites of the headline tables,
# written to a temp directory (printed at the end), not to the record.
bench-quick: bench-setup
	$(LOCK) $(PY) -m benchmarks.run --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info
