"""Silero VAD v6 through ONNX Runtime, using the model file faster-whisper ships."""
from pathlib import Path

import numpy as np


def model_path() -> Path:
    import faster_whisper
    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroVAD:
    window = 512  # the model's step at 16 kHz
    context = 64  # samples of the previous window it sees too

    def __init__(self, path: str | Path | None = None):
        import onnxruntime
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1  # one window is tiny: threads only add overhead
        opts.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            str(path or model_path()), providers=["CPUExecutionProvider"], sess_options=opts)
        self.reset()

    def reset(self) -> None:
        self.h = np.zeros((1, 1, 128), np.float32)
        self.c = np.zeros((1, 1, 128), np.float32)
        self.prev = np.zeros(self.context, np.float32)

    def speech_prob(self, window: np.ndarray) -> float:
        x = np.concatenate([self.prev, window.astype(np.float32)])[None, :]
        prob, self.h, self.c = self.session.run(None, {"input": x, "h": self.h, "c": self.c})
        self.prev = window[-self.context:].astype(np.float32)
        return float(np.asarray(prob).reshape(-1)[0])
