"""What every command that runs the engines shares: the engine options, the config they make,
the bot built from it, and the error a command raises for a bad request (printed as one line)."""
from __future__ import annotations

import argparse

from voicebot.bot import Bot
from voicebot.config import Config


class UsageError(Exception):
    pass


def engine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engines (override the config file)")
    g.add_argument("--config", help="a YAML config file")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where models run (default auto)")
    g.add_argument("--asr-backend", choices=["faster-whisper", "openai-whisper"])
    g.add_argument("--asr-model", help="tiny.en, base, a hub name or a local model path")
    g.add_argument("--vad", choices=["webrtc", "silero"])
    g.add_argument("--tts", choices=["piper", "coqui"], help="speech engine")
    g.add_argument("--voice", help="a Piper .onnx voice or a Coqui model name/directory")
    g.add_argument("--nlu-model", help="auto (default: models/nlu when trained), baseline, or a model directory")
    g.add_argument("--channel", type=int, help="the caller's channel in stereo files (0 = left; mono files are used as they are); default mixes down")


def load_config(args):
    cfg = Config.load(args.config)
    for value, section, key in [(args.device, cfg, "device"), (args.asr_backend, cfg.asr, "backend"),
                                (args.asr_model, cfg.asr, "model"), (args.vad, cfg.vad, "engine"),
                                (args.tts, cfg.tts, "engine"), (args.voice, cfg.tts, "voice"),
                                (args.nlu_model, cfg.nlu, "model"), (args.channel, cfg.audio, "channel")]:
        if value is not None:
            setattr(section, key, value)
    if args.asr_backend == "openai-whisper" and args.asr_model is None and cfg.asr.model == "base":
        cfg.asr.model = "tiny.en"  # the model openai-whisper has offline here
    return cfg


def make_bot(args):
    return Bot(load_config(args))
