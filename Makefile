# graphmem — everything a fresh machine needs: `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.graphmem-setup
# Capabilities whose contract file in ../shared/contract must pass.
CONTRACT_BUILT ?= core semantic paths composed
CONTRACT_DIR   ?= ../shared/contract
ENGINES        ?= kuzu ladybug

.PHONY: setup demo test test-fast bench bench-quick clean

setup: $(STAMP)

# torch==2.13.0 first: it is a CPU build on local disk here, and a bare torch
# pulled in by sentence-transformers would download a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[model,ladybug,dev,mcp,metrics,cluster]'
	touch $(STAMP)

demo: setup
	$(PY) -m graphmem demo

# The engine-independent tests and doctests run once; the engine tests run once
# per engine, each in its own process (kuzu and ladybug cannot share one).
test: setup
	$(PY) -m pytest -q -m "not slow"
	for engine in $(filter-out kuzu,$(ENGINES)); do \
		GRAPHMEM_ENGINE=$$engine $(PY) -m pytest -q -m "engine and not slow" -o addopts="-ra --strict-markers" tests || exit 1; \
	done
	@if [ -d $(CONTRACT_DIR) ]; then \
		for engine in $(ENGINES); do for cap in $(CONTRACT_BUILT); do \
			echo "contract $$cap on $$engine"; \
			GRAPHMEM_ENGINE=$$engine $(PY) -m pytest -q -p no:cacheprovider -o addopts="" \
				--rootdir=$(CONTRACT_DIR) $(CONTRACT_DIR)/test_contract_$$cap.py || exit 1; \
		done; done; \
	else echo "no $(CONTRACT_DIR): contract tests skipped"; fi

bench: setup
	$(PY) -m benchmarks.run --sizes 10000,100000,1000000

bench-quick: setup
	$(PY) -m benchmarks.run --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info
