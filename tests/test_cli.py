"""The `voicebot` command's verbs: grouped spellings, the older one-word spellings still parsing
to the same command with the same options, and a top-level listing short enough to read."""
import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicebot.cli.main import ALIASES, build_parser, main, parse_args

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ["--config", "--device", "--asr-backend", "--asr-model", "--vad", "--tts", "--voice", "--nlu-model",
          "--channel"]

# Every verb's arguments before the verbs were grouped (commit 3610c3c), written by signature()
# below: positionals in capitals, then each option with its default, type, choices and ! when
# required; ENGINE for the nine engine options.
BEFORE = {
    "call": "INPUTS+ --out! -q/--quiet:flag --workers=2:int ENGINE",
    "transcribe": "FILE --json:flag ENGINE",
    "nlu": "TEXT? --file ENGINE",
    "say": "TEXT -o/--output! --rate:int ENGINE",
    "bench-asr": "--data:append --backend:append{faster-whisper,openai-whisper} --model:append "
                 "--context:append{short,30s} --device=auto{auto,cpu,cuda} --compute-type:append --beam-size=1:int "
                 "--threads=0:int --repeats=3:int --warmup=1:int --limit:int --no-streaming:flag "
                 "--stream-utterances=6:int --allow-skips:flag --json --markdown --plot -q/--quiet:flag",
    "bench-tts": "--json --markdown --plot --repeats=3:int --engines=piper,coqui --no-wer:flag",
    "score": "INPUTS+ --results --out --plain:flag --plain-model=base --json --plot -v/--verbose:flag "
             "-q/--quiet:flag ENGINE",
    # issue 28 added --set (more fresh sets later) and three noises (the old options stand as they were)
    "make-test-calls": "OUT --set{default,held-out,issue,fresh-a,fresh-b,fresh-c,fresh-d,fresh-e,fresh-f,fresh-g} "
                       "--noise:append{white,brown,pink,hum,babble,crowd,none} --level:append:float --rounds=1:int "
                       "--held-out:flag",
    "chat": "--domain --json:flag --no-greet:flag ENGINE",
    "talk": "--list-devices:flag --input-device --output-device --barge-in{on,off,cautious} --seconds:float --out "
            "--no-greet:flag ENGINE",
    "bench-latency": "--calls=6:int --noise:append{white,hum,babble,none} --level=-50.0:float --echo-ms:float "
                     "--echo-db=-15.0:float --pause=0.8:float --json --plot -q/--quiet:flag ENGINE",
    "analyze": "INPUTS* --out! --channels --manifest --workers=0:int --ray --db --no-report:flag -q/--quiet:flag "
               "ENGINE",
    "archive-report": "OUT ENGINE",
    "bench-archive": "--calls=16:int --out=runs/bench-archive --run:append{embedded, 1 worker,embedded, 2 workers,"
                     "Ray local, 1 actor,Ray local, 2 actors} --no-plain:flag --json --markdown ENGINE",
    # issue 29 added --front, --token, --workers and --cores
    "bench-calls": "--calls=4 --runs=1:int --target-ms=1000.0:float --json --plot --stagger-s=0.5:float --scripts "
                   "--front --token --workers:int --cores:int ENGINE",
    "calls": "ACTION{list,show,rotate-key} CALL_ID? --limit=20:int --db --json:flag --operator ENGINE",
    "bench-barge-in": "--trials=8:int --echo-db=-6.0:float --level=-50.0:float --json --plot -q/--quiet:flag "
                      "ENGINE",
    "keygen": "--out!",
    "export": "RESULTS+ --config --out!",
    "rotate-key": "RESULTS+ --config",
    "retention": "RESULTS* --days:float! --records:flag --config --dry-run:flag",
    "api-key": "ACTION{add,list,remove} NAME? --keys-file --config",
    "redact-eval": "--data=ROOT/nlu/data/redaction_eval.txt --json -v/--verbose:flag",
    "redact-audio": "INPUTS+ --out! ENGINE",
    "serve": "--host=127.0.0.1 --port=8080:int --token --keys-file --open:flag --tls-cert --tls-key "
             # issue 29 added --workers and --max-calls
             "--forwarded-allow-ips --sip? --workers=1:int --max-calls:int ENGINE",
    "train": "--config=ROOT/nlu/train_config.yml --data-dir=ROOT/nlu/data --model-dir=models/nlu --epochs:int "
             "--limit:int --device=auto{auto,cpu,cuda} -q/--quiet:flag",
    "evaluate": "--model-dir=models/nlu --data-dir=ROOT/nlu/data --out --no-baseline:flag "
                "--device=auto{auto,cpu,cuda}",
}

