"""WebRTC's VAD: no weights, microseconds per frame, the default."""
import numpy as np


class WebRTCVAD:
    window = 480  # 30 ms at 16 kHz, the longest frame it takes (steadiest decisions)

    def __init__(self, aggressiveness: int = 2):
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"webrtc VAD aggressiveness must be 0-3, not {aggressiveness}")
        import webrtcvad  # on first use: importing it takes ~30 ms (it reads its version with importlib.metadata), asr.vad imports this module
        self.vad = webrtcvad.Vad(aggressiveness)

    def speech_prob(self, window: np.ndarray) -> float:
        # two ufuncs, not np.clip: its Python wrapper cost more than the VAD itself, 33 times a second
        pcm = (np.minimum(np.maximum(window, -1.0), 1.0) * 32767).astype("<i2").tobytes()
        return 1.0 if self.vad.is_speech(pcm, 16000) else 0.0

    def reset(self) -> None:
        pass
