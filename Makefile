# Two commands for a new user: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/china-1000.yaml
# every install step is pinned to the measured versions (pip freeze of the reference venv)
PIP_INSTALL := $(BIN)/python -m pip install --quiet -c constraints.txt

.PHONY: run test install install-dev data lint bench clean help

help:
	@echo "make run    - set up .venv, build the data cache, solve $(SCENARIO), print the map path"
	@echo "make test   - set up .venv with test extras and run the whole suite"
	@echo "make lint   - ruff and mypy (strict for planner/optimise), as CI runs them"
	@echo "make bench  - run the benchmarks (figures in benchmarks/RESULTS.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

data: install
	$(BIN)/planner data build $(SCENARIO)

run: install
	$(BIN)/planner data build $(SCENARIO) > /dev/null
	$(BIN)/planner run $(SCENARIO)

test: install-dev
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check planner tests benchmarks
	$(BIN)/mypy planner
	$(BIN)/mypy --strict --follow-imports=silent planner/optimise

bench: install-dev
	$(PIP_INSTALL) -e ".[bench]"
	$(BIN)/python benchmarks/bench_geodata.py
	$(BIN)/python benchmarks/bench_pmed.py
	$(BIN)/python benchmarks/bench_synthetic.py
	$(BIN)/python benchmarks/bench_spopt.py --skip-synthetic-pmedian
	$(BIN)/python benchmarks/bench_rollout.py
	$(BIN)/python benchmarks/bench_map.py

clean:
	rm -rf $(VENV) data/cache .pytest_cache
