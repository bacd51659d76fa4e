# iacgrade: two commands set everything up on a fresh machine.
#   make demo   install, then grade samples/ into out/demo
#   make test   install, then ruff, mypy and pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out
CORPUS ?= ../shared/corpus/cdk-py

.PHONY: install system-deps demo test lint bench eval snapshots docs clean

# Debian packages the sandbox and the dashboard test need; installed only when missing.
system-deps:
	@missing=""; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "installing:$$missing"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v node >/dev/null || { echo "Node.js is required (aws-cdk-lib runs on it): install it first" >&2; exit 1; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: system-deps $(STAMP)

demo: install
	$(VENV)/bin/iacgrade grade samples --out $(OUT)/demo
	@echo "reports: $(OUT)/demo/<sample>/report.md, table: $(OUT)/demo/results.csv"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install lint
	$(VENV)/bin/pytest -q

bench: install
	$(PY) scripts/bench.py --corpus $(CORPUS) --workers 2 --subset 12

eval: install
	$(PY) scripts/eval.py --corpus $(CORPUS)

snapshots: install
	$(PY) scripts/update_snapshots.py

docs: install
	$(PY) scripts/gen_docs.py

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache .mypy_cache
