"""What voicebot hears and answers on a CPU without AVX-512, emulated beside this one.

int8 kernels round differently with AVX2 than with AVX-512: on an AVX2-only AMD EPYC, Whisper
base heard "My order number is" as "My ordered him the risk" and a live test failed (issue 28).
Switches such as CT2_FORCE_CPU_ISA, ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS hold some
libraries to AVX2, but not onnxruntime (Silero VAD, the NLU), and MKL also looks at the vendor.
QEMU's user mode runs this same virtualenv under another CPU's CPUID, so every library picks its
kernels as it would on that CPU. It is 300-1000 times slower, so this checks a few things the
user gets, not the suite: short utterances' words as a live turn is decoded, the live test's call
("My order number is", a second's pause, "four five six seven") cut in two as on a split turn and
whole, what the dialogue answers to each, and the NLU's reading of sentences as Whisper mishears
them. Each runs here and on the emulated CPU; the table says where they differ and whether order
4567 was answered on both. (A recorded call's whole-call decode, 3 s here, ran over an hour there.)

    scripts/system-deps.sh qemu-user
    .venv/bin/python scripts/other_cpu.py --cpu EPYC-Rome --json runs/other_cpu.json   # ~45 min
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RATE = 16000
# (text, caller's voice): short turns as the live tests say them
UTTERANCES = [("My order number is", "espeak:en-us"), ("I want to check on my order.", "flite:slt"),
              ("What time do your stores open on Sunday?", "flite:rms")]
# sentences as Whisper base wrote them on the test calls (docs/benchmarks.md), and their intents
SENTENCES = ["My ordered him the risk.", "My order to um the list", "4567.", "456-7.", "four five six seven",
             "Do you accept paper?", "I want to bend the vacuum cleaner mag.", "How long will the ribbon take?",
             "I've already tried resetting them.", "Put me through the cinema, please",
             "I'd like to clone my premium account, please.", "Can you sort that out?",
             "What time do you clone on Saturdays?", "I've been built twice for the same laptop.",
             "Sanks, that's great.", "Know that's all.", "Right, goodbye then.", "Where is my 44410?"]


def pause_call():
    """The live test's call: "My order number is", a second's pause, "four five six seven.", mains
    hum under it; and where the pause begins (a quarter second in)."""
    import numpy as np

    from voicebot.bench.callers import noise, speak, trim
    first, second = trim(speak("My order number is", "espeak:en-us")), trim(speak("four five six seven.", "espeak:en-us"))
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), first, np.zeros(RATE, np.float32), second,
                            np.zeros(RATE // 2, np.float32)])
    return audio + noise("hum", len(audio) / RATE, -50), RATE // 2 + len(first) + RATE // 4


def probe() -> dict:
    """Runs inside the CPU being looked at; returns what it heard and answered."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    from voicebot.bench.callers import speak, trim
    from voicebot.bot import Bot
    from voicebot.config import Config

    out = {"cpu": {k: features.get(k, False) for k in ("AVX2", "AVX512F", "AVX512_SKX", "AVX512VNNI")}, "items": []}
    t0 = time.time()
    bot = Bot(Config())

    def note(kind, what, got):
        out["items"].append({"kind": kind, "what": what, "got": got})
        print(f"{time.time() - t0:7.0f} s  {kind}: {what} -> {got}", file=sys.stderr, flush=True)
        return got

    for text, voice in UTTERANCES:
        note("words", f"{text} ({voice})", bot.recognizer.transcribe(trim(speak(text, voice))).text)
    # the live test's call, its two halves as the live turn-taker cuts them on a split, and whole
    audio, cut = pause_call()
    halves = [note("words", f"pause call, {name}", bot.recognizer.transcribe(part).text)
              for name, part in (("first half", audio[:cut]), ("second half", audio[cut:]))]
    whole = note("words", "pause call, whole", bot.recognizer.transcribe(audio).text)
    answered = []
    for turns in (halves, [whole]):
        conversation = bot.policy.new_conversation()
        reply = [conversation.respond(bot.nlu.parse(text)).text for text in turns][-1]
        note("answer", " | ".join(turns), reply)
        answered.append("4 5 6 7" in reply)
    out["answered"] = all(answered)
    for text in SENTENCES:
        r = bot.nlu.parse(text)
        entities = " ".join(f"{e.type}={e.value}" for e in r.entities)
        note("nlu", text, f"{r.intent} {r.confidence:.2f} {entities}".strip())
    out["seconds"] = round(time.time() - t0, 1)
    return out


def run_probe(cpu: str | None) -> dict:
    cmd = [sys.executable, __file__, "--probe"]
    if cpu:
        cmd = [shutil.which("qemu-x86_64") or "qemu-x86_64", "-cpu", cpu] + cmd
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(cmd, stdout=subprocess.PIPE, env=env, text=True)
    if done.returncode:
        raise SystemExit(f"other_cpu: the probe on {cpu or 'this CPU'} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", default="EPYC-Rome", help="a QEMU CPU model without AVX-512 (EPYC-Rome, Haswell-v4...)")
    p.add_argument("--json", help="write both runs as JSON")
    p.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.probe:
        print(json.dumps(probe()))
        return 0
    if not shutil.which("qemu-x86_64"):
        print("other_cpu: qemu-x86_64 not found: scripts/system-deps.sh qemu-user", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.table import Table

    here, there = run_probe(None), run_probe(args.cpu)
    table = Table(title=f"this CPU (AVX-512 {here['cpu']['AVX512F']}) beside {args.cpu} "
                        f"(AVX2 {there['cpu']['AVX2']}, AVX-512 {there['cpu']['AVX512F']}), emulated")
    for col in ("kind", "what", "this CPU", args.cpu, "same"):
        table.add_column(col, overflow="fold")
    for a, b in zip(here["items"], there["items"]):
        what = a["what"] if a["what"] == b["what"] else f"{a['what']} / {b['what']}"  # an answer to other words
        table.add_row(a["kind"], what, a["got"], b["got"], "yes" if a["got"] == b["got"] else "NO")
    table.add_row("answer", "order 4567 answered, split and whole", str(here["answered"]), str(there["answered"]),
                  "yes" if here["answered"] == there["answered"] else "NO")
    Console().print(table)
    print(f"seconds: {here['seconds']} here, {there['seconds']} emulated")
    if args.json:
        tmp = Path(args.json).with_suffix(".part")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"cpu": args.cpu, "here": here, "emulated": there}, indent=1))
        tmp.replace(args.json)
    return 0 if here["answered"] and there["answered"] else 1


if __name__ == "__main__":
    sys.exit(main())
