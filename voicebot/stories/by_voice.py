"""A story by voice: each caller line spoken by a test voice into a live session on the
simulated line, faster than real time where the bot's own pace allows, judged on what the bot did.

The voices are espeak-ng, flite and Festival, never the bot's own Piper voice: a bot that
understands only itself proves little. A story's `line: phone` passes the caller through a
telephone's band and 8-bit mu-law at 8 kHz, as a G.711 call would.
"""
from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from asr.audio import resample
from voicebot.bench.callers import noise, speak, telephone_band, trim
from voicebot.live.session import LiveSession
from voicebot.live.simulated import RATE, Line, Script, SimulatedDevice
from voicebot.stories.by_text import ended, outcome, step_result, story_policy
from voicebot.stories.story import Outcome, Story, judge

VOICES = ("festival:slt_hts",)  # the voice the bot hears best (README: each voice measured); --voices for more
PATIENCE_S = 10.0  # the caller's wait for a reply that does not come, real seconds


def phone_line(audio: np.ndarray) -> np.ndarray:
    """Through a G.711 line: 300-3400 Hz, 8 kHz, 8-bit mu-law, back at 16 kHz."""
    x = np.clip(resample(telephone_band(audio), RATE, 8000), -1, 1)
    mu = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log(256)
    q = np.round(mu * 127) / 127  # 8 bits
    x = np.sign(q) * np.expm1(np.abs(q) * np.log(256)) / 255
    return resample(x.astype(np.float32), 8000, RATE)


@lru_cache(maxsize=512)
def _said(text: str, voice: str) -> np.ndarray:
    return trim(speak(text, voice))


def caller_audio(text: str, voice: str, line: str) -> np.ndarray:
    audio = _said(text, voice)
    return phone_line(audio) if line == "phone" else audio


def line_noise(story: Story, seed: int) -> np.ndarray | None:
    if not story.noise:
        return None
    kind, level = story.noise.split()
    x = noise(kind, 20.0, float(level), seed)
    return phone_line(x) if story.line == "phone" else x


def run_by_voice(bot, story: Story, voice: str, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    voice = story.voice or voice
    lines = []
    for step in story.steps:
        audio = (np.zeros(int(step.silence * RATE), np.float32) if step.silence
                 else caller_audio(step.caller, voice, story.line))
        barge = step.barge_in is not None
        lines.append(Line(audio, "during_reply" if barge else "after_reply",
                          step.barge_in if barge else step.pause, step.caller))
    device = SimulatedDevice(noise=line_noise(story, seed))
    session = LiveSession(bot, on_event=device.on_event, out_rate=RATE,
                          conversation=story_policy(bot, story).new_conversation())
    try:
        run = device.run(session, Script(lines, patience_s=PATIENCE_S), fast=True, tail_s=4.0,
                         max_s=30.0 + sum(len(ln.audio) / RATE + 15.0 for ln in lines))
    finally:
        session.close()
    turns = list(session.turns)
    used: set[int] = set()
    steps, over = [], ""
    for step, said in zip(story.steps, run.lines):
        if step.silence:  # turns that ended inside the silence were heard in it
            inside = [i for i, t in enumerate(turns) if said.start <= t["end"] <= said.start + step.silence]
            used.update(inside)
            got = outcome_of(turns[inside[0]], bot) if inside else Outcome(heard="")
            steps.append(step_result(step, got, judge(step, got)))
            continue
        # the session's turn for this line: the one that ended nearest the line's voice end
        near = [(abs(t["end"] - said.voice_end), i) for i, t in enumerate(turns)
                if i not in used and abs(t["end"] - said.voice_end) < 1.5]
        if over:
            steps.append(step_result(step, Outcome(heard=None), [f"the call had ended ({over})"]))
            continue
        if not near:
            steps.append(step_result(step, Outcome(heard=None), judge(step, Outcome(heard=None))))
            continue
        i = min(near)[1]
        used.add(i)
        cut = any(said.start - 0.1 <= x["t"] <= said.voice_end + 2.0 for x in run.interruptions if x["t"] is not None)
        got = outcome_of(turns[i], bot, cut)
        steps.append(step_result(step, got, judge(step, got)))
        over = ended(turns[i].get("_reply"))
    for step in story.steps[len(run.lines):]:  # lines never said: the call ran out of time
        steps.append(step_result(step, Outcome(heard=None), ["the line was never said (time out)"]))
    extra = [t["text"] for i, t in enumerate(turns) if i not in used]
    return {"story": story.name, "by": "voice", "voice": voice, "line": story.line, "source": story.source,
            "passed": all(s["passed"] for s in steps), "seconds": round(time.perf_counter() - t0, 2),
            "call_seconds": run.seconds, "extra_turns": extra, "steps": steps}


def outcome_of(turn: dict, bot, cut: bool = False) -> Outcome:
    reply = turn.get("_reply")
    if reply is None or reply.turn is None:  # heard, but no reply came before the call ended
        return Outcome(heard=turn["text"], intent=turn["intent"],
                       entities=[(e["type"], e["value"]) for e in turn["entities"]], cut=cut)
    return outcome(reply, bot.domain, cut)
