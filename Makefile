# Two commands for a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test test-quick lint check clean chromium bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed

## run: install, migrate the database and start the bot (console mode without Slack/Microsoft credentials)
run: $(VENV)/.installed
	$(BIN)/baerekraft-bot run

## test: install with the test extra and run the whole suite: the quick tests in parallel, then the
## ones that start real processes or a browser (marker `slow`) one at a time, as they time real waits
test: $(VENV)/.installed-test chromium
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m slow -n 0 $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: none selected

## test-quick: the tests that start no process or browser (under a minute)
test-quick: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

## bench: benchmarks against local fakes (a few minutes; not part of `make test`): prints one table and
## writes it to bench/results/<timestamp>.json and bench/results/latest.json (see README, "Benchmarks")
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

## chromium: Debian's chromium for the browser tests, when missing and we are root with apt-get
## (never a browser download; without it the browser tests skip, or fail when CI is set)
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
			|| echo "chromium could not be installed: the browser tests will skip (or fail under CI)"; \
	fi

## lint: ruff and mypy
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
