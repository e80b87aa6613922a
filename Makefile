# `make run`  - create .venv, install the suite, run the default comparison
#               (the material's 2-D paths and its MNIST comparison, on digits offline).
# `make test` - create .venv, install with test extras, run the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run test bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m experiments run naive2d mnist --logdir logs

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n 2 --durations=15

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/optimizer_step.py
	$(BIN)/python benchmarks/logging_overhead.py
	$(BIN)/python benchmarks/batch_scaling.py
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
