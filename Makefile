# care: the two commands are `make run` (the service on embedded defaults) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: lock setup assets artifacts run test lint typecheck pytest eval bench redis wrk front clean deploy-tools deploy-check

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first, pinned: any other spec may pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	# every other package at the version in constraints.txt: a fresh clone gets what the suite passed with
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

lock: setup  # after changing dependencies in pyproject.toml: pin what is installed now
	{ echo "# Exact versions the suite last passed with (\`make lock\` rewrites this from .venv); \`make setup\` installs with -c."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^#'; } > constraints.txt

assets: setup
	$(BIN)/care data fetch
	$(BIN)/care models pull

redis:
	@$(BIN)/python -c "import redis,sys; redis.Redis.from_url('$(REDIS_URL)', socket_connect_timeout=1).ping()" 2>/dev/null \
	  || redis-server --daemonize yes --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 0.1; done; echo "redis did not start" >&2; exit 1

run: artifacts
	$(BIN)/care serve --host 127.0.0.1  # loopback; the ready line says whether writes need CARE_API_KEY

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

deploy-tools:
	bash deploy/check-tools.sh

deploy-check: setup deploy-tools
	$(BIN)/pytest -q tests/deploy

artifacts: assets
	$(BIN)/care train --if-missing

wrk:  # the load generator of the service benches and their tests
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

front:  # HAProxy: care serve --accept queue, its tests and the tail bench
	command -v haproxy >/dev/null || (apt-get update -qq && apt-get install -y -qq haproxy)

pytest: artifacts redis deploy-tools wrk front
	$(BIN)/pytest -q

test: lint typecheck pytest

eval: artifacts
	$(BIN)/care eval --llm-users 50 --name make-eval

bench: artifacts redis wrk front
	$(BIN)/care bench features
	$(BIN)/care bench cascade
	$(BIN)/care bench llm
	$(BIN)/care bench service
	$(BIN)/care bench service --items 1000000
	$(BIN)/care bench store
	$(BIN)/care bench ab-report

clean:
	rm -rf $(VENV) deploy/.venv build *.egg-info
