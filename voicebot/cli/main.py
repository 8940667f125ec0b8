"""The `voicebot` command."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

from asr.audio import AudioError
from voicebot.options import UsageError, engine_options, load_config, make_bot

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from packages: never wait on a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cmd_call(args) -> int:
    from voicebot.bot import Bot
    from voicebot.recorded import process_calls
    if args.workers < 1:
        print(f"voicebot call: --workers must be 1 or more, not {args.workers}", file=sys.stderr)
        return 2
    cfg = load_config(args)
    results = process_calls(Bot(cfg), args.inputs, args.out, cfg.audio.channel, progress=not args.quiet,
                            workers=args.workers)
    ok = [r for r in results if not r.error]
    print(f"{len(ok)} of {len(results)} call(s) processed; results in {args.out}/ (summary.csv)")
    return 0 if results and len(ok) == len(results) else 1


def cmd_transcribe(args) -> int:
    from asr.audio import file_frames
    from asr.events import Transcript
    from voicebot.bot import Bot
    cfg = load_config(args)
    bot = Bot(cfg)
    frames = file_frames(args.file, cfg.audio.frame_ms, cfg.audio.channel)
    turns = []
    for ev in bot.asr()(bot.vad()(frames)):
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

    def show(text):  # one JSON object per utterance, the same for TEXT and --file
        result = bot.nlu.parse(text).to_dict()
        result.pop("text")
        match = bot.policy.faq.match(text)  # the knowledge base's nearest question and its score
        result["faq"] = match.to_dict() if match else None
        print(json.dumps(result, ensure_ascii=False), flush=True)

    if args.file:
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
        with stream:
            for line in stream:  # one output line per input line, blank ones included
                show(line.strip())
        return 0
    if args.text is None:
        raise UsageError("give TEXT or --file FILE")
    show(args.text)
    return 0


def cmd_say(args) -> int:
    import numpy as np

    from asr.audio import write_wav
    from nlu.events import BotReply
    from tts.events import AudioChunk
    from voicebot.bot import Bot
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


def cmd_bench_tts(args) -> int:
    from voicebot.bench.tts import bench
    return bench(args)


def cmd_bench_asr(args) -> int:
    from itertools import product

    from asr.device import compute_type, ctranslate2_device
    from asr.vad import VADSettings
    from voicebot.bench.asr import (
        DEFAULT_DATA,
        BenchConfig,
        BenchRun,
        default_configs,
        load_dataset,
        plot,
        print_table,
        to_markdown,
        write_json,
    )
    data = load_dataset(args.data or [p for p in DEFAULT_DATA if p.exists()])
    if args.limit:
        data = data[:args.limit]
    if not data:
        raise UsageError("no utterances to benchmark (audio files with a same-named .txt beside them)")
    device = ctranslate2_device(args.device)
    chosen = bool(args.backend or args.model or args.context or args.compute_type)
    if not chosen:
        configs = default_configs(device)
    else:
        configs = []
        for backend, model, ctx, ct in product(args.backend or ["faster-whisper", "openai-whisper"],
                                               args.model or ["tiny.en", "base"], args.context or ["short", "30s"],
                                               args.compute_type or ["auto"]):
            if backend == "openai-whisper":
                if ctx == "short" and (args.context or ["short", "30s"]) != ["short"]:
                    continue  # openai-whisper has the 30 s window only
                ctx, ct = "30s", ("float16" if device == "cuda" else "float32")
            configs.append(BenchConfig(backend, ctx, model, device, compute_type(device, ct), args.beam_size, args.threads))
        configs = list(dict.fromkeys(configs))
    streaming = [] if args.no_streaming else [VADSettings("webrtc", hangover_ms=300), VADSettings("webrtc", hangover_ms=500),
                                              VADSettings("silero", hangover_ms=500)]
    report = BenchRun(configs, data, args.repeats, args.warmup, streaming, args.stream_utterances).run(progress=not args.quiet)
    print_table(report)
    if args.json:
        write_json(report, args.json)
    if args.markdown:
        from asr.files import atomic_write_text
        atomic_write_text(Path(args.markdown), to_markdown(report))
    if args.plot:
        plot(report, args.plot)
    skipped = [r["label"] for r in report["results"] if "error" in r]
    if skipped and not chosen:  # the default run lists what this machine cannot run; not a failure
        print(f"skipped (see the table): {', '.join(skipped)}")
    if len(skipped) == len(report["results"]):
        return 1  # nothing could run: a broken install, not a missing optional model
    return 0 if not skipped or args.allow_skips or not chosen else 1


def cmd_train(args) -> int:
    import hashlib

    from nlu.train import TrainConfig, train
    from nlu.validate import load_examples
    cfg = TrainConfig.load(args.config)
    if args.epochs:
        cfg.epochs = args.epochs
    path = Path(args.data_dir) / "train.jsonl"
    examples = load_examples(path)
    if args.limit:
        examples = examples[:args.limit]
    info = {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "examples": len(examples)}
    result = train(examples, args.model_dir, cfg, args.device, progress=not args.quiet, data_info=info)
    print(f"model saved to {args.model_dir} (best epoch {result['best_epoch']} of {cfg.epochs}, {result['seconds']:.0f} s)")
    return 0


def cmd_evaluate(args) -> int:
    from nlu.evaluate import evaluate, print_report
    report = evaluate(args.model_dir, args.data_dir, args.out, baseline=not args.no_baseline, device=args.device)
    print_report(report)
    return 0


def cmd_score(args) -> int:
    from voicebot.bench.score import run
    return run(args, lambda: make_bot(args))


def cmd_make_test_calls(args) -> int:
    from voicebot.bench.callers import default_calls, write_call
    calls = default_calls(tuple(args.noise or ("white", "hum", "babble")), tuple(args.level or (-50.0,)), args.rounds,
                          args.held_out)
    for i, call in enumerate(calls):
        print(write_call(call, args.out, seed=i + 100 * args.held_out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicebot", description="An on-premises voice agent for customer-service lines.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("call", help="process recorded calls: transcripts, intents, replies and reply audio")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="calls processed at once, sharing the models and the order database (default 2; "
                        "1: one after another, in file order)")
    engine_options(p)
    p.set_defaults(func=cmd_call)

    p = sub.add_parser("transcribe", help="speech to text with timestamps")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    engine_options(p)
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("nlu", help="intent, sentiment and entities of a text, as JSON")
    p.add_argument("text", nargs="?")
    p.add_argument("--file", help="one utterance per line ('-' for stdin): one JSON object per line")
    engine_options(p)
    p.set_defaults(func=cmd_nlu)

    p = sub.add_parser("say", help="speak a text into a WAV file")
    p.add_argument("text")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--rate", type=int, help="output sample rate (default: the voice's)")
    engine_options(p)
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("bench-asr", help="compare Whisper backends, models and devices: latency, RTF, WER, memory")
    p.add_argument("--data", action="append", help="a directory of audio files with same-named .txt references "
                   "(repeatable; default: audio_samples/utterances and ../shared/audio/jfk.flac)")
    p.add_argument("--backend", action="append", choices=["faster-whisper", "openai-whisper"])
    p.add_argument("--model", action="append", help="tiny.en, base or a local path (repeatable)")
    p.add_argument("--context", action="append", choices=["short", "30s"], help="faster-whisper encoder window")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--compute-type", action="append", help="int8, float16, float32 (faster-whisper)")
    p.add_argument("--beam-size", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--limit", type=int, help="use the first N utterances only")
    p.add_argument("--no-streaming", action="store_true", help="skip the real-time VAD + ASR measurement")
    p.add_argument("--stream-utterances", type=int, default=6)
    p.add_argument("--allow-skips", action="store_true", help="exit 0 even when a configuration you named could not run (the default run always does)")
    p.add_argument("--json"), p.add_argument("--markdown"), p.add_argument("--plot")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_bench_asr)

    p = sub.add_parser("bench-tts", help="compare TTS engines (Piper, Coqui) on the same replies: first audio, RTF, WER")
    from voicebot.bench.tts import add_arguments as tts_bench_arguments
    tts_bench_arguments(p)
    p.set_defaults(func=cmd_bench_tts)

    p = sub.add_parser("score", help="score recorded calls against reference transcripts: WER, turns, intents "
                       "(beside plain faster-whisper with --plain)")
    from voicebot.bench.score import add_arguments as score_arguments
    score_arguments(p)
    engine_options(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("make-test-calls", help="synthesize test calls in espeak-ng/flite voices with noise, "
                       "with reference transcripts")
    p.add_argument("out", help="output directory")
    p.add_argument("--noise", action="append", choices=["white", "hum", "babble", "none"])
    p.add_argument("--level", action="append", type=float, help="steady noise level in dBFS (default -50; babble goes 20 dB under the caller, 15 at -40)")
    p.add_argument("--rounds", type=int, default=1, help="each script this many times (the second round's caller is 12 dB quieter)")
    p.add_argument("--held-out", action="store_true", help="the second set of scripts: new sentences and numbers, other voices")
    p.set_defaults(func=cmd_make_test_calls)

    # live conversation: each command's options and code live in its own module
    for name, module, text in [("chat", "voicebot.live.chat", "talk to the dialogue by text in the terminal (stdin works too)"),
                               ("talk", "voicebot.live.microphone", "a live call on this computer's microphone and speaker"),
                               ("bench-latency", "voicebot.bench.latency", "voice-to-voice latency of live calls on the simulated device"),
                               ("analyze", "voicebot.archive.analyze", "analytics of recorded customer calls: transcripts per speaker, reasons, "
                                "products, sentiment, talk time; JSON, tables, a database and a report"),
                               ("archive-report", "voicebot.archive.report", "the HTML report of a `voicebot analyze` output again"),
                               ("bench-archive", "voicebot.bench.archive", "voicebot analyze's throughput (embedded, Ray) and WER "
                                "beside plain faster-whisper"),
                               ("bench-calls", "voicebot.bench.calls", "N simulated phone callers at once over the media stream: reply latency, gaps, failures"),
                               ("calls", "voicebot.phone.records_cli", "phone call records: list them, show one with its turns"),
                               ("bench-barge-in", "voicebot.bench.barge_in", "how soon the bot falls silent when a caller cuts in, and what does not cut it")]:
        p = sub.add_parser(name, help=text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        engine_options(p)
        p.set_defaults(func=mod.main)

    # commands with no engines to load
    from voicebot.privacy import cli as privacy_cli
    privacy_cli.add_parsers(sub)  # keygen, export, rotate-key, retention
    from voicebot.serve import access
    access.add_parsers(sub)  # api-key add|list|remove
    for name, module, text in [("redact-eval", "nlu.redact_eval", "precision and recall of personal-data redaction on a labelled set")]:
        p = sub.add_parser(name, help=text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(func=mod.main)

    p = sub.add_parser("redact-audio", help="silence the personal data (card numbers, emails...) in call recordings")
    privacy_cli.add_redact_audio_arguments(p)
    engine_options(p)
    p.set_defaults(func=privacy_cli.redact_audio_main)

    p = sub.add_parser("serve", help="a web page that talks to the bot through the browser microphone")
    from voicebot.serve import app as server
    server.add_arguments(p)  # --host, --port, keys, TLS
    engine_options(p)
    p.set_defaults(func=lambda args: server.run(args, lambda: make_bot(args)))

    p = sub.add_parser("train", help="train the multi-task NLU model (intent, sentiment, entities)")
    p.add_argument("--config", default=str(Path(__file__).resolve().parents[2] / "nlu" / "train_config.yml"))
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "nlu" / "data"))
    p.add_argument("--model-dir", default="models/nlu")
    p.add_argument("--epochs", type=int, help="overrides the config")
    p.add_argument("--limit", type=int, help="train on the first N examples only (smoke tests)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a trained NLU model on the held-out split, beside the baseline")
    p.add_argument("--model-dir", default="models/nlu")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "nlu" / "data"))
    p.add_argument("--out", help="where the JSON report and confusion-matrix PNG go (default: the model dir)")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_evaluate)
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
    except Exception as e:  # an engine that cannot load or run: one line, not a traceback
        if os.environ.get("VOICEBOT_DEBUG"):
            raise
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"voicebot {args.command}: {type(e).__name__}: {first} (VOICEBOT_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
