"""Archive test calls: an agent and a customer in two different test voices (espeak-ng, flite;
never the bot's own), the agent on the left channel and the customer on the right, or both
mixed on one 8 kHz mu-law track as old phone archives keep them. Each call knows what an
analysis should find: its reason, category, products, order numbers and how it ends.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import resample
from asr.files import atomic_path
from voicebot.bench.callers import noise, speak, trim

RATE = 16000


@dataclass
class ArchiveCall:
    name: str
    # (speaker "agent" | "customer", text) in call order; a third item, seconds, starts the
    # turn that long before the one before it ends (both talking)
    turns: list[tuple]
    reason: str
    category: str
    products: list[str] = field(default_factory=list)
    order_numbers: list[str] = field(default_factory=list)
    sentiment_end: str = ""
    overlap_s: float = 0.0
    companies: list[str] = field(default_factory=list)  # named in the call (carriers, competitors)
    rate_wpm: int = 135  # slower than the voices' 160 or so: digit strings are then heard right
    agent_voice: str = "flite:slt"
    customer_voice: str = "espeak:en-us"
    mono_8k: bool = False


CALLS = [
    ArchiveCall("headphones_complaint", [
        ("agent", "Thank you for calling Brightline Home. How can I help you?"),
        ("customer", "I want to return the wireless headphones I bought, they stopped working."),
        ("agent", "I am sorry about that. What is the order number?"),
        ("customer", "The order number is four five six seven."),
        ("agent", "Thank you. Let me look at that order for you, it may take a moment."),
        ("customer", "This is really annoying, I want my money back today.", 1.5),
        ("agent", "I have started the refund for you."),
        ("customer", "Thank you, goodbye.")],
        "return_refund", "complaint", ["wireless headphones"], ["4567"], "positive", overlap_s=1.5),
    ArchiveCall("coffee_maker_price", [
        ("agent", "Brightline Home, good morning."),
        ("customer", "How much does the coffee maker cost?"),
        ("agent", "The coffee maker costs eighty nine dollars."),
        ("customer", "Great, thanks a lot.")],
        "pricing", "consultation", ["coffee maker"], [], "positive",
        agent_voice="espeak:en-gb", customer_voice="flite:awb"),
    ArchiveCall("dark_mode_suggestion", [
        ("agent", "Hello, you are through to Brightline Home."),
        ("customer", "You should add a dark mode to your app."),
        ("agent", "Thanks, I will pass that on to the team."),
        ("customer", "Okay, bye.")],
        "suggestion", "suggestion", [], [], "",
        agent_voice="flite:slt", customer_voice="flite:rms"),
    ArchiveCall("order_status_8k", [
        ("agent", "Brightline Home, how can I help?"),
        ("customer", "Hi there, I want to check on my order."),
        ("agent", "Sure, what is the order number?"),
        ("customer", "The order number is one two three four."),
        ("agent", "It ships with UPS and will arrive on Friday."),
        ("customer", "Okay, thanks.")],
        "order_status", "consultation", [], ["1234"], "neutral", companies=["UPS"],
        agent_voice="flite:slt", customer_voice="espeak:en-us", mono_8k=True),
]


def render(call: ArchiveCall, gap_s: float = 1.0, seed: int = 0) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """(samples x 2) at 16 kHz, agent left and customer right; and each turn's (speaker, start, end)."""
    tracks = {"agent": [], "customer": []}
    spans, t = [], 0.5
    for speaker, text, *early in call.turns:
        speech = trim(speak(text, call.agent_voice if speaker == "agent" else call.customer_voice, call.rate_wpm))
        if early:
            t -= gap_s + early[0]
        spans.append((speaker, round(t, 3), round(t + len(speech) / RATE, 3)))
        tracks[speaker].append((int(t * RATE), speech))
        t += len(speech) / RATE + gap_s
    n = int((t + 0.5) * RATE)
    out = np.zeros((n, 2), np.float32)
    for ch, speaker in enumerate(("agent", "customer")):
        for at, speech in tracks[speaker]:
            out[at:at + len(speech), ch] += speech
        hiss = noise("white", n / RATE, -60.0, seed + ch)[:n]  # its length may round one sample short
        out[:len(hiss), ch] += hiss
    return np.clip(out, -1, 1), spans


def write(call: ArchiveCall, out_dir: str | Path, seed: int = 0) -> Path:
    """`<name>.wav`: 16 kHz stereo PCM, or 8 kHz mono mu-law for a mono_8k call."""
    audio, _ = render(call, seed=seed)
    path = Path(out_dir) / f"{call.name}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if call.mono_8k:
            sf.write(tmp, resample(audio.mean(axis=1) * 1.4, RATE, 8000), 8000, subtype="ULAW", format="WAV")
        else:
            sf.write(tmp, audio, RATE, subtype="PCM_16", format="WAV")
    return path
