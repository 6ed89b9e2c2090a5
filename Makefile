# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint soak run clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The modules setup.py compiles with mypyc (listed in monitor/compiled.py): the install
# builds them, so it runs again when one of them changes.
COMPILED := $(shell $(PYTHON) -c "import runpy; print(' '.join(m.replace('.', '/') + '.py' \
	for m in runpy.run_path('monitor/compiled.py')['MODULES']))")
BUILD_INPUTS := pyproject.toml setup.py monitor/compiled.py $(COMPILED)

# Stamp files re-run the install when the package definition or a compiled module changes.
$(VENV)/.installed: $(BUILD_INPUTS) | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BUILD_INPUTS) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/vigil demo

run: $(VENV)/.installed
	$(BIN)/vigil run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(VENV)/.installed-test
	scripts/ensure-postgres.sh
	scripts/install-test-tools.sh
	$(MAKE) lint
	$(BIN)/pytest -q

soak: $(VENV)/.installed-test
	$(BIN)/pytest -q -m soak

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
