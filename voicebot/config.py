"""One typed configuration object, loadable from YAML.

Every section is a dataclass with defaults, so a YAML file only names what it changes:

    device: auto
    asr: {backend: faster-whisper, model: base}
    vad: {engine: silero, hangover_ms: 400}
    tts: {engine: piper, sample_rate: 8000}
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from asr.vad import VADSettings


@dataclass
class AudioConfig:
    frame_ms: int = 30
    channel: int | None = None  # which channel of a stereo call is the caller; None mixes down


@dataclass
class ASRConfig:
    backend: str = "faster-whisper"  # faster-whisper | openai-whisper
    model: str = "base"  # tiny.en, base, a hub name, or a local path
    compute_type: str = "auto"  # int8 on CPU, float16 on GPU
    beam_size: int = 1
    threads: int = 0  # 0: the library's default
    short_context: bool = True  # encode the utterance's own length, not a padded 30 s window
    margin_s: float = 1.0
    max_tokens_per_s: float = 8.0
    no_speech_threshold: float = 0.6


@dataclass
class NLUConfig:
    model: str = "auto"  # auto (models/nlu when trained, else baseline) | baseline | a model directory


@dataclass
class DialogueConfig:
    domain: str | None = None  # a domain YAML; None: nlu/domain.yml
    db_url: str | None = None  # SQLAlchemy URL of the order database; None: the sample orders, in memory


@dataclass
class TTSConfig:
    engine: str = "piper"  # piper | coqui
    voice: str | None = None  # a Piper .onnx voice or a Coqui model name/directory; None: bundled
    length_scale: float | None = None
    sample_rate: int | None = None  # output rate; None: the voice's own
    # a first sentence longer than this is spoken in two pieces, cut at its first comma, so
    # the caller hears the reply start sooner (measured: 692 -> 106 ms); 0 turns it off
    first_piece_chars: int = 40


@dataclass
class LiveConfig:
    """Turn-taking in live calls (voicebot.live). Times are of call audio."""
    # the VAD engine for live audio (the rest of the `vad` section applies): webrtc takes steady
    # noise for speech (measured: white noise at -60 dBFS or mains hum at -50 is one endless
    # utterance), Silero does not; "" keeps the vad section's engine
    vad_engine: str = "silero"
    short_pause_ms: int = 150  # the VAD hangover: a pause this long starts a speculative transcript
    # silence that ends a turn, chosen from the speculative words: a confident request of three
    # words or more; a confident answer of one or two (they often go on: "Yes, please cancel it");
    # anything else; after a trailing filler or an unfinished phrase ("my order number is")
    complete_ms: int = 350
    short_answer_ms: int = 500
    silence_ms: int = 700
    incomplete_ms: int = 1500
    confident: float = 0.8  # intent confidence of a complete request
    barge_in: str = "on"  # on | off | cautious
    min_voiced_ms: int = 250  # caller speech this long over the bot's voice is looked at (on)
    cautious_voiced_ms: int = 700  # ... in cautious mode, which also wants two words that are not a backchannel
    echo_max_delay_ms: int = 400  # where to look for the bot's own voice in the microphone
    greet: bool = True


@dataclass
class Config:
    device: str = "auto"  # auto | cpu | cuda
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VADSettings = field(default_factory=VADSettings)
    asr: ASRConfig = field(default_factory=ASRConfig)
    nlu: NLUConfig = field(default_factory=NLUConfig)
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    live: LiveConfig = field(default_factory=LiveConfig)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "Config":
        return _build(cls, data or {}, source)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Config":
        if path is None:
            return cls()
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text())
        except FileNotFoundError:
            raise ValueError(f"{p}: no such config file") from None
        except yaml.YAMLError as e:
            raise ValueError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"{p}: a config file must be a mapping of sections")
        return cls.from_dict(data or {}, str(p))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(fields)})")
    values = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            values[name] = _build(type(default), value or {}, f"{where}.{name}")
        else:
            values[name] = value
    return cls(**values)
