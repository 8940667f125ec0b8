"""Whisper with and without the domain prompt (nlu.domain.Domain.asr_prompt): WER on domain
utterances spoken by voices other than the bot's own, at 16 kHz and as 8 kHz telephone audio,
and what it writes on silence and noise (a prompt's known failure: its words heard in nothing).

    .venv/bin/python scripts/bench_asr_prompt.py [--model base] [--json runs/asr-prompt.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asr.audio import resample  # noqa: E402
from asr.faster import FasterWhisper  # noqa: E402
from asr.wer import normalize, wer  # noqa: E402
from nlu.domain import load_domain  # noqa: E402
from voicebot.bench.callers import speak  # noqa: E402

LINES = [
    "Do you accept PayPal?", "Can I pay with Apple Pay?", "My router keeps dropping the connection.",
    "I want to return the air fryer.", "Is the smart watch waterproof?", "I'd like to cancel my premium subscription.",
    "How much is the electric kettle?", "My wireless headphones won't pair.", "Do you take American Express?",
    "Can I use a gift card and Google Pay?", "I was charged twice on my Mastercard.", "The coffee maker is leaking.",
    "Does the bluetooth speaker work with my phone?", "I'm calling about my Brightline Premium membership.",
    "The vacuum cleaner stopped working.", "Where is my order? It's four five six seven.",
    "I'd like to speak to a real person.", "What are your opening hours on Sunday?",
    "My laptop screen is frozen.", "Is your service free?",
]
VOICES = ["espeak:en-us", "espeak:en-gb", "flite:slt", "flite:rms"]


def telephone(x: np.ndarray) -> np.ndarray:
    """16 kHz speech as an 8 kHz line carries it, back at 16 kHz for Whisper."""
    return resample(resample(x, 16000, 8000), 8000, 16000)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="base")
    ap.add_argument("--json")
    args = ap.parse_args()
    prompt = load_domain().asr_prompt()
    engines = {"no prompt": FasterWhisper(args.model), "domain prompt": FasterWhisper(args.model, prompt=prompt)}
    audio = {(v, rate, i): (speak(t, v, 140) if rate == 16000 else telephone(speak(t, v, 140)))
             for v in VOICES for rate in (16000, 8000) for i, t in enumerate(LINES)}
    rng = np.random.default_rng(7)
    blanks = {"silence 3 s": np.zeros(48000, np.float32),
              "white noise -40 dBFS": (rng.standard_normal(48000) * 10 ** (-40 / 20)).astype(np.float32),
              "white noise -25 dBFS": (rng.standard_normal(48000) * 10 ** (-25 / 20)).astype(np.float32)}
    report = {"prompt": prompt, "model": args.model, "results": {}}
    for name, asr in engines.items():
        asr.transcribe(audio[(VOICES[0], 16000, 0)])  # warm
        r = {}
        for rate in (16000, 8000):
            refs, hyps, t0 = [], [], time.perf_counter()
            for v in VOICES:
                for i, t in enumerate(LINES):
                    refs.append(t)
                    hyps.append(asr.transcribe(audio[(v, rate, i)]).text)
            r[f"wer_{rate // 1000}k"] = round(wer(refs, hyps), 4)
            r[f"ms_per_line_{rate // 1000}k"] = round((time.perf_counter() - t0) * 1000 / len(refs), 1)
            r[f"wrong_{rate // 1000}k"] = [{"said": a, "heard": b} for a, b in zip(refs, hyps) if normalize(a) != normalize(b)]
        r["blanks"] = {k: asr.transcribe(x).text for k, x in blanks.items()}
        report["results"][name] = r
    print(f"prompt: {prompt}\n")
    print("| ASR | WER 16 kHz | WER 8 kHz | ms per line 16 kHz | silence / noise heard as |\n|---|---:|---:|---:|---|")
    for name, r in report["results"].items():
        heard = "; ".join(f"{k}: {v!r}" for k, v in r["blanks"].items())
        print(f"| {name} | {r['wer_16k']:.3f} | {r['wer_8k']:.3f} | {r['ms_per_line_16k']} | {heard} |")
    for name, r in report["results"].items():
        for key in ("wrong_16k", "wrong_8k"):
            for w in r[key]:
                print(f"{name} {key[-3:]}: {w['said']!r} -> {w['heard']!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
