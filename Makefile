# Everything a fresh machine needs: `make demo` and `make test` set up on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# a CPU build of torch; an unpinned torch pulls a multi-GB CUDA build
TORCH ?= torch==2.13.0
OUT ?= runs/demo

.PHONY: setup demo test test-fast clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]" "$(TORCH)"
	$(PY) -m voicebot.setup_models
	touch $@

demo: setup
	$(VENV)/bin/voicebot call audio_samples/ --out $(OUT)
	@echo "--- $(OUT)/summary.csv"; cat $(OUT)/summary.csv

test: setup
	$(PY) -m pytest -q tests

test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

clean:
	rm -rf $(VENV) runs .pytest_cache
