"""Coqui TTS, run in its own virtualenv through a worker process.

Why a process: Coqui needs torchaudio, which on PyPI must match its torch exactly (2.8 here,
while the main venv has a CPU torch 2.13), and Coqui's package `TTS` must never share a
site-packages with our `tts`. So scripts/setup-coqui.sh builds .venv-coqui and this engine
runs tts/coqui_worker.py there with `python -I`, talking over stdin/stdout (the protocol is
described in the worker). Audio still streams: each sentence's audio is yielded as soon as
the worker sends it.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "coqui_worker.py"
SETUP_HINT = "run scripts/setup-coqui.sh"


def coqui_python() -> Path:
    """The interpreter of .venv-coqui (VOICEBOT_COQUI_PYTHON overrides it)."""
    return Path(os.environ.get("VOICEBOT_COQUI_PYTHON") or ROOT / ".venv-coqui" / "bin" / "python")


def is_path(voice: str) -> bool:
    """A local model (directory or Piper .onnx), not a Coqui model name like tts_models/en/ljspeech/vits."""
    if voice.startswith(("tts_models/", "voice_conversion_models/")):
        return False
    return "/" in voice or os.sep in voice or voice.startswith((".", "~")) or voice.endswith(".onnx") \
        or Path(voice).exists()


class CoquiTTS:
    name = "coqui"

    def __init__(self, voice: str | None = None, device: str = "auto", length_scale: float | None = None):
        python = coqui_python()
        if not python.exists():
            raise FileNotFoundError(f"Coqui TTS is not set up ({python} is missing): {SETUP_HINT}")
        if voice and is_path(voice):
            if not Path(voice).expanduser().exists():  # say so before paying for the worker's start
                raise FileNotFoundError(f"{voice}: no such Coqui model directory or Piper voice")
            voice = str(Path(voice).expanduser().resolve())
        options = {"voice": voice, "device": device, "length_scale": length_scale}
        self.proc = subprocess.Popen([str(python), "-I", str(WORKER), json.dumps(options)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # libraries log plenty on stderr: read it all the time (a full pipe would block the
        # worker) and keep the tail for error messages
        self.log: deque[str] = deque(maxlen=20)
        # (the thread must not hold `self`, or the engine would never be collected and closed)
        self._tail = threading.Thread(target=_keep_tail, args=(self.proc.stderr, self.log), daemon=True)
        self._tail.start()
        # one reply at a time goes through the pipes: a thread waits while another thread's
        # reply is being read; a reply its own thread dropped is skipped by the next one
        self.cond = threading.Condition()
        self._unread = False  # a reply not yet read to its end
        self._reader: int | None = None  # the thread reading it, None once it stopped
        self._stream = 0  # which synthesize() call owns the reply being read
        hello = self._header()
        if "error" in hello:
            self.close()
            raise RuntimeError(hello["error"])
        self.sample_rate = int(hello["sample_rate"])
        self.device = hello["device"]
        self.model = hello["model"]

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """One chunk per sentence. Read the reply to its end or close the generator (dropping
        it does): another thread's synthesize() waits for that."""
        if not text.strip():
            return
        if self.proc.stdin.closed:
            raise RuntimeError("Coqui TTS: the engine is closed")
        me = threading.get_ident()
        with self.cond:
            while self._reader not in (None, me):
                self.cond.wait()
            if self._unread:  # a reply dropped half read: skip its rest
                self._skip_reply()
            self._send(text)
            self._unread, self._reader = True, me
            self._stream += 1
            stream = self._stream
        try:
            while True:
                # the lock is not held across `yield`: this thread may drop this generator
                # and start another reply, which supersedes this one
                with self.cond:
                    if stream != self._stream or not self._unread:
                        return
                    head = self._header()
                    if "error" in head:
                        self._unread = False
                        raise RuntimeError(f"Coqui TTS: {head['error']}")
                    audio = self._samples(head["samples"])
                    if head["last"]:
                        self._unread = False
                if len(audio):
                    yield audio
                if head["last"]:
                    return
        finally:
            with self.cond:
                if stream == self._stream:
                    self._reader = None
                    self.cond.notify_all()

    def close(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.stdin.close()  # the worker exits when its stdin ends
                proc.stdout.close()  # and stops writing a reply nobody reads
                proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
            # stderr is closed by the thread that reads it, once the worker is gone

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _send(self, text: str) -> None:
        try:
            self.proc.stdin.write((json.dumps({"text": text}) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise RuntimeError(self._died()) from None

    def _header(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            return {"error": self._died()}
        return json.loads(line)

    def _samples(self, n: int) -> np.ndarray:
        data = self.proc.stdout.read(4 * n) if n else b""
        if len(data) < 4 * n:
            raise RuntimeError(self._died())
        return np.frombuffer(data, dtype="<f4").astype(np.float32)

    def _skip_reply(self) -> None:
        # blocks until the worker has finished the abandoned reply (it cannot be interrupted)
        while True:
            head = self._header()
            if "error" in head:
                break
            self._samples(head["samples"])
            if head["last"]:
                break
        self._unread = False

    def _died(self) -> str:
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._tail.join(timeout=2)  # its last words may still be in the pipe
        last = next((line for line in reversed(self.log) if line.strip()), "no message")
        return f"Coqui worker exited ({self.proc.returncode}): {last}"


def _keep_tail(stream, log: deque) -> None:
    with stream:  # ends, and is closed, when the worker exits
        for line in stream:
            log.append(line.decode(errors="replace").rstrip())
