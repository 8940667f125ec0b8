"""Test calls spoken by voices other than the bot's own, with noise and telephone band.

The bot hearing its own Piper voice proves little, so test and benchmark calls are spoken
by espeak-ng, flite and Festival (Debian packages, offline), their turns separated by gaps of
steady noise (white, brown, pink, mains hum, or babble and crowd mixed from other voices) that
also runs under the speech, written at 16 kHz PCM or as 8 kHz mu-law telephone audio
(300-3400 Hz). Each call gets a reference file beside it in the scorer's format: one caller
turn per line, a tab, the intent. The scripts and named sets are in voicebot.bench.scripts.

    voicebot bench test-calls runs/testcalls            # the default set (14 calls)
    voicebot bench test-calls runs/fresh-a --set fresh-a   # held back until the final check
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import resample
from asr.files import atomic_path, atomic_write_text
from voicebot.bench.later_sets import LATER
from voicebot.bench.named_sets import NAMED
from voicebot.bench.scripts import BABBLE, CROWD, HELD_OUT, SCRIPTS

RATE = 16000
VOICES = ["espeak:en-us", "flite:slt", "espeak:en-gb-scotland", "flite:kal16", "flite:awb",
          "espeak:en-gb", "flite:rms"]
# Festival's voices: the voice function text2wave runs, and the Debian package that brings it
FESTIVAL = {"slt_hts": ("voice_cmu_us_slt_arctic_hts", "festvox-us-slt-hts"),
            "kal": ("voice_kal_diphone", "festvox-kallpc16k"), "ked": ("voice_ked_diphone", "festvox-kdlpc16k")}
# other people talking in the room: the tuning sets' voices (babble), and the fresh sets' (crowd)
BABBLE_VOICES = ["espeak:en-us", "flite:slt", "flite:kal16", "espeak:en-gb", "flite:awb", "flite:rms"]
CROWD_VOICES = ["festival:kal", "espeak:en-gb-x-rp", "festival:slt_hts", "espeak:en-029", "festival:ked",
                "espeak:en-gb-x-gbclan", "espeak:en-gb-x-gbcwmd", "festival:kal"]
SETS = {"default": None, "held-out": None, **NAMED, **LATER}  # None: made by default_calls
SEEDS = {"default": 0, "held-out": 100, "issue": 200, "fresh-a": 300, "fresh-b": 400,
         "fresh-c": 500, "fresh-d": 600, "fresh-e": 700, "fresh-f": 800, "fresh-g": 900}  # the noise's, per set


class VoiceError(RuntimeError):
    pass


def speak(text: str, voice: str, rate_wpm: int | None = None) -> np.ndarray:
    """`text` spoken by an espeak-ng, flite or Festival voice ("espeak:en-gb", "espeak:en-us+f3" with
    a variant, "flite:slt", "festival:kal"), at `rate_wpm` words a minute (160 is each engine's usual): 16 kHz float32."""
    engine, _, name = voice.partition(":")
    stdin = None
    with tempfile.TemporaryDirectory() as tmp:
        wav = str(Path(tmp) / "out.wav")
        if engine == "espeak":
            cmd = ["espeak-ng", "-v", name or "en-us", "-s", str(rate_wpm or 160), "-w", wav, text]
        elif engine == "flite":
            cmd = ["flite", "-voice", name or "slt", "-t", text, "-o", wav]
            if rate_wpm:  # flite's duration stretch: >1 is slower
                cmd[3:3] = ["--setf", f"duration_stretch={160 / rate_wpm:.2f}"]
        elif engine == "festival":
            cmd, stdin = festival_command(name or "kal", wav, rate_wpm), text
        else:
            raise VoiceError(f"unknown test voice {voice!r} (espeak:NAME, flite:NAME or festival:NAME)")
        if not shutil.which(cmd[0]):
            package = "festival" if engine == "festival" else cmd[0]
            raise VoiceError(f"{cmd[0]} is not installed (Debian package {package}; scripts/system-deps.sh installs it)")
        done = subprocess.run(cmd, input=stdin, check=True, capture_output=True, text=True, errors="replace", timeout=60)
        if engine == "festival" and (not Path(wav).exists() or "unbound variable" in done.stderr):
            raise VoiceError(f"Festival voice {name!r} is not installed (Debian package {FESTIVAL[name][1]}; "
                             "scripts/system-deps.sh installs it)")
        audio, rate = sf.read(wav, dtype="float32", always_2d=False)
    audio = resample(audio if audio.ndim == 1 else audio.mean(axis=1), rate, RATE)
    return (audio / (np.abs(audio).max() + 1e-9) * 0.7).astype(np.float32)  # peak -3 dBFS


def festival_command(name: str, wav: str, rate_wpm: int | None = None) -> list[str]:
    """text2wave with one of FESTIVAL's voices (the text on its stdin). The speaking rate: the
    HTS voice's engine speed (>1 faster), the diphone voices' Duration_Stretch (>1 slower)."""
    if name not in FESTIVAL:
        raise VoiceError(f"unknown Festival voice {name!r} (festival:{', festival:'.join(FESTIVAL)})")
    cmd = ["text2wave", "-eval", f"({FESTIVAL[name][0]})", "-o", wav]
    if rate_wpm and name.endswith("_hts"):
        cmd[3:3] = ["-eval", f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {rate_wpm / 160:.2f}))))']
    elif rate_wpm:
        cmd[3:3] = ["-eval", f"(Parameter.set 'Duration_Stretch {160 / rate_wpm:.2f})"]
    return cmd


