"""Silero VAD v6 through ONNX Runtime, using the model file faster-whisper ships.

Its state drifts over a long silence: from a fresh state, "What's your email address?" (flite
rms, phone band) was found at 0.08-0.13 s after 1-4 s of line silence, but at 0.14-0.95 s after
8 s and not at all in 4 of 8 tries after 16 s (a faint noise floor drifts slower). So while the
line is quiet a second state runs beside the first from a fresh start, and takes over once it has
heard `REFRESH_S` of the quiet: the state that hears a caller's first word has always heard
between 2 and 4 s of the silence before it, or it is the one that heard their last words.
"""
from pathlib import Path

import numpy as np

REFRESH_S = 2.0


def model_path() -> Path:
    import faster_whisper
    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroVAD:
    window = 512  # the model's step at 16 kHz
    context = 64  # samples of the previous window it sees too

    def __init__(self, path: str | Path | None = None, quiet: float = 0.35):
        import onnxruntime
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1  # one window is tiny: threads only add overhead
        opts.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            str(path or model_path()), providers=["CPUExecutionProvider"], sess_options=opts)
        self.quiet = quiet  # a window under this is quiet: the Segmenter's threshold less its release
        self.refresh = round(REFRESH_S * 16000 / self.window)
        self.reset()

    def _fresh(self) -> list:
        return [np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32), np.zeros(self.context, np.float32)]

    def reset(self) -> None:
        self.state = self._fresh()  # h, c, and the previous window's tail
        self.spare: list | None = None  # the state started in this quiet stretch
        self.spare_age = 0

    def _run(self, state: list, window: np.ndarray) -> float:
        x = np.concatenate([state[2], window])[None, :]
        prob, state[0], state[1] = self.session.run(None, {"input": x, "h": state[0], "c": state[1]})
        state[2] = window[-self.context:]
        return float(np.asarray(prob).reshape(-1)[0])

    def speech_prob(self, window: np.ndarray) -> float:
        window = window.astype(np.float32)
        prob = self._run(self.state, window)
        if prob >= self.quiet:
            self.spare = None
            return prob
        if self.spare is None:
            self.spare, self.spare_age = self._fresh(), 0
        self._run(self.spare, window)
        self.spare_age += 1
        if self.spare_age >= self.refresh:
            self.state, self.spare, self.spare_age = self.spare, self._fresh(), 0
        return prob
