"""The `voicebot` command."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from voicebot.audio import AudioError

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from packages: never wait on a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _engine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engines (override the config file)")
    g.add_argument("--config", help="a YAML config file")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where models run (default auto)")
    g.add_argument("--asr-backend", choices=["faster-whisper", "openai-whisper"])
    g.add_argument("--asr-model", help="tiny.en, base, a hub name or a local model path")
    g.add_argument("--vad", choices=["webrtc", "silero"])
    g.add_argument("--tts", choices=["piper", "coqui"], help="speech engine")
    g.add_argument("--voice", help="a Piper .onnx voice or a Coqui model name/directory")
    g.add_argument("--nlu-model", help="a trained NLU model directory")
    g.add_argument("--channel", type=int, help="the caller's channel of a stereo file (0 = left); default mixes down")


def load_config(args):
    from voicebot.config import Config
    cfg = Config.load(args.config)
    for value, section, key in [(args.device, cfg, "device"), (args.asr_backend, cfg.asr, "backend"),
                                (args.asr_model, cfg.asr, "model"), (args.vad, cfg.vad, "engine"),
                                (args.tts, cfg.tts, "engine"), (args.voice, cfg.tts, "voice"),
                                (args.nlu_model, cfg.nlu, "model_dir"), (args.channel, cfg.audio, "channel")]:
        if value is not None:
            setattr(section, key, value)
    if args.asr_backend == "openai-whisper" and args.asr_model is None and cfg.asr.model == "base":
        cfg.asr.model = "tiny.en"  # the model openai-whisper has offline here
    return cfg


def cmd_call(args) -> int:
    from voicebot.bot import Bot
    from voicebot.calls import process_calls
    cfg = load_config(args)
    results = process_calls(Bot(cfg), args.inputs, args.out, cfg.audio.channel, progress=not args.quiet)
    ok = [r for r in results if not r.error]
    print(f"{len(ok)} of {len(results)} call(s) processed; results in {args.out}/ (summary.csv)")
    return 0 if results and len(ok) == len(results) else 1


def cmd_transcribe(args) -> int:
    from asr.base import ASRStage
    from voicebot.audio import file_frames
    from voicebot.bot import Bot
    from voicebot.events import Transcript
    cfg = load_config(args)
    bot = Bot(cfg)
    frames = file_frames(args.file, cfg.audio.frame_ms, cfg.audio.channel)
    turns = []
    for ev in ASRStage(bot.recognizer, cfg.asr.no_speech_threshold)(bot.vad()(frames)):
        if isinstance(ev, Transcript):
            turns.append({"start": ev.start, "end": ev.end, "text": ev.text, "asr_ms": round(ev.asr_ms, 1)})
            if not args.json:
                print(f"[{ev.start:7.2f} -> {ev.end:7.2f}] {ev.text}", flush=True)
    if args.json:
        print(json.dumps({"file": args.file, "text": " ".join(t["text"] for t in turns), "segments": turns},
                         ensure_ascii=False))
    elif not turns:
        print("(no speech)")
    return 0


def cmd_nlu(args) -> int:
    from voicebot.bot import Bot
    bot = Bot(load_config(args))
    if args.file:
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
        with stream:
            for line in stream:
                if line.strip():
                    print(json.dumps(bot.nlu.parse(line.strip()).to_dict(), ensure_ascii=False), flush=True)
        return 0
    if not args.text:
        raise UsageError("give TEXT or --file FILE")
    result = bot.nlu.parse(args.text).to_dict()
    result.pop("text")
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_say(args) -> int:
    import numpy as np
    from voicebot.audio import write_wav
    from voicebot.bot import Bot
    from voicebot.events import AudioChunk, BotReply
    cfg = load_config(args)
    if args.rate:
        cfg.tts.sample_rate = args.rate
    bot = Bot(cfg)
    t0 = time.perf_counter()
    chunks = [c for c in bot.tts().speak(BotReply(args.text)) if isinstance(c, AudioChunk)]
    if not chunks:
        raise UsageError("nothing to say: the text is empty")
    audio = np.concatenate([c.samples for c in chunks])
    write_wav(args.output, audio, chunks[0].sample_rate)
    print(f"{args.output}: {len(audio) / chunks[0].sample_rate:.2f} s at {chunks[0].sample_rate} Hz "
          f"({bot.synthesizer.name}; first audio {chunks[0].first_audio_ms:.0f} ms, "
          f"all {1000 * (time.perf_counter() - t0):.0f} ms)")
    return 0


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicebot", description="An on-premises voice agent for customer-service lines.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("call", help="process recorded calls: transcripts, intents, replies and reply audio")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _engine_options(p)
    p.set_defaults(func=cmd_call)

    p = sub.add_parser("transcribe", help="speech to text with timestamps")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    _engine_options(p)
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("nlu", help="intent, sentiment and entities of a text, as JSON")
    p.add_argument("text", nargs="?")
    p.add_argument("--file", help="one utterance per line ('-' for stdin): one JSON object per line")
    _engine_options(p)
    p.set_defaults(func=cmd_nlu)

    p = sub.add_parser("say", help="speak a text into a WAV file")
    p.add_argument("text")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--rate", type=int, help="output sample rate (default: the voice's)")
    _engine_options(p)
    p.set_defaults(func=cmd_say)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (UsageError, AudioError, ValueError, OSError) as e:
        print(f"voicebot {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
