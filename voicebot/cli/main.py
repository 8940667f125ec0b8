"""The `voicebot` command: the parser with its verbs grouped by use, the older spellings kept
for scripts, and the one-line errors."""
from __future__ import annotations

import argparse
import os
import sys

from asr.audio import AudioError
from nlu import redact_eval
from voicebot import deploy
from voicebot.archive import analyze, report
from voicebot.bench import archive as bench_archive
from voicebot.bench import barge_in, latency
from voicebot.bench import calls as bench_calls
from voicebot.bench import score as bench_score
from voicebot.bench import tts as bench_tts
from voicebot.cli import calls
from voicebot.cli import data as data_commands
from voicebot.cli.benchmarks import (
    asr_arguments,
    cmd_asr,
    cmd_score,
    cmd_test_calls,
    cmd_yardstick,
    test_calls_arguments,
    yardstick_arguments,
)
from voicebot.cli.commands import (
    call_arguments,
    cmd_call,
    cmd_evaluate,
    cmd_hear,
    cmd_nlu,
    cmd_say,
    cmd_serve,
    cmd_train,
    cmd_transcribe,
    evaluate_arguments,
    hear_arguments,
    nlu_arguments,
    say_arguments,
    train_arguments,
    transcribe_arguments,
)
from voicebot.live import chat, microphone
from voicebot.options import UsageError, engine_options
from voicebot.serve import access
from voicebot.serve import app as server
from voicebot.stories import run as stories

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from packages: never wait on a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The spellings from before the verbs were grouped: scripts keep working, the listing stays short.
# The old word is swapped for the new words before parsing (`voicebot bench-asr --json x` runs
# `voicebot bench asr --json x`), so both spellings reach the same parser.
ALIASES = {
    "bench-asr": ["bench", "asr"],
    "bench-tts": ["bench", "tts"],
    "bench-latency": ["bench", "latency"],
    "bench-barge-in": ["bench", "barge-in"],
    "bench-calls": ["bench", "calls"],
    "bench-archive": ["bench", "archive"],
    "score": ["bench", "score"],
    "make-test-calls": ["bench", "test-calls"],
    "redact-eval": ["bench", "redaction"],
    "keygen": ["data", "keygen"],
    "export": ["data", "export"],
    "rotate-key": ["data", "rotate-key"],
    "retention": ["data", "retention"],
    "redact-audio": ["data", "redact"],
    "train": ["nlu-model", "train"],
    "evaluate": ["nlu-model", "evaluate"],
    "archive-report": ["report"],
}


