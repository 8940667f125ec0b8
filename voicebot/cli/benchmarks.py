"""The `voicebot bench` verbs whose glue is the CLI's own: the ASR benchmark's choice of
configurations, the synthesized test calls, the scoring of recorded calls and the yardstick.
The other benchmarks bring their options and code in their own modules (voicebot/bench)."""
from __future__ import annotations

from itertools import product
from pathlib import Path

from asr.device import compute_type, ctranslate2_device
from asr.files import atomic_write_text
from asr.vad import VADSettings
from voicebot.bench import score
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
from voicebot.bench.callers import SEEDS, SETS, named_calls, write_call
from voicebot.bench.yardstick import yardstick_ms
from voicebot.options import UsageError, make_bot


def asr_arguments(p) -> None:
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


def cmd_asr(args) -> int:
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
        atomic_write_text(Path(args.markdown), to_markdown(report))
    if args.plot:
        plot(report, args.plot)
    skipped = [r["label"] for r in report["results"] if "error" in r]
    if skipped and not chosen:  # the default run lists what this machine cannot run; not a failure
        print(f"skipped (see the table): {', '.join(skipped)}")
    if len(skipped) == len(report["results"]):
        return 1  # nothing could run: a broken install, not a missing optional model
    return 0 if not skipped or args.allow_skips or not chosen else 1


def cmd_score(args) -> int:
    return score.run(args, lambda: make_bot(args))


def test_calls_arguments(p) -> None:
    p.add_argument("out", help="output directory")
    p.add_argument("--set", default=None, choices=list(SETS), help="which calls: default (14 scripts), held-out "
                   "(new sentences, other voices), issue (issue 28's tuning set), fresh-a (Festival voices, brown and "
                   "pink noise), fresh-b (other espeak-ng voices and rates), fresh-c (espeak-ng variants, flite kal) or "
                   "fresh-d to fresh-g (other espeak-ng variants): the fresh sets are for the final check only")
    p.add_argument("--noise", action="append", choices=["white", "brown", "pink", "hum", "babble", "crowd", "none"],
                   help="default and held-out sets only")
    p.add_argument("--level", action="append", type=float, help="steady noise level in dBFS (default -50; babble goes 20 dB under the caller, 15 at -40; default and held-out sets only)")
    p.add_argument("--rounds", type=int, default=1, help="each script this many times (the second round's caller is 12 dB quieter; default and held-out sets only)")
    p.add_argument("--held-out", action="store_true", help="the same as --set held-out")


def cmd_test_calls(args) -> int:
    if args.held_out and args.set not in (None, "held-out"):
        raise UsageError(f"--held-out is --set held-out: not with --set {args.set}")
    name = "held-out" if args.held_out else args.set or "default"
    if SETS[name] is not None and (args.noise or args.level or args.rounds != 1):
        raise UsageError(f"--noise, --level and --rounds shape the default and held-out sets; --set {name} is fixed")
    calls = named_calls(name, tuple(args.noise or ("white", "hum", "babble")), tuple(args.level or (-50.0,)), args.rounds)
    for i, call in enumerate(calls):
        print(write_call(call, args.out, seed=i + SEEDS[name]))
    return 0


def yardstick_arguments(p) -> None:
    p.add_argument("--repeats", type=int, default=5, help="timed decodes, after one untimed (default 5)")


def cmd_yardstick(args) -> int:
    print(yardstick_ms(args.repeats))
    return 0
