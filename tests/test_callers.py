"""The test callers (voicebot.bench.callers): Festival as a third engine, brown and pink noise,
and the named sets of calls (issue 28: tune on one set, confirm on fresh ones). Real tools, no
mocks: Festival, espeak-ng and flite are Debian packages (scripts/system-deps.sh)."""
import re
import subprocess

import numpy as np
import pytest
import soundfile as sf

from nlu.schema import INTENTS
from voicebot.bench.callers import (
    FESTIVAL,
    RATE,
    SEEDS,
    SETS,
    VOICES,
    VoiceError,
    named_calls,
    noise,
    speak,
    write_call,
)
from voicebot.bench.callers import TestCall as Call  # not a test class
from voicebot.bench.named_sets import ISSUE
from voicebot.bench.scripts import HELD_OUT, SCRIPTS

FRESH = [name for name in SETS if name.startswith("fresh-")]  # the confirmation sets, in the order written
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _espeak_voices() -> set[str]:
    out = subprocess.run(["espeak-ng", "--voices=en"], check=True, capture_output=True, text=True).stdout
    return {line.split()[1] for line in out.splitlines()[1:]}


def _espeak_variants() -> set[str]:  # "f3" of "espeak:en-us+f3"
    out = subprocess.run(["espeak-ng", "--voices=variant"], check=True, capture_output=True, text=True).stdout
    return {line.split()[4].removeprefix("!v/") for line in out.splitlines()[1:] if len(line.split()) > 4}


def _flite_voices() -> set[str]:
    out = subprocess.run(["flite", "-lv"], check=True, capture_output=True, text=True).stdout
    return set(out.split(":", 1)[1].split())


def _digit_runs(text: str) -> list[int]:
    """The lengths of the digit strings said digit by digit ("order two four six one": 4)."""
    runs, n = [], 0
    for word in re.findall(r"[a-z]+", text.lower()) + [""]:
        if word in DIGITS:
            n += 1
        else:
            runs, n = runs + [n] * (n >= 3), 0
    return runs


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spec[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize("name", sorted(FESTIVAL))
def test_festival_speaks_a_short_sentence(name):
    audio = speak("Do you accept PayPal?", f"festival:{name}")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.5 * RATE < len(audio) < 4 * RATE  # about a second and a half at 16 kHz
    assert np.abs(audio).max() == pytest.approx(0.7, abs=0.01) and np.sqrt(np.mean(audio ** 2)) > 0.03


@pytest.mark.parametrize("name", ["kal", "slt_hts"])
def test_festival_speaks_slower_and_faster(name):
    slow, fast = (speak("Four four one two zero.", f"festival:{name}", rate) for rate in (120, 200))
    assert len(slow) > 1.3 * len(fast)


def test_festival_names_what_is_missing(monkeypatch):
    with pytest.raises(VoiceError, match="festival:slt_hts"):
        speak("Hello.", "festival:nobody")
    monkeypatch.setitem(FESTIVAL, "gone", ("voice_gone_diphone", "festvox-gone16k"))
    with pytest.raises(VoiceError, match="festvox-gone16k"):  # text2wave runs, the voice is not there
        speak("Hello.", "festival:gone")


@pytest.mark.parametrize("kind", ["brown", "pink"])
@pytest.mark.parametrize("level", [-45.0, -35.0])
def test_brown_and_pink_noise_have_the_level_and_lean_to_the_bass(kind, level):
    x = noise(kind, 2.0, level, seed=3)
    assert x.dtype == np.float32 and len(x) == 2 * RATE
    assert 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))) == pytest.approx(level, abs=0.1)
    assert abs(float(x.mean())) < 0.01 * 10 ** (level / 20)
    low, high = _band_energy(x, 20, 500), _band_energy(x, 4000, 8000)
    assert low > (100 if kind == "brown" else 3) * high
    white = noise("white", 2.0, level, seed=3)  # the measure tells them apart: white leans the other way
    assert _band_energy(white, 20, 500) < _band_energy(white, 4000, 8000)


@pytest.mark.parametrize("name", sorted(SETS))
def test_each_named_set_builds_calls_with_real_voices_and_intents(name):
    calls = named_calls(name)
    espeak, variants, flite = _espeak_voices(), _espeak_variants(), _flite_voices()
    assert len(calls) >= 12 and len({c.name for c in calls}) == len(calls) and name in SEEDS
    for c in calls:
        engine, _, voice = c.voice.partition(":")
        voice, plus, variant = voice.partition("+")  # espeak-ng's voice variants: "en-us+f3"
        assert not plus or (engine == "espeak" and variant in variants), c.voice
        assert voice in {"espeak": espeak, "flite": flite, "festival": set(FESTIVAL)}[engine], c.voice
        assert c.noise in ("white", "brown", "pink", "hum", "babble", "crowd") and -65 <= c.level_dbfs <= -25
        assert all(text.strip() and intent in INTENTS + ("",) for text, intent in c.turns), c.turns
        assert c.telephone == c.name.endswith(("_8k", "_8k_quiet"))
    if SETS[name] is not None:  # the new sets: 2-4 turns, varied gaps of 0.5-2 s, half by phone
        assert all(2 <= len(c.turns) <= 4 and 0.5 <= c.gap_s <= 2.0 for c in calls)
        assert len({c.gap_s for c in calls}) >= 6
        assert abs(sum(c.telephone for c in calls) - len(calls) / 2) <= 1


