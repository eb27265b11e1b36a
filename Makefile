# The two commands a new user needs: `make demo` and `make test`; `make check` is the fast loop.
# Every target bootstraps .venv from requirements.lock when it is missing or older than the lock.
# Python writes the bytecode of what it imports (into .venv and each folder's __pycache__,
# git-ignored) even where PYTHONDONTWRITEBYTECODE is set (this CI image sets it): otherwise every
# process compiles Prefect from source (`import prefect`: 3.1 s of CPU instead of 1.4 s; each
# flow run is a process). Only what is imported is compiled: all of the lock at install would
# be 35 CPU-seconds, most of it tests and tools nothing imports (pandas' tests, scipy, pip).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck bench lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python deployments/stack.py demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy hotdash_ops

# Everything, on three workers (more than the 2 cores: much of it waits on servers; the shared
# e2e stack's tests, the longest group, on one of them, first), with the 25
# slowest tests listed and a yardstick of the machine's speed (CI runs this).
test: lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider -n 3 --dist loadgroup --no-loadscope-reorder --durations=25 --yardstick

# The inner loop: lint, types, and every test that needs no Prefect server and no whole stack,
# on two workers.
check: lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadgroup --no-loadscope-reorder -m "not server and not e2e and not slow and not fly_verified"

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Regenerate the lock after changing pyproject.toml (needs network to PyPI).
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV)