# the fewest arguments each older spelling needs to parse, and something of its own besides
SAMPLE = {
    "bench-asr": ["--model", "base", "--json", "x.json"], "bench-tts": ["--engines", "piper"],
    "bench-latency": ["--calls", "2", "--tts", "piper"], "bench-barge-in": ["--trials", "1"],
    "bench-calls": ["--calls", "1,2"], "bench-archive": ["--run", "embedded, 1 worker"],
    "score": ["calls/", "--plain"], "make-test-calls": ["out/", "--noise", "hum"], "redact-eval": ["-v"],
    "keygen": ["--out", "k"], "export": ["r/", "--out", "o/"], "rotate-key": ["r/", "s/"],
    "retention": ["--days", "90", "--records"], "redact-audio": ["a.wav", "--out", "o/"],
    "train": ["--epochs", "1", "--limit", "8"], "evaluate": ["--no-baseline"], "archive-report": ["runs/a"],
}


def signature(parser: argparse.ArgumentParser) -> str:
    parts, engine = [], []
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if not a.option_strings:
            parts.append(a.dest.upper() + (a.nargs if a.nargs in ("?", "*", "+") else "")
                         + ("{" + ",".join(a.choices) + "}" if a.choices else ""))
            continue
        if a.option_strings[0] in ENGINE and a.container.title and a.container.title.startswith("engines"):
            engine.append(a.option_strings[0])
            continue
        key, default = "/".join(a.option_strings), a.default
        if isinstance(default, str) and default.startswith(str(ROOT)):
            default = "ROOT" + default[len(str(ROOT)):]
        if a.nargs in ("?", "*", "+"):
            key += a.nargs
        if isinstance(a, argparse._StoreTrueAction):
            key += ":flag"
        elif isinstance(a, argparse._AppendAction):
            key += ":append"
        elif default is not None and not (a.dest == "token" and default == os.environ.get("VOICEBOT_TOKEN")):
            key += f"={default}"
        if a.type not in (None, str):
            key += f":{a.type.__name__}"
        if a.choices:
            key += "{" + ",".join(a.choices) + "}"
        parts.append(key + ("!" if a.required else ""))
    if engine:
        parts.append("ENGINE" if engine == ENGINE else "ENGINE:" + ",".join(engine))
    return " ".join(parts)


def subparsers(parser: argparse.ArgumentParser) -> dict:
    return next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def leaf(words: list[str]) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in words:
        parser = subparsers(parser)[word]
    return parser


