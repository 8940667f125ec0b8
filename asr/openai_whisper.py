"""openai-whisper (PyTorch): the reference implementation, for comparison and for users
who already have its .pt checkpoints."""
from __future__ import annotations

import numpy as np

from asr.base import Context, Recognition
from asr.device import torch_device
from asr.digits import as_said
from asr.models import openai_whisper_model


class OpenAIWhisper:
    name = "openai-whisper"

    def __init__(self, model: str = "tiny.en", device: str = "auto", beam_size: int = 1,
                 threads: int = 0, language: str = "en", prompt: str = "", **_ignored):
        import whisper
        if threads:
            import torch
            torch.set_num_threads(threads)
        self.device = torch_device(device)
        self.compute_type = "float16" if self.device == "cuda" else "float32"
        self.model_name = model
        source = openai_whisper_model(model)
        try:
            self.model = whisper.load_model(source, device=self.device)
        except OSError as e:  # URLError included: no checkpoint here and no network
            raise RuntimeError(f"openai-whisper model {model!r}: no {model}.pt found locally and the download "
                               f"failed ({getattr(e, 'reason', e)}); pass a .pt path") from None
        self.language = language if self.model.is_multilingual else "en"
        self.beam_size = beam_size
        self.prompt = prompt.strip()  # the domain's names, before the caller's previous turn

    def transcribe(self, audio: np.ndarray, context: Context | None = None) -> Recognition:
        audio = np.asarray(audio, np.float32)
        if len(audio) == 0:
            return Recognition("", 1.0, -10.0)
        out = self.model.transcribe(
            audio, language=self.language, fp16=self.device == "cuda", temperature=0.0,
            beam_size=self.beam_size if self.beam_size > 1 else None,
            initial_prompt=" ".join(t for t in (self.prompt, context.text if context else "") if t) or None,
            condition_on_previous_text=False, verbose=None)
        segs = out["segments"]
        if not segs:
            return Recognition("", 1.0, -10.0)
        return as_said(Recognition(out["text"].strip(), min(s["no_speech_prob"] for s in segs),
                                   float(np.mean([s["avg_logprob"] for s in segs])),
                                   [(s["start"], s["end"], s["text"].strip()) for s in segs]))
