# `make demo` and `make test` each set up .venv when it is missing or stale, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_MLFLOW := .venv-bench-mlflow
BENCH_DVC := .venv-bench-dvc
BENCH_FEAST := .venv-bench-feast
BENCH_EVIDENTLY := .venv-bench-evidently

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "cairn needs Python 3.11 or newer: set PYTHON=python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	rm -rf .demo && mkdir -p .demo
	cd .demo && CAIRN_HOME="$(CURDIR)/.demo/.cairn" ../$(BIN)/python ../examples/demo.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The anchor tools live in virtualenvs of their own: their pins conflict with ours.
$(BENCH_MLFLOW)/.installed:
	$(PYTHON) -m venv $(BENCH_MLFLOW)
	$(BENCH_MLFLOW)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_MLFLOW)/bin/python -m pip install --quiet 'mlflow==3.17.2'
	@touch $@

$(BENCH_DVC)/.installed:
	$(PYTHON) -m venv $(BENCH_DVC)
	$(BENCH_DVC)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_DVC)/bin/python -m pip install --quiet 'dvc==3.67.1'
	@touch $@

# Feast pins pandas<3 itself: its resolver picks a pandas 2 release.
$(BENCH_FEAST)/.installed:
	$(PYTHON) -m venv $(BENCH_FEAST)
	$(BENCH_FEAST)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_FEAST)/bin/python -m pip install --quiet 'feast[duckdb,redis]==0.67.0'
	@touch $@

# pandas 3.1 breaks Evidently's import.
$(BENCH_EVIDENTLY)/.installed:
	$(PYTHON) -m venv $(BENCH_EVIDENTLY)
	$(BENCH_EVIDENTLY)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_EVIDENTLY)/bin/python -m pip install --quiet 'evidently==0.7.23' 'pandas<3'
	@touch $@

bench: $(STAMP) $(BENCH_MLFLOW)/.installed $(BENCH_DVC)/.installed $(BENCH_FEAST)/.installed \
	$(BENCH_EVIDENTLY)/.installed
	$(BIN)/python benchmarks/tracking.py --mlflow-python $(BENCH_MLFLOW)/bin/python
	$(BIN)/python benchmarks/pipelines.py --dvc $(BENCH_DVC)/bin/dvc
	$(BIN)/python benchmarks/registry.py --mlflow-python $(BENCH_MLFLOW)/bin/python
	$(BIN)/python benchmarks/serving.py --mlflow-python $(BENCH_MLFLOW)/bin/python
	$(BIN)/python benchmarks/evaluation.py
	$(BIN)/python benchmarks/features.py --feast-python $(BENCH_FEAST)/bin/python
	$(BIN)/python benchmarks/drift.py --evidently-python $(BENCH_EVIDENTLY)/bin/python

clean:
	rm -rf $(VENV) $(BENCH_MLFLOW) $(BENCH_DVC) $(BENCH_FEAST) $(BENCH_EVIDENTLY) .demo \
		.pytest_cache .ruff_cache