def noise(kind: str, seconds: float, level_dbfs: float, seed: int = 0) -> np.ndarray:
    """Steady background noise at an RMS level: white, brown (integrated white, 1/f^2), pink (1/f),
    hum (50 Hz mains and harmonics), babble (six voices) or crowd (eight others, other words)."""
    n = int(seconds * RATE)
    rng = np.random.default_rng(seed)
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "brown":  # white noise integrated, leaking below 20 Hz so that it does not wander off
        from scipy.signal import lfilter
        x = lfilter([1.0], [1.0, -(1 - 2 * np.pi * 20 / RATE)], rng.standard_normal(n))
    elif kind == "pink":  # white noise's spectrum shaped to 1/f in power (flat below 20 Hz)
        f = np.fft.rfftfreq(n, 1 / RATE)
        x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.maximum(f, 20.0)), n)
    elif kind == "hum":
        t = np.arange(n) / RATE
        x = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in (1, 2, 3, 5))
    elif kind in ("babble", "crowd"):
        said = zip(BABBLE, BABBLE_VOICES) if kind == "babble" else zip(CROWD, CROWD_VOICES)
        voices = [speak(s, v) for s, v in said]
        x = np.zeros(n)
        for i, v in enumerate(voices):  # each voice on a loop, at its own offset
            reps = np.tile(np.concatenate([v, np.zeros(RATE // 3, np.float32)]), n // len(v) + 2)
            off = int(rng.integers(0, len(v)))
            x += reps[off:off + n]
    elif kind == "none":
        return np.zeros(n, np.float32)
    else:
        raise ValueError(f"unknown noise {kind!r} (white, brown, pink, hum, babble, crowd, none)")
    x = np.asarray(x, np.float64)
    if kind in ("brown", "pink"):  # no DC: what is left of it is the lowest, slowest part of the noise
        x = x - x.mean()
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    return (x / rms * 10 ** (level_dbfs / 20)).astype(np.float32)


@dataclass
class TestCall:
    name: str
    turns: list[tuple[str, str]]
    voice: str
    noise: str = "white"
    level_dbfs: float = -50.0
    telephone: bool = False  # 8 kHz mu-law, 300-3400 Hz
    gap_s: float = 1.5
    speech_db: float = -3.0  # the caller's peak level (a quiet line is -15 or lower)
    rate_wpm: int | None = None  # the voice's speaking rate (None: the engine's usual, about 160)


def render(call: TestCall, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The call's 16 kHz audio and each turn's (start, end) in seconds."""
    parts, spans, t = [np.zeros(RATE // 2, np.float32)], [], 0.5
    for text, _ in call.turns:
        speech = trim(speak(text, call.voice, call.rate_wpm)) * 10 ** ((call.speech_db + 3) / 20)
        spans.append((round(t, 3), round(t + len(speech) / RATE, 3)))
        parts += [speech, np.zeros(int(call.gap_s * RATE), np.float32)]
        t += len(speech) / RATE + call.gap_s
    audio = np.concatenate(parts)
    audio = audio + noise(call.noise, len(audio) / RATE, call.level_dbfs, seed)
    if call.telephone:
        audio = telephone_band(audio)
    return np.clip(audio, -1, 1).astype(np.float32), spans


def cough(seed: int = 0) -> np.ndarray:
    """A cough: a burst of band-passed noise, sharp attack, 80 ms decay, twice (no voicing)."""
    from scipy.signal import butter, sosfilt
    rng = np.random.default_rng(seed)
    n = int(0.35 * RATE)
    sos = butter(2, [300, 2500], btype="band", fs=RATE, output="sos")
    env = np.exp(-np.arange(n) / (0.08 * RATE)) * (1 - np.exp(-np.arange(n) / 80))
    one = sosfilt(sos, rng.standard_normal(n)) * env
    x = np.concatenate([one, np.zeros(RATE // 8), 0.7 * one])
    return (0.6 * x / np.abs(x).max()).astype(np.float32)


def telephone_band(audio: np.ndarray) -> np.ndarray:
    """300-3400 Hz, as a phone line passes it (still at 16 kHz)."""
    from scipy.signal import butter, sosfiltfilt
    sos = butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    return sosfiltfilt(sos, audio).astype(np.float32)


def trim(speech: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """Cut the synthesizer's own leading and trailing silence, so gaps are what we set."""
    loud = np.flatnonzero(np.abs(speech) > floor)
    if not len(loud):
        return speech
    return speech[max(0, loud[0] - 160):loud[-1] + 160]


def write_call(call: TestCall, out_dir: str | Path, seed: int = 0) -> Path:
    """Write `<name>.wav` and its reference `<name>.txt` (turn text, tab, intent, tab, the
    turn's start and end in seconds)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    audio, spans = render(call, seed)
    path = out_dir / f"{call.name}.wav"
    with atomic_path(path) as tmp:
        if call.telephone:
            sf.write(tmp, resample(audio, RATE, 8000), 8000, subtype="ULAW", format="WAV")
        else:
            sf.write(tmp, audio, RATE, subtype="PCM_16", format="WAV")
    atomic_write_text(out_dir / f"{call.name}.txt", "".join(  # text, intent, start and end (voicebot.bench.score)
        f"{t}\t{i or ''}\t{a:.2f} {b:.2f}\n" for (t, i), (a, b) in zip(call.turns, spans)))
    return path


def default_calls(noises=("white", "hum", "babble"), levels=(-50.0,), rounds: int = 1,
                  held_out: bool = False) -> list[TestCall]:
    """The standard set: each script `rounds` times; voices, noises, levels and the caller's
    level (loud, then 12 dB quieter) in turn; every other call by phone. `held_out`: the
    HELD_OUT scripts, each with another voice."""
    scripts = HELD_OUT if held_out else SCRIPTS
    voices = VOICES[3:] + VOICES[:3] if held_out else VOICES
    calls = []
    for n in range(rounds * len(scripts)):
        turns = scripts[n % len(scripts)]
        kind = noises[n % len(noises)]
        # babble is speech: at the level of steady noise it is inaudible; -20 dB under the caller
        tel = n % 2 == 1
        speech_db = -3.0 if n // len(scripts) % 2 == 0 else -15.0
        level = levels[n // len(noises) % len(levels)]
        if kind == "babble":  # other voices: 20 dB (15 dB at the louder level) under the caller
            level = speech_db - 15 - (20 if level <= -45 else 15)
        calls.append(TestCall(f"call{n + 1:02d}_{kind}{int(-level)}_{'8k' if tel else '16k'}"
                              f"{'_quiet' if speech_db < -3 else ''}", turns, voices[n % len(voices)],
                              kind, level, tel, speech_db=speech_db))
    return calls


def named_calls(name: str, noises=("white", "hum", "babble"), levels=(-50.0,), rounds: int = 1) -> list[TestCall]:
    """One of SETS by name: "default" and "held-out" as default_calls makes them (with `noises`,
    `levels` and `rounds`), the others call by call as voicebot.bench.scripts writes them."""
    if name not in SETS:
        raise ValueError(f"unknown set {name!r} ({', '.join(SETS)})")
    if SETS[name] is None:
        return default_calls(noises, levels, rounds, held_out=name == "held-out")
    return [TestCall(f"call{n + 1:02d}_{c['noise']}{int(-c['level_dbfs'])}_{'8k' if c['telephone'] else '16k'}"
                     f"{'_quiet' if c['speech_db'] < -3 else ''}", **c) for n, c in enumerate(SETS[name])]
