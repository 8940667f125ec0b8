"""The verbs the CLI runs itself: a recorded call, a transcript, a parse, a spoken text, and the
NLU model's training and evaluation. Each has its options (`*_arguments`) beside its code."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from asr.audio import file_frames, write_wav
from asr.events import Transcript
from nlu.evaluate import evaluate, print_report
from nlu.events import BotReply
from nlu.train import TrainConfig, train, training_data
from tts.events import AudioChunk
from voicebot.bench import heard
from voicebot.bot import Bot
from voicebot.options import UsageError, load_config, make_bot
from voicebot.recorded import process_calls
from voicebot.serve import app as server

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ["auto", "cpu", "cuda"]


def call_arguments(p) -> None:
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="calls processed at once, sharing the models and the order database (default 2; "
                        "1: one after another, in file order)")


def cmd_call(args) -> int:
    if args.workers < 1:
        print(f"voicebot call: --workers must be 1 or more, not {args.workers}", file=sys.stderr)
        return 2
    cfg = load_config(args)
    results = process_calls(Bot(cfg), args.inputs, args.out, cfg.audio.channel, progress=not args.quiet,
                            workers=args.workers)
    ok = [r for r in results if not r.error]
    print(f"{len(ok)} of {len(results)} call(s) processed; results in {args.out}/ (summary.csv)")
    return 0 if results and len(ok) == len(results) else 1


def transcribe_arguments(p) -> None:
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")


def cmd_transcribe(args) -> int:
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


def nlu_arguments(p) -> None:
    p.add_argument("text", nargs="?")
    p.add_argument("--file", help="one utterance per line ('-' for stdin): one JSON object per line")


def cmd_nlu(args) -> int:
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


def say_arguments(p) -> None:
    p.add_argument("text")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--rate", type=int, help="output sample rate (default: the voice's)")


def cmd_say(args) -> int:
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


def cmd_serve(args) -> int:
    return server.run(args, lambda: make_bot(args))


def train_arguments(p) -> None:
    p.add_argument("--config", default=str(ROOT / "nlu" / "train_config.yml"))
    p.add_argument("--data-dir", default=str(ROOT / "nlu" / "data"))
    p.add_argument("--model-dir", default="models/nlu")
    p.add_argument("--epochs", type=int, help="overrides the config")
    p.add_argument("--limit", type=int, help="train on the first N examples only (smoke tests)")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("-q", "--quiet", action="store_true")


def cmd_train(args) -> int:
    cfg = TrainConfig.load(args.config)
    if args.epochs:
        cfg.epochs = args.epochs
    # train.jsonl, and heard_train.jsonl beside it unless the config says `heard: false`
    examples, info = training_data(args.data_dir, cfg.heard, args.limit or None, cfg.heard_sentiment)
    result = train(examples, args.model_dir, cfg, args.device, progress=not args.quiet, data_info=info)
    print(f"model saved to {args.model_dir} (best epoch {result['best_epoch']} of {cfg.epochs}, {result['seconds']:.0f} s)")
    return 0


def hear_arguments(p) -> None:
    p.add_argument("source", help="a data file (train.jsonl, test.jsonl)")
    p.add_argument("dest", help="where the heard records go (heard_train.jsonl)")
    p.add_argument("--split", default="train", choices=["train", "test"],
                   help="test: other voices and noise draws than training lines (default train)")
    p.add_argument("--avoid", help="the training data (train.jsonl, heard every --avoid-every lines, or "
                                   "heard_train.jsonl): a test line is never said by the voice that said the same words there")
    p.add_argument("--avoid-every", type=int, default=1, help="how train.jsonl was heard (its --every)")
    p.add_argument("--asr-model", default="base", help="the Whisper model (default base, the bot's)")
    p.add_argument("--every", type=int, default=1, help="hear every N-th line only (default 1: all)")
    p.add_argument("--limit", type=int, help="N of those lines only, drawn at random (fixed): "
                   "a run stopped early is finished with the number it reached")
    p.add_argument("--batch", type=int, default=8, help="utterances decoded together (default 8)")
    p.add_argument("-q", "--quiet", action="store_true")


def cmd_hear(args) -> int:
    result = heard.generate(args.source, args.dest, args.split, args.asr_model, args.every, args.limit, args.batch,
                            heard.voices_used(args.avoid, args.avoid_every) if args.avoid else None, progress=not args.quiet)
    print(f"{result['records']} heard records of {result['lines']} lines in {result['file']} "
          f"({result['words_changed']} with other words than typed, {result['intent_only']} for intent and "
          f"sentiment only, {result['unheard']} unheard; {result['seconds']:.0f} s)")
    return 0


def evaluate_arguments(p) -> None:
    p.add_argument("--model-dir", default="models/nlu")
    p.add_argument("--data-dir", default=str(ROOT / "nlu" / "data"))
    p.add_argument("--out", help="where the JSON report and confusion-matrix PNG go (default: the model dir)")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--device", default="auto", choices=DEVICES)


def cmd_evaluate(args) -> int:
    report = evaluate(args.model_dir, args.data_dir, args.out, baseline=not args.no_baseline, device=args.device)
    print_report(report)
    return 0