def listing(out: str, title: str) -> list[str]:
    """The verb lines under `title:` in a --help text."""
    block = out.split(f"\n{title}:\n", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("old", sorted(BEFORE))
def test_every_old_spelling_keeps_its_arguments(old):
    assert signature(leaf(ALIASES.get(old, [old]))) == BEFORE[old]


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_old_and_new_spellings_parse_the_same(old):
    args = SAMPLE[old]
    before, now = parse_args([old, *args]), parse_args([*ALIASES[old], *args])
    assert before == now and callable(now.func)


def test_every_verb_runs_something():
    def leaves(parser, words):
        try:
            sub = subparsers(parser)
        except StopIteration:
            yield words, parser
            return
        for word, child in sub.items():
            yield from leaves(child, [*words, word])

    found = list(leaves(build_parser(), []))
    assert all(callable(p.get_default("func")) for _, p in found)
    new = {" ".join(words) for words, _ in found}
    assert {" ".join(v) for v in ALIASES.values()} <= new
    assert {"bench yardstick", "nlu-model train", "data redact", "call", "serve", "calls"} <= new
    assert not set(ALIASES) & new  # the old words are not verbs of the parser: only swapped in
    assert set(ALIASES) < set(BEFORE)  # and each was a verb


def test_grouped_spellings(tmp_path):
    args = parse_args(["bench", "asr", "--model", "base", "--context", "short", "-q"])
    assert (args.command, args.task, args.model, args.context, args.quiet) == ("bench", "asr", ["base"], ["short"], True)
    args = parse_args(["data", "retention", "runs/calls", "--days", "30", "--dry-run"])
    assert (args.results, args.days, args.dry_run) == (["runs/calls"], 30.0, True)
    args = parse_args(["nlu-model", "evaluate", "--model-dir", "m", "--out", "o"])
    assert (args.task, args.model_dir, args.out) == ("evaluate", "m", "o")
    assert parse_args(["bench", "yardstick"]).repeats == 5
    # an argument that merely looks like an old verb is left alone
    assert parse_args(["nlu", "train"]).text == "train"
    assert parse_args(["call", "score", "--out", "o"]).inputs == ["score"]


def test_errors_name_the_command_as_typed(tmp_path, capsys):
    missing = str(tmp_path / "none.txt")
    assert main(["redact-eval", "--data", missing]) == 2
    assert capsys.readouterr().err.startswith("voicebot redact-eval: ")
    assert main(["bench", "redaction", "--data", missing]) == 2
    assert capsys.readouterr().err.startswith("voicebot bench redaction: ")
    with pytest.raises(SystemExit):
        main(["bench-asr", "--backend", "none-such"])
    assert "voicebot bench asr: error: argument --backend" in capsys.readouterr().err


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", module, *args], check=False, capture_output=True, text=True, env=env, timeout=60)


def test_help_is_short_and_hides_the_old_spellings():
    r = run("voicebot", "--help")
    assert r.returncode == 0, r.stderr
    verbs = listing(r.stdout, "commands")
    assert 10 <= len(verbs) <= 16  # test (issue 30) and deploy (issue 29) made 16
    assert all(len(line) <= 78 for line in r.stdout.splitlines())
    names = [line.split()[0] for line in verbs]
    assert names[:4] == ["call", "transcribe", "nlu", "say"] and {"bench", "data", "nlu-model"} <= set(names)
    assert not set(names) & set(ALIASES) and "bench-asr," not in r.stdout.split("\n\n")[0]


def test_bench_help_lists_the_benchmarks():
    r = run("voicebot.cli", "bench", "--help")
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in listing(r.stdout, "tasks")]
    assert names == ["asr", "tts", "latency", "barge-in", "calls", "archive", "score", "test-calls", "redaction",
                     "yardstick"]


def test_old_spelling_through_python_m(tmp_path):
    r = run("voicebot", "keygen", "--out", str(tmp_path / "k"))
    assert r.returncode == 0 and (tmp_path / "k").stat().st_mode & 0o777 == 0o600, r.stderr
    r = run("voicebot.cli", "data", "keygen", "--out", str(tmp_path / "k"))
    assert r.returncode == 2 and r.stderr.startswith("voicebot keygen: ") and "never overwritten" in r.stderr


def test_starts_without_the_heavy_packages():
    # every verb's module is imported to build the parser: those that need torch, Whisper, the web
    # server or the plots import them when they run, so `voicebot --help` stays quick
    heavy = ["torch", "transformers", "ctranslate2", "faster_whisper", "whisper", "onnxruntime", "piper", "ray",
             "uvicorn", "starlette", "sqlalchemy", "matplotlib", "sklearn", "scipy", "pyaudio", "pyVoIP"]
    code = f"import sys, voicebot.cli.main; print(sorted(set({heavy!r}) & set(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
