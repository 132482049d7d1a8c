# make run: set up and start LedGrab. make test: set up and run the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-slow bench lint format clean

$(VENV)/.run-installed: pyproject.toml
	scripts/system-deps.sh run
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	scripts/system-deps.sh test
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/ledgrab serve

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

# The slow tests, then the amd64 image built and booted, and booted again on the previous image's data.
test-slow: $(VENV)/.dev-installed
	$(BIN)/pytest -m slow $(PYTEST_ARGS)
	$(MAKE) image-smoke image-upgrade-smoke

bench: $(VENV)/.dev-installed
	@set -e; for script in benchmarks/[!_]*.py; do \
		echo "== $$script"; $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts

-include image/image.mk
