"""`voicebot chat`: the dialogue by text in the terminal, for trying a domain file.

The same NLU and dialogue stages as a call, with typed lines for transcripts. Reads stdin
line by line, so it works at a prompt and with a pipe (`printf 'hi\\nbye\\n' | voicebot chat`).
"""
from __future__ import annotations

import json
import sys

from asr.events import Transcript
from nlu.events import BotReply, NLUResult
from nlu.stage import DialogueStage, NLUStage
from voicebot.bot import Bot
from voicebot.options import load_config
from voicebot.pipeline import Pipeline

QUIT = {"/quit", "/exit"}


def add_arguments(p) -> None:
    p.add_argument("--domain", help="a domain YAML (default: the config's, else nlu/domain.yml)")
    p.add_argument("--json", action="store_true", help="one JSON object per turn instead of text")
    p.add_argument("--no-greet", action="store_true", help="do not open with the greeting")


def lines(stream, prompt: bool):
    n = 0
    while True:
        if prompt:
            print("you> ", end="", flush=True)
        line = stream.readline()
        if not line or line.strip() in QUIT:
            return
        text = line.strip()
        if text:
            n += 1
            yield Transcript(text, float(n), float(n))


def chat(bot, stream=None, out=None, greet: bool = True, as_json: bool = False) -> int:
    stream, out = stream or sys.stdin, out or sys.stdout
    prompt = stream.isatty() and not as_json
    conversation = bot.policy.new_conversation()
    for ev in Pipeline(NLUStage(bot.nlu), DialogueStage(conversation, greet))(lines(stream, prompt)):
        if isinstance(ev, NLUResult) and not as_json:
            ents = " ".join(f"{e.type}={e.value}" for e in ev.entities)
            print(f"  [{ev.intent} {ev.confidence:.2f}, {ev.sentiment}{', ' + ents if ents else ''}]", file=out)
        elif isinstance(ev, BotReply):
            if as_json:
                print(json.dumps({"you": ev.turn.text if ev.turn else None,
                                  **({k: v for k, v in ev.turn.to_dict().items() if k != "text"} if ev.turn else {}),
                                  "bot": ev.text, "answer_source": ev.answer_source, "faq": ev.faq,
                                  "handover": ev.handover, "end_call": ev.end_call},
                                 ensure_ascii=False), file=out, flush=True)
            else:
                note = " [handed over to a colleague]" if ev.handover else ""
                print(f"bot: {ev.text}{note}" if ev.text else "bot: (silent: a colleague has the call)", file=out, flush=True)
            if ev.end_call:
                break
    return 0


def main(args) -> int:
    cfg = load_config(args)
    if args.domain:
        cfg.dialogue.domain = args.domain
    return chat(Bot(cfg), greet=not args.no_greet, as_json=args.json)