class _Listing(argparse.HelpFormatter):
    """Verbs one a line, without argparse's line of the placeholder (COMMAND) above them."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=18)

    def _format_action(self, action):
        if isinstance(action, argparse._SubParsersAction):
            return "".join(super(_Listing, self)._format_action(a) for a in action._get_subactions())
        return super()._format_action(action)


def _verb(sub, name: str, help: str, arguments, func, engines: bool = True, description: str | None = None):
    p = sub.add_parser(name, help=help, description=description or help)
    arguments(p)
    if engines:
        engine_options(p)
    p.set_defaults(func=func)
    return p


def _group(sub, name: str, help: str, description: str):
    """A verb whose second word names the task: `voicebot bench asr`."""
    p = sub.add_parser(name, help=help, description=description, formatter_class=_Listing)
    return p.add_subparsers(dest="task", required=True, title="tasks", metavar="TASK")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicebot", description="An on-premises voice agent for customer-service "
                                     "lines.", formatter_class=_Listing,
                                     epilog="`voicebot COMMAND --help` tells a command's options. The older "
                                     "one-word spellings (bench-asr, keygen, train...) still work.")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")

    _verb(sub, "call", "recorded calls through the bot: transcripts, replies, audio", call_arguments, cmd_call,
          description="process recorded calls: transcripts, intents, replies and reply audio")
    _verb(sub, "transcribe", "speech to text with timestamps", transcribe_arguments, cmd_transcribe)
    _verb(sub, "nlu", "intent, sentiment and entities of a text, as JSON", nlu_arguments, cmd_nlu)
    _verb(sub, "say", "speak a text into a WAV file", say_arguments, cmd_say)
    _verb(sub, "chat", "the dialogue by text in the terminal", chat.add_arguments, chat.main,
          description="talk to the dialogue by text in the terminal (stdin works too)")
    _verb(sub, "test", "run conversation stories by text or voice; say what broke", stories.add_arguments,
          stories.main, description="run story files (scripted calls with what the bot must do) by text, by voice "
                                    "through the simulated line, or both: a table, JSON, JUnit XML, an exit status")
    _verb(sub, "talk", "a live call on this computer's microphone and speaker", microphone.add_arguments,
          microphone.main)
    _verb(sub, "serve", "the bot for browsers and phone lines (web, Twilio, SIP)", server.add_arguments, cmd_serve,
          description="a web page that talks to the bot through the browser microphone; with the route for a "
                      "cloud number's media stream, and SIP with --sip")
    _verb(sub, "calls", "the phone line's call records: list, show, rotate-key", calls.add_arguments,
          calls.main)
    access.add_parsers(sub)  # api-key add|list|remove
    _verb(sub, "analyze", "analytics of recorded customer calls, in bulk", analyze.add_arguments, analyze.main,
          description="analytics of recorded customer calls: transcripts per speaker, reasons, products, "
                      "sentiment, talk time; JSON, tables, a database and a report")
    _verb(sub, "report", "the HTML report of an `analyze` output, again", report.add_arguments, report.main)

    nlu_model = _group(sub, "nlu-model", "train and evaluate the NLU model", "The multi-task NLU model "
                       "(intent, sentiment, entities): train it, and score it on the held-out split.")
    _verb(nlu_model, "train", "train it on a data directory's train.jsonl", train_arguments, cmd_train,
          engines=False, description="train the multi-task NLU model (intent, sentiment, entities)")
    _verb(nlu_model, "evaluate", "score it on the held-out split, beside the baseline", evaluate_arguments,
          cmd_evaluate, engines=False,
          description="score a trained NLU model on the held-out split, beside the baseline")
    _verb(nlu_model, "hear", "a data file as Whisper hears it in test voices (heard_train.jsonl)", hear_arguments,
          cmd_hear, engines=False, description="speak each line of a data file in a test voice, decode it as a "
          "live turn, and write the heard text with the gold labels (issue 28)")

    bench = _group(sub, "bench", "measure speed and accuracy: asr, tts, latency, calls...",
                   "Benchmarks: the engines' speed, the live calls' latency, the accuracy on recorded calls.")
    _verb(bench, "asr", "Whisper backends, models, devices: latency, RTF, WER", asr_arguments, cmd_asr,
          engines=False, description="compare Whisper backends, models and devices: latency, RTF, WER, memory")
    _verb(bench, "tts", "Piper and Coqui on the same replies: first audio, RTF, WER", bench_tts.add_arguments,
          bench_tts.bench, engines=False,
          description="compare TTS engines (Piper, Coqui) on the same replies: first audio, RTF, WER")
    _verb(bench, "latency", "voice-to-voice latency of live calls, simulated device", latency.add_arguments,
          latency.main, description="voice-to-voice latency of live calls on the simulated device")
    _verb(bench, "barge-in", "how soon the bot falls silent when a caller cuts in", barge_in.add_arguments,
          barge_in.main, description="how soon the bot falls silent when a caller cuts in, and what does not "
                                     "cut it")
    _verb(bench, "calls", "N phone callers at once: reply latency, gaps, failures", bench_calls.add_arguments,
          bench_calls.main, description="N simulated phone callers at once over the media stream: reply "
                                         "latency, gaps, failures")
    _verb(bench, "archive", "`analyze` throughput (embedded, Ray) and WER", bench_archive.add_arguments,
          bench_archive.main, description="voicebot analyze's throughput (embedded, Ray) and WER beside plain "
                                          "faster-whisper")
    _verb(bench, "score", "recorded calls against references: WER, turns, intents", bench_score.add_arguments,
          cmd_score, description="score recorded calls against reference transcripts: WER, turns, intents "
                                 "(beside plain faster-whisper with --plain)")
    _verb(bench, "test-calls", "noisy test calls in espeak-ng/flite voices, for score", test_calls_arguments,
          cmd_test_calls, engines=False, description="synthesize test calls in espeak-ng/flite voices with "
                                                     "noise, with reference transcripts")
    _verb(bench, "redaction", "precision and recall of personal-data redaction", redact_eval.add_arguments,
          redact_eval.main, engines=False,
          description="precision and recall of personal-data redaction on a labelled set")
    _verb(bench, "yardstick", "one fixed Whisper decode timed on this machine, in ms", yardstick_arguments,
          cmd_yardstick, engines=False, description="one fixed Whisper decode (base, int8, one thread) timed "
          "on this machine now: compare benchmark runs only at a like yardstick")

    deploy.add_parsers(_group(sub, "deploy", "config for a front before N workers: Kamailio, HAProxy",
                              "Kamailio (SIP) or HAProxy (web, media streams) in front of N voicebot workers: "
                              "the config and a run.sh (voicebot.deploy, docs/deploy.md)."),
                       _verb)

    data = _group(sub, "data", "stored call data: keys, export, retention, redaction",
                  "Operator tasks on stored call data (`voicebot call` results, recordings).")
    data_commands.add_parsers(data)  # keygen, export, rotate-key, retention
    _verb(data, "redact", "silence card numbers, emails... in call recordings",
          data_commands.add_redact_audio_arguments, data_commands.redact_audio_main,
          description="silence the personal data (card numbers, emails...) in call recordings")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    if argv and argv[0] in ALIASES:
        argv = ALIASES[argv[0]] + argv[1:]
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    # errors name the command as it was typed: `voicebot bench-asr: ...` stays as it was
    name = argv[0] if argv[0] in ALIASES else " ".join(filter(None, [args.command, getattr(args, "task", None)]))
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (UsageError, AudioError, ValueError, OSError) as e:
        print(f"voicebot {name}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # an engine that cannot load or run: one line, not a traceback
        if os.environ.get("VOICEBOT_DEBUG"):
            raise
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"voicebot {name}: {type(e).__name__}: {first} (VOICEBOT_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
