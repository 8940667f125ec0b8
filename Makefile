# Everything a fresh machine needs: `make demo` and `make test` set up on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# a CPU build of torch; an unpinned torch pulls a multi-GB CUDA build
TORCH ?= torch==2.13.0
OUT ?= runs/demo
NLU_MODEL ?= models/nlu
# two test files at a time (pytest-xdist; each file's tests stay on one worker, in order): half the
# suite is calls in real time that wait on the clock (CI's serial run took 18 min, over the
# 15-minute budget; two workers sharing one cache: 8-9 min here, README)
TEST_WORKERS ?= 2

.PHONY: setup coqui demo test test-fast bench other-cpu clean

setup: $(VENV)/.installed

# Debian packages: test voices (espeak-ng, flite, sox: scripts/system-deps.sh), PortAudio headers
# and a compiler to build PyAudio (the `live` extra, `voicebot talk`), PulseAudio for the virtual
# sound card the tests use, Chromium for the browser test of `voicebot serve`, PostgreSQL for the
# call-record test (a private server in a temporary directory; the Debian cluster is never started),
# baresip (a SIP softphone) for the test of `voicebot serve --sip`, Kamailio and HAProxy for the
# fronts before several workers (voicebot deploy; started by the tests in temporary directories)
LIVE_DEBS ?= portaudio19-dev gcc python3-dev pulseaudio pulseaudio-utils libasound2-plugins chromium postgresql baresip \
             kamailio haproxy

$(VENV)/.installed: pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh $(LIVE_DEBS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev,live,postgres,archive]" "$(TORCH)"
	$(PY) -m voicebot.setup_models
	touch $@

# Coqui TTS runs in its own virtualenv (torch 2.8 + torchaudio; its package `TTS` must not
# share a site-packages with our `tts`): see docs/coqui.md
coqui: setup
	bash scripts/setup-coqui.sh

# the trained multi-task NLU model; retrained when its data or config change
$(NLU_MODEL)/config.json: nlu/data/train.jsonl nlu/train_config.yml nlu/noisy.py | setup
	$(VENV)/bin/voicebot nlu-model train --config nlu/train_config.yml --data-dir nlu/data --model-dir $(NLU_MODEL)

demo: setup $(NLU_MODEL)/config.json
	$(VENV)/bin/voicebot call audio_samples/ --channel 0 --out $(OUT)
	@echo "--- $(OUT)/summary.csv"; cat $(OUT)/summary.csv

# the suite tests the Coqui engine too, so it sets Coqui up (once; a stamp makes it a no-op), and
# the NLU model that `make demo` uses (trained once, kept until its data or config change)
test: setup coqui $(NLU_MODEL)/config.json
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

bench: setup coqui
	$(VENV)/bin/voicebot bench asr --json runs/bench-asr.json --markdown runs/bench-asr.md --plot runs/bench-asr.png
	$(VENV)/bin/voicebot bench tts --repeats 5 --json runs/bench-tts.json --markdown runs/bench-tts.md --plot runs/bench-tts.png

# what voicebot hears and answers on a CPU without AVX-512 (QEMU user mode, emulated: ~45 min;
# not part of `make test`): scripts/other_cpu.py
other-cpu: setup $(NLU_MODEL)/config.json
	bash scripts/system-deps.sh qemu-user
	$(PY) scripts/other_cpu.py --cpu $(or $(CPU),EPYC-Rome) --json runs/other_cpu.json

clean:
	rm -rf $(VENV) .venv-coqui runs .pytest_cache
