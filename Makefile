# Set-up and day-to-day commands. Both `run` and `test` create .venv/ when it is missing.
# `run` installs only what running needs, from PyPI, once (then it works offline); `test` adds
# the dev extra (pytest, the checkers, vietnamadminunits). pip shows its progress.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NATIVE := $(VENV)/.native

.PHONY: run lint test bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@echo "Installing Loa's runtime dependencies into $(VENV)/ (once; a few minutes)…"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on -e .
	touch $(STAMP)

# The dev extra's install leaves the compiled modules as the runtime install built them
# (LOA_PURE_PYTHON=1 here only skips compiling them a second time; see $(NATIVE)).
$(DEV_STAMP): $(STAMP)
	@echo "Adding the test and checker dependencies (the dev extra)…"
	LOA_PURE_PYTHON=1 $(PY) -m pip install --progress-bar on -e '.[dev]'
	touch $(DEV_STAMP)

# The classifier's hot modules compiled with mypyc (classify/native.py, setup.py): the install
# above builds them; this builds them again (30-60 s) when a source changed since, and checks
# in a few milliseconds otherwise. Where they cannot be built they run as Python.
$(NATIVE): $(STAMP) setup.py $(wildcard classify/*.py classify/*.c)
	$(PY) scripts/build_native.py
	@touch $(NATIVE)

run: $(STAMP) $(NATIVE)
	$(PY) bot.py run

# The checkers (README, Checks): style and bugs, types, then the layer contracts.
lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Three workers (pytest-xdist) on two cores: a test mostly waits on sockets, processes and the
# databases, and a third worker fills those waits (212 s with two, 180-194 s with three, at
# rest); the slow tests start first. Bytecode is written even where PYTHONDONTWRITEBYTECODE is
# set: the suite starts each worker and dozens of `bot.py` processes, and each would otherwise
# compile (and assert-rewrite) every module anew.
# A quick loop while working: `$(PY) -m pytest -q -m "not slow" tests/...`.
test: lint $(NATIVE)
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n 3 --dist worksteal

bench: $(STAMP) $(NATIVE)
	$(PY) bench/ingest.py
	$(PY) bench/classify_eval.py
	$(PY) bench/delivery.py
	$(PY) bench/opml_import.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build
	rm -f classify/*.so classify/native.sha256 loa_classify__mypyc.*.so
