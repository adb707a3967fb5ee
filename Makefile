# The one interface for humans, hooks and CI.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch lies on this project's machines' disk; other versions download several GB.
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.installed-$(shell cat setup.cfg requirements/*.txt 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: install system-packages run test demo lint bench gpu-check fmt clean

install: $(STAMP) ## Create .venv with the project, its engines and the test tools
$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install -q -r requirements/install.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements/no-deps.txt
	$(BIN)/python -m taskgate.torchaudio_cpu
	rm -f $(VENV)/.installed-* && touch $@

system-packages: ## Install the Debian packages the tests need (requirements/debian.list), or name the command
	bash requirements/system_packages.sh

run: install ## Run the whole system (embedded Redis unless TASKGATE_REDIS_URL is set)
	$(BIN)/python -m taskgate run

test: install system-packages ## Run the test suite against real Redis, workers, ffmpeg and engines
	$(BIN)/python -m pytest

demo: install ## A video made here (speech, burnt-in subtitles) through audio, transcript, subtitles and OCR
	$(BIN)/python -m taskgate.demo

lint: install ## ruff and mypy (the gate CI runs)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: install ## Benchmarks: ratios against baselines measured in the same run
	$(BIN)/python -m bench

gpu-check: install ## On a GPU machine: each engine once on cuda, two at once under the memory lease (never in tests)
	$(BIN)/python -m bench.gpu_check

fmt: install ## Format and auto-fix
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean: ## Remove the venv, caches and local data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data *.egg-info
