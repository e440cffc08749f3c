# Two environments: the engine (python3.10 + rasa 3.6.21) and the app (Python >= 3.11, our code).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENVS := .venvs
ENGINE := $(VENVS)/engine
APP := $(VENVS)/app
RASA := $(ENGINE)/bin/rasa
PY := $(APP)/bin/python
# The first working interpreter of each kind (pyenv shims may exist without the version behind them).
PY310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo $$p; break; }; done)
PY3 ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
export PYTHONWARNINGS := ignore::UserWarning
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: soak run-scaled help run test lint unit validate model nlu-eval nlu-cv stories e2e envs seed clean browser bench bench-quick bench-limits bench-metrics bench-insights bench-review bench-store

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

ENGINE_EXTRAS := engine/engine_speedups.py engine/engine_speedups.pth engine/engine_patch_action_schema.py \
	engine/engine_patch_model_loading.py engine/engine_patch_prediction.py engine/engine_patch_graph_runner.py \
	engine/engine_patch_sparse_features.py engine/engine_patch_events.py engine/engine_patch_endpoints.py \
	engine/engine_policies.py engine/engine_tracker_store.py engine/engine_lock_store.py \
	engine/engine_entity_filter.py

$(ENGINE)/.installed: requirements-engine.txt $(ENGINE_EXTRAS)
	@test -n "$(PY310)" || { echo "python3.10 is required for the engine (rasa 3.6 supports 3.8-3.10)"; exit 1; }
	$(PY310) -m venv $(ENGINE)
	$(ENGINE)/bin/pip install -q --upgrade pip wheel
	$(ENGINE)/bin/pip install -q -r requirements-engine.txt
	cp $(ENGINE_EXTRAS) \
		"$$($(ENGINE)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
	touch $@

$(APP)/.installed: pyproject.toml
	@test -n "$(PY3)" || { echo "Python >= 3.11 is required for the app"; exit 1; }
	$(PY3) -m venv $(APP)
	$(APP)/bin/pip install -q --upgrade pip
	$(APP)/bin/pip install -q -e '.[dev]'
	touch $@

envs: $(ENGINE)/.installed $(APP)/.installed ## create both environments

seed: envs ## create the store and load the catalogue (idempotent)
	$(APP)/bin/bot seed

model: envs ## train the model unless one for the current inputs exists
	$(PY) -m bot.model

run: envs seed model ## set everything up and start the assistant (Ctrl-C stops it)
	DEV_MODE=$${DEV_MODE:-true} $(PY) -m bot.serve

# Scale-out on this machine: PostgreSQL for the store and the tracker store, Redis lock store, two
# engine workers and two gateway replicas (ports 8000 and 8001), sharing state only through them.
SCALED_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
SCALED_TRACKER_STORE_URL ?= postgresql://postgres@127.0.0.1:5432/test
SCALED_LOCK_STORE_URL ?= redis://127.0.0.1:6379/0
SCALED = DATABASE_URL=$(SCALED_DATABASE_URL) TRACKER_STORE_URL=$(SCALED_TRACKER_STORE_URL) \
	LOCK_STORE_URL=$(SCALED_LOCK_STORE_URL) EVENTS_URL=$(SCALED_LOCK_STORE_URL) ENGINE_WORKERS=2 GATEWAY_REPLICAS=2

run-scaled: envs model ## the scale-out topology against the local PostgreSQL and Redis
	$(SCALED) $(APP)/bin/bot seed
	$(SCALED) DEV_MODE=$${DEV_MODE:-true} $(PY) -m bot.serve

lint: envs ## ruff, mypy and the layers (import-linter)
	$(APP)/bin/ruff check bot actions tests bench soak testkit
	$(APP)/bin/ruff format --check bot actions tests bench soak testkit
	# engine/ runs in the engine's Python 3.10
	$(APP)/bin/ruff check --target-version py310 engine
	$(APP)/bin/ruff format --check --target-version py310 engine
	$(APP)/bin/mypy bot actions bench soak testkit
	$(APP)/bin/lint-imports
	$(APP)/bin/bot nlu-check

unit: envs ## unit tests (no engine needed)
	$(APP)/bin/pytest -q -m "not e2e"

validate: envs ## rasa data validate
	$(RASA) data validate --fail-on-warnings --domain domain.yml --data data --config config.yml

nlu-eval: model ## NLU evaluation on the held-out test set (tests/nlu)
	$(RASA) test nlu --model $$($(PY) -c 'from bot.model import model_path; print(model_path())') \
		--nlu tests/nlu --out results/nlu
	$(PY) -m tests.tools.nlu_report results/nlu

nlu-cv: envs ## NLU cross-validation on the training data (finds confusions; not part of `make test`)
	$(RASA) test nlu --nlu data/nlu --config config.yml --cross-validation --folds 5 --out results/nlu-cv
	$(PY) -m tests.tools.nlu_report --cross-validation results/nlu-cv

stories: model ## conversation tests (test stories) with --fail-on-prediction-errors
	$(RASA) test core --model $$($(PY) -c 'from bot.model import model_path; print(model_path())') \
		--stories tests/stories --out results/core --fail-on-prediction-errors

browser: ## Debian's chromium for the real-browser tests (installed once, as root)
	@# Waits for another apt run (the machine's own, or a parallel job's) instead of failing on its lock.
	@command -v chromium >/dev/null || { apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium fonts-dejavu-core; }

e2e: model seed browser ## end-to-end tests: engine, action server, gateway, a real browser, fake Twilio
	$(APP)/bin/pytest -q -m e2e

test: lint unit validate model nlu-eval stories e2e bench-quick ## everything CI checks

clean: ## remove environments, models, results and the store
	rm -rf $(VENVS) models results var

bench: model ## benchmark: our stack vs a stock rasa init bot, closed and open loop (ARGS=--quick for a short run)
	$(PY) -m bench $(ARGS)

soak: model ## 40 msg/s for 10 min over both channels, then received/answered/delivered counts (ARGS=--faults, --scaled)
	$(PY) -m soak $(ARGS)

bench-limits: envs ## requests one client gets admitted per second, with and without cookies, on one and two gateways
	$(PY) -m bench.limits $(ARGS)

bench-metrics: envs ## what a /metrics scrape costs on a store of 100,000 texts and messages (ARGS=--postgres for PostgreSQL too)
	$(PY) -m bench.metrics $(ARGS)

bench-insights: envs ## how long the insights figures take on 100,000 conversations (ARGS=--postgres for PostgreSQL too)
	$(PY) -m bench.insights $(ARGS)

bench-review: envs ## what the CSAT survey check costs each message and the review page's read, on 100,000 conversations (ARGS=--postgres too)
	$(PY) -m bench.review $(ARGS)

bench-store: envs ## what one message's trips to the store cost the store thread, per channel (ARGS=--postgres for PostgreSQL too)
	$(PY) -m bench.store $(ARGS)

bench-quick: model ## the benchmark's quick mode at 20 msg/s open loop (a few seconds per step; what `make test` runs)
	$(PY) -m bench --quick --rates 20
