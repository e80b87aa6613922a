# `make run`  - create .venv, install the suite (what running needs, no test extras), run the
#               default comparison (the material's 2-D paths and its MNIST comparison, on digits
#               offline).
# `make test` - create .venv, install with test extras, lint (ruff), run the test suite on TensorFlow with
#               oneDNN on, the group-equality tests again with oneDNN off, then the optimizer
#               tests marked `all_backends` on Keras's JAX and PyTorch back-ends
#               (TensorFlow-only tests are skipped there, with their reason).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run test bench clean

# Python 3.11 or newer (tomllib); setup.cfg's python_requires makes pip refuse older ones too.
$(BIN)/activate:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"this suite needs Python 3.11 or newer, and $(PYTHON) is " + sys.version.split()[0] + \
		": run make with PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What running needs; `make test` adds the test extra (jax, optax, torch: over a gigabyte).
$(VENV)/.installed-run: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-run $(VENV)/.installed-bench

# The benchmarks run batches on Ray too (benchmarks/batch_scaling.py).
$(VENV)/.installed-bench: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[ray]"
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/python -m experiments run naive2d mnist --logdir logs

# One intra-op thread a process in the back-end runs: two xdist workers on two cores, and
# PyTorch's small eager ops slow down several-fold when each worker also starts two threads.
BACKEND_TESTS = OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -m all_backends --durations=5 tests/custom_optimizers

# oneDNN picks kernels by CPU and by how an op is fed: a group must equal its runs alone with
# oneDNN's kernels and without them (TensorFlow's own), on whatever CPU runs the tests.
# --dist loadscope: a test module's tests stay on one worker, so a module's fixtures (a batch
# trained once, a TensorBoard server, a Ray cluster) are made once, not once per worker.
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	TF_ENABLE_ONEDNN_OPTS=1 $(BIN)/python -m pytest -n 2 --dist loadscope --durations=15
	TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python -m pytest -n 2 --dist loadscope -m group_equality --durations=5 tests/experiments
	KERAS_BACKEND=jax $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(BACKEND_TESTS)

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/optimizer_step.py
	$(BIN)/python benchmarks/logging_overhead.py
	$(BIN)/python benchmarks/batch_scaling.py
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
