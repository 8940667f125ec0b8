"""`voicebot test`: run story files by text, by voice or both, and say what broke."""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from voicebot.bench.callers import VoiceError, speak
from voicebot.bot import Bot
from voicebot.options import load_config
from voicebot.stories import report
from voicebot.stories.by_text import run_by_text
from voicebot.stories.by_voice import VOICES, run_by_voice
from voicebot.stories.story import StoryError, load_stories

STARTER = Path(__file__).resolve().parent / "starter"  # the bundled domain's stories


def add_arguments(p) -> None:
    p.add_argument("stories", nargs="*", metavar="STORIES",
                   help="story files or directories of them (default: the starter set of the bundled domain)")
    p.add_argument("--by", choices=["text", "voice", "both"], default="text",
                   help="text: lines straight into the dialogue; voice: spoken by test voices on the simulated line; "
                        "both, marking steps misheard (default text)")
    p.add_argument("--domain", help="a domain YAML (default: the config's, else nlu/domain.yml)")
    p.add_argument("--voices", default=",".join(VOICES),
                   help=f"caller voices, story by story in turn (default {','.join(VOICES)})")
    p.add_argument("-k", dest="pick", metavar="WORDS", help="only stories whose name holds these words")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="stories run at once (default 1)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML (for CI systems)")
    p.add_argument("--failed-only", action="store_true", help="the table shows failing steps only")


def run_stories(bot, stories, by: str = "text", voices=VOICES, jobs: int = 1, progress: bool = True) -> list[dict]:
    """Results, one per story and way (text first), in the stories' order."""
    work = []
    for i, story in enumerate(stories):
        if by in ("text", "both") and "text" in story.by:
            work.append((i, story, "text", None))
        if by in ("voice", "both") and "voice" in story.by:
            work.append((i, story, "voice", voices[i % len(voices)]))
    if any(w[2] == "voice" for w in work):
        bot.warm_up()  # the first turn must not pay for loading the engines

    def one(item):
        i, story, way, voice = item
        return run_by_text(bot, story) if way == "text" else run_by_voice(bot, story, voice, seed=i)

    results = []
    with Progress(disable=not progress, transient=True) as bar, ThreadPoolExecutor(max(1, jobs)) as pool:
        task = bar.add_task("stories", total=len(work))
        for r in pool.map(one, work):
            results.append(r)
            bar.advance(task)
    if by == "both":
        report.mark_misheard(results)
    return results


def main(args) -> int:
    err = Console(stderr=True)
    if args.jobs < 1:
        err.print(f"voicebot test: --jobs must be 1 or more, not {args.jobs}")
        return 2
    cfg = load_config(args)
    # stories run at once do not share Whisper's batches: a batch pads each call's audio to the
    # longest in it, so a line's words would depend on which other story spoke at that moment
    # (seen: "4 5 6 7" heard 4567, 45677 or "for 5667" across runs of the starter set)
    cfg.asr.max_batch = 1
    if args.domain:
        cfg.dialogue.domain = args.domain
    try:
        stories = load_stories(args.stories or [STARTER])
    except StoryError as e:
        print(f"voicebot test: {e}", file=sys.stderr)
        return 2
    if args.pick:
        words = args.pick.lower().split()
        stories = [s for s in stories if all(w in s.name.lower() for w in words)]
        if not stories:
            print(f"voicebot test: no story name holds {args.pick!r}", file=sys.stderr)
            return 2
    voices = [v.strip() for v in args.voices.split(",") if v.strip()]
    if args.by != "text":
        try:
            for v in voices:
                speak("hello", v)
        except VoiceError as e:
            print(f"voicebot test: {e}", file=sys.stderr)
            return 2
    results = run_stories(Bot(cfg), stories, args.by, voices, args.jobs, progress=sys.stderr.isatty())
    report.print_table(results, failed_only=args.failed_only)
    if args.json:
        report.write_json(results, args.json)
    if args.junit:
        report.write_junit(results, args.junit)
    return 0 if all(r["passed"] for r in results) else 1
