# Set-up and day-to-day commands. Both `run` and `test` create .venv/ when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run lint test bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) bot.py run

# The checkers (README, Checks): style and bugs, types, then the layer contracts.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Two workers (pytest-xdist): a test mostly waits on sockets and databases, so two processes
# nearly halve the time even on two cores; the slow tests start first. A quick loop while
# working: `$(PY) -m pytest -q -m "not slow" tests/...`.
test: lint
	$(PY) -m pytest -q -n 2 --dist worksteal

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/classify_eval.py
	$(PY) bench/delivery.py
	$(PY) bench/opml_import.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