def test_fresh_sets_are_new_voices_noises_and_sentences():
    """Issue 28: confirm on calls made with voices, noises and sentences never used while tuning."""
    tuned = named_calls("default") + named_calls("held-out") + named_calls("issue")
    tuned_voices = {c.voice for c in tuned} | set(VOICES)
    tuned_sentences = {t for s in SCRIPTS + HELD_OUT for t, _ in s} | {t for c in ISSUE for t, _ in c["turns"]}
    seen = set()
    seen_voices = set()
    for name in FRESH:
        calls = named_calls(name)
        assert not {c.voice for c in calls} & (tuned_voices | seen_voices)
        seen_voices |= {c.voice for c in calls}
        assert {c.noise for c in calls} & {"brown", "pink"}
        sentences = [t for c in calls for t, _ in c.turns]
        assert not set(sentences) & tuned_sentences and not set(sentences) & seen
        seen |= set(sentences)
        assert sum(t.lower().count("paypal") + t.count("Apple Pay") + t.count("gift card") for t in sentences) >= 1
        assert any(day in t for t in sentences for day in ("Monday", "Tuesday", "Wednesday", "Friday", "Saturday"))
        if name in ("fresh-a", "fresh-b"):
            assert any("charged twice" in t for t in sentences) and any("Saturday" in t for t in sentences)
    assert {c.voice for c in named_calls("fresh-a")} == {f"festival:{n}" for n in FESTIVAL}
    assert {c.voice.partition(":")[0] for c in named_calls("fresh-b")} == {"espeak"}
    assert {c.voice for c in tuned} <= set(VOICES)
    fresh_c = named_calls("fresh-c")  # espeak-ng's variants and flite's 8 kHz kal, four digit strings
    assert {c.voice.partition("+")[1] or c.voice for c in fresh_c} == {"+", "flite:kal"}
    runs = sorted(n for c in fresh_c for t, _ in c.turns for n in _digit_runs(t))
    assert 3 <= len(runs) <= 4 and runs[-1] >= 10 and all(4 <= n <= 5 for n in runs[:-1])  # order numbers, a phone


@pytest.mark.parametrize("voice", sorted({c.voice for name in FRESH for c in named_calls(name) if "+" in c.voice}))
def test_espeak_variants_change_the_voice(voice):
    """espeak-ng takes a variant it cannot apply without a word (en-gb+f4 is en-gb): each must be heard."""
    with_variant, base = (speak("Order two four six one.", v) for v in (voice, voice.partition("+")[0]))
    assert len(with_variant) != len(base) or not np.allclose(with_variant, base)


def test_the_issue_set_has_the_reported_turns():
    calls = named_calls("issue")
    texts = [t for c in calls for t, _ in c.turns]
    for said in ("Do you accept PayPal?", "The order number is five eight two one three.",
                 "I'd like to cancel order four four one two zero.", "nine zero zero one seven",
                 "My router keeps disconnecting.", "Can I pick it up on Saturday?"):
        assert said in texts
    paypal = next(c for c in calls if c.turns[0][0] == "I would like to return the headphones I bought.")
    assert paypal.turns[1][0] == "Do you accept PayPal?" and paypal.gap_s == 1.35
    assert all(c.noise == "white" and -60 <= c.level_dbfs <= -55 for c in calls)
    assert {c.telephone for c in calls} == {True, False}


def test_a_festival_call_at_a_slow_rate_by_phone(tmp_path):
    call = Call("fest", [("Hello.", "greet"), ("Do you accept PayPal?", "payment_methods")], "festival:ked",
                    "brown", -40.0, telephone=True, gap_s=0.7, rate_wpm=130)
    path = write_call(call, tmp_path, seed=1)
    audio, rate = sf.read(path)
    assert rate == 8000 and sf.info(path).subtype == "ULAW" and np.abs(audio).max() > 0.1
    rows = [line.split("\t") for line in (tmp_path / "fest.txt").read_text().splitlines()]
    assert [r[:2] for r in rows] == [["Hello.", "greet"], ["Do you accept PayPal?", "payment_methods"]]
    (_, b0), (a1, b1) = (map(float, r[2].split()) for r in rows)
    assert b1 <= len(audio) / rate and a1 - b0 == pytest.approx(0.7, abs=0.02)


def test_the_cli_keeps_fixed_sets_fixed(tmp_path):
    from voicebot.cli.benchmarks import cmd_test_calls
    from voicebot.cli.main import parse_args
    from voicebot.options import UsageError
    for argv in (["--set", "fresh-a", "--noise", "hum"], ["--set", "issue", "--held-out"], ["--set", "fresh-b", "--rounds", "2"]):
        with pytest.raises(UsageError):
            cmd_test_calls(parse_args(["bench", "test-calls", str(tmp_path / "x"), *argv]))
    assert not (tmp_path / "x").exists()
    args = parse_args(["bench", "test-calls", str(tmp_path), "--held-out"])
    assert args.held_out and args.set is None
