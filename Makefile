# iacgrade: two commands set everything up on a fresh machine.
#   make demo   install, then grade samples/ into out/demo
#   make test   install, then ruff, mypy and pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out
# The corpus of one kind of answer: make eval KIND=cfn-yaml (cdk-py, cdk-ts, cdk-js, cfn-yaml, cfn-json).
KIND ?= cdk-py
CORPUS ?= ../shared/corpus/$(KIND)

.PHONY: install system-deps demo test lint bench ray-compare eval loadtest snapshots docs clean

# Debian packages, installed only when missing: bubblewrap (the sandbox) for everything, chromium
# only for the dashboard test. Without apt or root/sudo this warns and goes on: grading works
# without bubblewrap (weaker isolation, it says so), and the dashboard test skips locally but
# fails under CI=true.
APT_PACKAGES := bubblewrap
system-deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
	  cmd=$$pkg; [ $$pkg = bubblewrap ] && cmd=bwrap; \
	  command -v $$cmd >/dev/null || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null \
	      || echo "warning: could not install$$missing; going on without" >&2; \
	  else \
	    echo "warning: missing$$missing and no apt-get with root or sudo to install it; going on without" >&2; \
	  fi; \
	fi
	@command -v node >/dev/null || { echo "Node.js is required (aws-cdk-lib runs on it): install it first" >&2; exit 1; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# The Node toolchain of the CDK TypeScript/JavaScript kinds (aws-cdk-lib, constructs, typescript):
# installed from its committed lock, again only when the lock changes; nothing is fetched at grading.
NODE_TOOLCHAIN := toolchain/node
NODE_STAMP := $(NODE_TOOLCHAIN)/node_modules/.installed
$(NODE_STAMP): $(NODE_TOOLCHAIN)/package-lock.json
	cd $(NODE_TOOLCHAIN) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $(NODE_STAMP)

# Bytecode for the project's own modules, compiled once here (only what changed): an editable
# install leaves none, and with PYTHONDONTWRITEBYTECODE set, or in the sandbox's read-only tree,
# every command and every worker would compile ~100 modules again at start (~0.2 s each time).
install: system-deps $(STAMP) $(NODE_STAMP)
	@$(PY) -m compileall -q graders reports iacgrade

# The ray extra (tests/test_ray.py starts a two-node cluster on this machine with it).
RAY_STAMP := $(VENV)/.installed-ray
$(RAY_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,ray]'
	@touch $(RAY_STAMP)

demo: install
	$(VENV)/bin/iacgrade grade samples --out $(OUT)/demo
	@echo "reports: $(OUT)/demo/<sample>/report.md, table: $(OUT)/demo/results.csv"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: APT_PACKAGES += chromium
test: install $(RAY_STAMP) lint
	$(VENV)/bin/pytest -q

# make bench: each kind's corpus apart (BENCH_KINDS), one after another; make bench KIND=cfn-yaml
# (or CORPUS=...): that one alone. CloudFormation and CDK TypeScript (cdk-ts) print their own phases
# and targets.
BENCH_KINDS ?= cdk-py cdk-ts cfn-yaml cfn-json
bench: install
ifeq ($(origin KIND)$(origin CORPUS),filefile)
	@for k in $(BENCH_KINDS); do \
	  echo "== make bench KIND=$$k =="; \
	  $(PY) scripts/bench.py --corpus ../shared/corpus/$$k --workers 2 --subset 12 || exit 1; echo; \
	done
else
	$(PY) scripts/bench.py --corpus $(CORPUS) --workers 2 --subset 12
endif

# The corpus graded by the local executor (2 workers) and on a local Ray cluster (2 nodes x 1 CPU).
ray-compare: install $(RAY_STAMP)
	$(PY) scripts/ray_compare.py --corpus $(CORPUS)

eval: install
	$(PY) scripts/eval.py --corpus $(CORPUS)

# iacgrade serve under 8 concurrent clients, 500 mixed requests (LOADTEST_ARGS=--no-synth: source only)
loadtest: install
	$(PY) scripts/loadtest.py --requests 500 --clients 8 $(LOADTEST_ARGS)

snapshots: install
	$(PY) scripts/update_snapshots.py

docs: install
	$(PY) scripts/gen_docs.py

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache .mypy_cache
