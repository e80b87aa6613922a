# `make run`  - create .venv, install the suite, run the default comparison
#               (the material's 2-D paths and its MNIST comparison, on digits offline).
# `make test` - create .venv, install with test extras, run the test suite on TensorFlow,
#               then the optimizer tests marked `all_backends` on Keras's JAX and PyTorch
#               back-ends (TensorFlow-only tests are skipped there, with their reason).
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

# One intra-op thread a process in the back-end runs: two xdist workers on two cores, and
# PyTorch's small eager ops slow down several-fold when each worker also starts two threads.
BACKEND_TESTS = OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -m all_backends --durations=5 tests/custom_optimizers

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n 2 --durations=15
	KERAS_BACKEND=jax $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(BACKEND_TESTS)

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/optimizer_step.py
	$(BIN)/python benchmarks/logging_overhead.py
	$(BIN)/python benchmarks/batch_scaling.py
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
