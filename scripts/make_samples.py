"""Build audio_samples/: short sample calls and single utterances, with a manifest.

The caller's words are spoken by the bundled Piper voice (en_US-joe-medium, CC0) at a few
speaking rates, placed between pauses, with a little background noise; the telephone
calls are band-limited to 300-3400 Hz and stored at 8 kHz (one as mu-law, one as stereo
with the agent on the right channel). Deterministic: run it again and the files match.

    .venv/bin/python scripts/make_samples.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

from asr.audio import resample
from tts.piper import PiperTTS

OUT = Path(__file__).resolve().parent.parent / "audio_samples"
RNG = np.random.default_rng(7)

# (text, intent, sentiment, entities) per caller turn
CALLS = [
    {"file": "order_status.wav", "rate": 16000, "subtype": "PCM_16", "telephone": False,
     "turns": [("Hi, I'd like to check on my order.", "order_status", "neutral", []),
               ("The order number is four five six seven.", "order_status", "neutral",
                [{"type": "order_number", "value": "4567"}]),
               ("Great, thank you so much.", "thanks", "positive", []),
               ("Okay, that's all. Goodbye.", "goodbye", "neutral", [])]},
    {"file": "cancel_order_8k.wav", "rate": 8000, "subtype": "ULAW", "telephone": True,
     "turns": [("Hello, I need to cancel an order.", "cancel_order", "neutral", []),
               ("Please cancel order number one two three four.", "cancel_order", "neutral",
                [{"type": "order_number", "value": "1234"}]),
               ("Yes, please.", "affirm", "neutral", []),
               ("That's all, goodbye.", "goodbye", "neutral", [])]},
    {"file": "billing_complaint_stereo_8k.wav", "rate": 8000, "subtype": "PCM_16", "telephone": True,
     "caller_channel": 0,
     "agent": ["Thanks for calling. How can I help?", "I'm sorry to hear that. Let me look into it."],
     "turns": [("I was charged twice for my subscription this month.", "billing_problem", "negative", []),
               ("This is ridiculous. I've called three times and nobody has fixed it.", "complaint",
                "negative", [])]},
    {"file": "store_questions.flac", "rate": 44100, "subtype": "PCM_16", "telephone": False,
     "turns": [("What time does your store open on Saturday?", "store_hours", "neutral", []),
               ("Do you accept PayPal?", "payment_methods", "neutral", []),
               ("How much is the air fryer?", "pricing", "neutral",
                [{"type": "product", "value": "air fryer"}]),
               ("Goodbye.", "goodbye", "neutral", [])]},
]


def speak(tts: PiperTTS, text: str, length_scale: float) -> np.ndarray:
    tts.config.length_scale = length_scale
    audio = np.concatenate(list(tts.synthesize(text)))
    return resample(audio, tts.sample_rate, 16000) * 0.6


def telephone(x: np.ndarray) -> np.ndarray:
    sos = butter(4, [300, 3400], btype="band", fs=16000, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)


def build_call(tts: PiperTTS, agent_tts: PiperTTS, call: dict) -> tuple[np.ndarray, list[dict]]:
    caller, agent, turns = [silence(0.6)], [silence(0.6)], []
    t = 0.6
    for i, (text, intent, sentiment, entities) in enumerate(call["turns"]):
        speech = speak(tts, text, [1.0, 0.9, 1.1][i % 3])
        turns.append({"start": round(t, 2), "end": round(t + len(speech) / 16000, 2), "text": text,
                      "intent": intent, "sentiment": sentiment, "entities": entities})
        pause = silence(1.6 + 0.3 * (i % 2))
        if "agent" in call and i < len(call["agent"]):
            said = speak(agent_tts, call["agent"][i], 1.0)
            pause = np.concatenate([silence(0.5), said, silence(0.6)])
        caller += [speech, np.zeros_like(pause)]
        agent += [np.zeros_like(speech), pause]
        t += (len(speech) + len(pause)) / 16000
    caller, agent = np.concatenate(caller), np.concatenate(agent)
    noise = RNG.normal(0, 0.003, len(caller)).astype(np.float32)  # about 40 dB below speech
    caller = caller + noise
    if call["telephone"]:
        caller, agent = telephone(caller), telephone(agent)
    audio = np.stack([caller, agent], 1) if "agent" in call else caller
    return audio, turns


def main() -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "utterances").mkdir(exist_ok=True)
    tts = PiperTTS(device="cpu")
    agent_tts = PiperTTS(device="cpu", length_scale=0.85)
    manifest = {"calls": [], "utterances": []}
    for call in CALLS:
        audio, turns = build_call(tts, agent_tts, call)
        if call["rate"] != 16000:
            audio = np.stack([resample(np.ascontiguousarray(c), 16000, call["rate"]) for c in np.atleast_2d(audio.T)], 1)
            audio = audio[:, 0] if audio.shape[1] == 1 else audio
        path = OUT / call["file"]
        sf.write(path, np.clip(audio, -1, 1), call["rate"], subtype=call["subtype"])
        info = sf.info(path)
        manifest["calls"].append({"file": call["file"], "sample_rate": info.samplerate, "channels": info.channels,
                                  "encoding": info.subtype, "caller_channel": call.get("caller_channel"),
                                  "duration_s": round(info.duration, 2), "turns": turns})
        for j, turn in enumerate(turns):
            name = f"{Path(call['file']).stem}_{j + 1}"
            mono = audio[:, call.get("caller_channel", 0)] if audio.ndim == 2 else audio
            a, b = int(turn["start"] * call["rate"]), int(turn["end"] * call["rate"])
            piece = mono[max(0, a - call["rate"] // 5): b + call["rate"] // 5]
            sf.write(OUT / "utterances" / f"{name}.flac", resample(piece, call["rate"], 16000), 16000)
            (OUT / "utterances" / f"{name}.txt").write_text(turn["text"] + "\n")
            manifest["utterances"].append({"file": f"utterances/{name}.flac", "text": turn["text"],
                                           "intent": turn["intent"]})
        (OUT / f"{Path(call['file']).stem}.txt").write_text(" ".join(t["text"] for t in turns) + "\n")
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(manifest['calls'])} calls and {len(manifest['utterances'])} utterances to {OUT}")


if __name__ == "__main__":
    main()
